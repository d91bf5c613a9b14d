// One RTCPeerConnection to one other member, negotiated with the "perfect negotiation" pattern
// (W3C webrtc-pc, section 10.5 "Perfect negotiation example"): either side may make an offer;
// on a collision the polite peer rolls back and answers, the impolite one ignores the offer.
//
// A peer connection is one "session" with an id (`sid`) carried in every signal, so that a
// new connection (after a reload or a lost network) is told apart from the old one; mesh.ts
// decides which session wins.

import { Serial } from "./serial";
import type { SignalType } from "./types";

export interface PeerOptions {
  /** The other user's id. */
  them: string;
  polite: boolean;
  sid: string;
  /** True when this side made the session (and so its transceivers and first offer). */
  createdByMe: boolean;
  iceServers: RTCIceServer[];
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  send: (type: SignalType, data: object) => void;
  /** The remote tracks or the connection state changed. */
  changed: () => void;
}

type Description = { type: RTCSdpType; sdp?: string };

export class Peer {
  readonly pc: RTCPeerConnection;
  readonly them: string;
  readonly sid: string;
  readonly createdByMe: boolean;
  /** What the other side sends, one audio and one video track. */
  readonly stream = new MediaStream();
  /** Whether a remote description was ever set: the other side knows this session. */
  answered = false;
  /** When the connection last went into `failed`, or null. */
  failedSince: number | null = null;
  private readonly polite: boolean;
  private readonly send: PeerOptions["send"];
  private readonly changed: () => void;
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  private pendingCandidates: RTCIceCandidateInit[] = [];
  /** Signals are handled one at a time, in the order they came. */
  private readonly steps: Serial;
  private closed = false;
  private tracks: { audio: MediaStreamTrack | null; video: MediaStreamTrack | null };

  constructor(options: PeerOptions) {
    this.them = options.them;
    this.sid = options.sid;
    this.polite = options.polite;
    this.createdByMe = options.createdByMe;
    this.send = options.send;
    this.changed = options.changed;
    this.tracks = { audio: options.audio, video: options.video };
    this.steps = new Serial(`Peer(${this.them}) signalling step`, () => this.closed);
    const pc = new RTCPeerConnection({ iceServers: options.iceServers });
    this.pc = pc;

    pc.onnegotiationneeded = () => this.steps.add(() => this.offer());
    pc.onicecandidate = ({ candidate }) => {
      // The end of candidates (null) is not sent: nothing waits for it.
      if (candidate) this.send("candidate", { ...candidate.toJSON(), sid: this.sid });
    };
    pc.oniceconnectionstatechange = () => {
      // W3C webrtc-pc 4.4.1.6: on failure, restart ICE; negotiationneeded then makes the offer.
      if (pc.iceConnectionState === "failed") pc.restartIce();
    };
    pc.onconnectionstatechange = () => {
      this.failedSince = pc.connectionState === "failed" ? (this.failedSince ?? Date.now()) : null;
      this.changed();
    };
    pc.ontrack = ({ track }) => {
      for (const old of this.stream.getTracks()) {
        if (old.kind === track.kind && old !== track) this.stream.removeTrack(old);
      }
      if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
      track.onunmute = () => this.changed();
      this.changed();
    };

    if (options.createdByMe) {
      // The maker adds one audio and one video transceiver, with or without a track, so the
      // two connect even with cameras off; turning a camera on later is a replaceTrack.
      pc.addTransceiver(options.audio ?? "audio", { direction: "sendrecv" });
      pc.addTransceiver(options.video ?? "video", { direction: "sendrecv" });
    }
  }

  get state(): RTCPeerConnectionState {
    return this.pc.connectionState;
  }

  /** Send these tracks from now on (no renegotiation: the transceivers are already there). */
  setTracks(audio: MediaStreamTrack | null, video: MediaStreamTrack | null): void {
    this.tracks = { audio, video };
    if (this.closed) return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.currentDirection === "stopped") continue;
      const kind = transceiver.receiver.track.kind;
      const track = kind === "audio" ? audio : video;
      if (transceiver.sender.track !== track) {
        transceiver.sender.replaceTrack(track).catch((error: unknown) => {
          console.warn(`Peer(${this.them}) replaceTrack(${kind}) failed`, error);
        });
      }
    }
  }

  receive(type: SignalType, data: Record<string, unknown>): void {
    this.steps.add(() => (type === "candidate" ? this.candidate(data) : this.description(data)));
  }

  /** Send our pending offer again (its first copy may have been lost). */
  resendOffer(): void {
    const local = this.pc.localDescription;
    if (local && this.pc.signalingState === "have-local-offer") {
      this.send("offer", { type: local.type, sdp: local.sdp, sid: this.sid });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
    for (const track of this.stream.getTracks()) track.stop();
  }

  private async offer(): Promise<void> {
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local) this.send("offer", { type: local.type, sdp: local.sdp, sid: this.sid });
    } finally {
      this.makingOffer = false;
    }
  }

  private async description(data: Record<string, unknown>): Promise<void> {
    const description: Description = { type: data.type as RTCSdpType, sdp: String(data.sdp ?? "") };
    const pc = this.pc;
    const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
    const collision = description.type === "offer" && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
    this.settingRemoteAnswer = description.type === "answer";
    try {
      await pc.setRemoteDescription(description); // the polite peer's rollback is implicit
    } finally {
      this.settingRemoteAnswer = false;
    }
    this.answered = true;
    if (description.type === "offer") {
      this.sendOnOfferedTransceivers();
      await pc.setLocalDescription();
      const local = pc.localDescription;
      if (local) this.send("answer", { type: local.type, sdp: local.sdp, sid: this.sid });
    }
    for (const candidate of this.pendingCandidates.splice(0)) await this.addCandidate(candidate);
  }

  /** Transceivers the other side's offer made are receive-only: send our tracks on them too. */
  private sendOnOfferedTransceivers(): void {
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.currentDirection === "stopped" || transceiver.direction === "stopped") continue;
      if (transceiver.direction === "recvonly") transceiver.direction = "sendrecv";
    }
    this.setTracks(this.tracks.audio, this.tracks.video);
  }

  private async candidate(data: Record<string, unknown>): Promise<void> {
    const { sid: _sid, ...init } = data;
    const candidate = init as RTCIceCandidateInit;
    // Signals are relayed by the server in separate tasks: a candidate can overtake its offer.
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  private async addCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      if (!this.ignoreOffer) console.warn(`Peer(${this.them}) addIceCandidate failed`, error);
    }
  }
}
