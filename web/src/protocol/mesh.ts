// The peer connections of one video room: one Peer per other member (a full mesh), over the
// server's `signal` relay.
//
// Who makes a connection, deterministically:
// - a member already in the room makes one to each newcomer (on `presence` join);
// - a newcomer makes one to any member that has not reached it within a few seconds (the
//   others may not have seen it join: a reload within the reconnect grace is no `join`);
// - after a lost connection, this side makes new ones to everybody it is not connected to.
// Every connection is a session with a random id (`sid`) in every signal. An offer of a new
// session replaces the old connection (the other side has dropped it), except when both sides
// made a new one at once: then the impolite side's session wins.
// Polite peer: the one with the smaller user id.
// In a workshop only pairs with somebody on stage connect (`members` lists the wanted ones);
// when a role changes, `reconcile` drops the connections no longer wanted, and the members
// who were there make the connections to the one whose role changed, as for a newcomer.

import type { LocalMedia } from "./media";
import { Peer } from "./peer";
import type { SignalEvent, SignalType } from "./types";

/** How long a newcomer waits for the others' offers before making connections itself. */
const NEWCOMER_WAIT_MS = 3_000;
/** A connection failed for this long despite ICE restarts is replaced by a new one. */
const FAILED_REPLACE_MS = 15_000;
const CHECK_EVERY_MS = 5_000;

export type SendSignal = (to: string, type: SignalType, data: object) => void;

function newSid(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(36).padStart(2, "0")).join("");
}

export class Mesh {
  readonly peers = new Map<string, Peer>();
  private me = "";
  private iceServers: RTCIceServer[] = [];
  private ready = false;
  /** Signals that came before the join ack (which brings the ICE servers). */
  private early: SignalEvent[] = [];
  /** Per user: sessions closed here; their late signals are dropped. */
  private closedSids = new Map<string, Set<string>>();
  /** Per user: candidates of a session whose offer has not come yet. */
  private waiting = new Map<string, Array<{ sid: string; data: Record<string, unknown> }>>();
  private members: () => string[] = () => [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private newcomerTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly room: string,
    private readonly media: LocalMedia,
    private readonly sendSignal: SendSignal,
    private readonly changed: (user: string) => void,
    /** False for a workshop's audience: no camera or microphone leaves this page here. */
    private readonly canPublish: () => boolean = () => true,
  ) {}

  /**
   * Start (or restart, after a lost connection) with the join ack's ICE servers.
   * `members` lists the other members present now that this page should connect to.
   */
  start(me: string, iceServers: RTCIceServer[], members: () => string[], rejoin: boolean): void {
    this.me = me;
    this.iceServers = iceServers;
    this.members = members;
    this.ready = true;
    for (const signal of this.early.splice(0)) this.receive(signal);
    const present = new Set(members());
    for (const user of [...this.peers.keys()]) if (!present.has(user)) this.remove(user);
    if (rejoin) {
      // Connections that still carry media survived the lost socket; the others are remade.
      for (const user of present) {
        if (this.peers.get(user)?.state !== "connected") this.connect(user);
      }
    } else {
      clearTimeout(this.newcomerTimer);
      this.newcomerTimer = setTimeout(() => this.ensure(), NEWCOMER_WAIT_MS);
    }
    clearInterval(this.timer);
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
  }

  /** The socket dropped: hold signals until the room is joined again. */
  pause(): void {
    this.ready = false;
  }

  /** Make a new session to `user`, replacing any old one. */
  connect(user: string): void {
    if (user === this.me || !this.ready) return;
    this.replace(user, newSid(), true);
  }

  /** Connect to each member that has no connection yet. */
  ensure(): void {
    if (!this.ready) return;
    for (const user of this.members()) if (!this.peers.has(user)) this.connect(user);
  }

  remove(user: string): void {
    const peer = this.peers.get(user);
    if (!peer) return;
    this.forget(peer);
    this.peers.delete(user);
    this.waiting.delete(user);
    this.changed(user);
  }

  receive(signal: SignalEvent): void {
    if (!this.ready) {
      this.early.push(signal);
      return;
    }
    const data = signal.data;
    if (typeof data !== "object" || data === null) return;
    const fields = data as Record<string, unknown>;
    const sid = fields.sid;
    if (typeof sid !== "string" || signal.from === this.me) return;
    const user = signal.from;
    const peer = this.peers.get(user);
    if (peer?.sid === sid) {
      peer.receive(signal.type, fields);
      return;
    }
    if (this.closedSids.get(user)?.has(sid)) return;
    if (signal.type === "candidate") {
      const list = this.waiting.get(user) ?? [];
      list.push({ sid, data: fields });
      this.waiting.set(user, list.slice(-50));
      return;
    }
    if (signal.type !== "offer") return; // an answer to a session we do not have
    const polite = this.me < user;
    if (peer && peer.createdByMe && !peer.answered && !polite) {
      // Both sides made a new session at once; ours wins. Our offer may have been lost
      // (sent while the other was not there yet), so send it again.
      peer.resendOffer();
      return;
    }
    const adopted = this.replace(user, sid, false);
    for (const candidate of this.waiting.get(user) ?? []) {
      if (candidate.sid === sid) adopted.receive("candidate", candidate.data);
    }
    this.waiting.delete(user);
    adopted.receive("offer", fields);
  }

  /** Whom to connect to changed: close the connections not wanted any more. */
  reconcile(): void {
    const wanted = new Set(this.members());
    for (const user of [...this.peers.keys()]) if (!wanted.has(user)) this.remove(user);
  }

  /** Local tracks changed (or whether they may be sent): every connection sends the new ones. */
  updateTracks(): void {
    const { audio, video } = this.tracks();
    for (const peer of this.peers.values()) peer.setTracks(audio, video);
  }

  private tracks(): { audio: MediaStreamTrack | null; video: MediaStreamTrack | null } {
    if (!this.canPublish()) return { audio: null, video: null };
    return { audio: this.media.audioTrack, video: this.media.videoTrack };
  }

  close(): void {
    clearInterval(this.timer);
    clearTimeout(this.newcomerTimer);
    for (const user of [...this.peers.keys()]) this.remove(user);
    this.ready = false;
    this.early = [];
  }

  private replace(user: string, sid: string, createdByMe: boolean): Peer {
    const old = this.peers.get(user);
    if (old) this.forget(old);
    const { audio, video } = this.tracks();
    const peer = new Peer({
      them: user,
      polite: this.me < user,
      sid,
      createdByMe,
      iceServers: this.iceServers,
      audio,
      video,
      send: (type, data) => this.sendSignal(user, type, data),
      changed: () => {
        if (this.peers.get(user) === peer) this.changed(user);
      },
    });
    this.peers.set(user, peer);
    this.changed(user);
    return peer;
  }

  private forget(peer: Peer): void {
    let closed = this.closedSids.get(peer.them);
    if (!closed) {
      closed = new Set();
      this.closedSids.set(peer.them, closed);
    }
    closed.add(peer.sid);
    peer.close();
  }

  private check(): void {
    if (!this.ready) return;
    this.ensure();
    const now = Date.now();
    for (const peer of this.peers.values()) {
      if (peer.failedSince !== null && now - peer.failedSince > FAILED_REPLACE_MS) {
        console.info(`Mesh(${this.room}) replacing the failed connection to ${peer.them}`);
        this.connect(peer.them);
      }
    }
  }
}
