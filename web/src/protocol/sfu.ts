// One SFU media session of one room (docs/protocol.md, "Media through the server"): a single
// RTCPeerConnection to the server process holding the room's media, carrying this page's
// microphone, camera and screen up and every forwarded source down. No DOM.
//
// The server is always the offerer; this side only answers, so there is no glare to resolve.
// The first three m-lines are ours to publish on (mid "0" microphone, "1" camera, "2" screen):
// the answer makes them `sendonly` and puts our tracks on them with replaceTrack, so turning a
// camera on, or switching between camera and screen, needs no renegotiation. Every later
// m-line is a slot on which the server forwards one member's source; `tracks` says whose.
// Slots are reused for other publishers, so a remote track is known by its transceiver's mid,
// never by the stream ids in the SDP (they go stale).

import { type Connection, RequestError } from "./connection";
import { Emitter } from "./emitter";
import { Serial } from "./serial";
import type {
  Description,
  ErrorInfo,
  MediaPlace,
  SfuOfferEvent,
  SfuTracksEvent,
  Source,
  Track,
} from "./types";

/** The m-lines this side publishes on, by mid (fixed by the server's first offer). */
const PUBLISH: ReadonlyMap<string, Source> = new Map([
  ["0", "mic"],
  ["1", "camera"],
  ["2", "screen"],
]);

/** Failed joins in a row (without getting connected) before the session gives up. */
const MAX_ATTEMPTS = 8;
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 10_000;
/**
 * Codes of a failed `sfu:join` that a later attempt can cure (`moved` here: to a holder without
 * a URL, a deployment mistake that may be mended).
 */
const TRANSIENT = new Set(["timeout", "unavailable", "internal", "rate_limited", "moved"]);

/** The connection the session talks over: the main one, or a media connection (2.2). */
export type SfuLink = Pick<Connection, "request" | "connected">;

/** What this page sends in the room: a track per source, null for none. */
export type LocalSources = Record<Source, MediaStreamTrack | null>;

export const NO_SOURCES: LocalSources = { mic: null, camera: null, screen: null };

/** One forwarded source as this page receives it. */
export interface RemoteSource {
  user: string;
  source: Source;
  mid: string;
  track: MediaStreamTrack;
}

interface SfuEvents {
  /** A member's source now arrives on `track` (new, or moved to another slot). */
  added: RemoteSource;
  /** A member's source no longer arrives on `track`. */
  removed: RemoteSource;
  /** The peer connection's state, or whether media flows on a track, changed. */
  changed: void;
  /** `sfu:join` answered `moved`: the room's media is on the server process at `url`. */
  moved: MediaPlace & { url: string };
  /** The session gave up: refused, or too many failed attempts. `start()` tries again. */
  failed: ErrorInfo;
}

function isPlace(value: unknown): value is MediaPlace {
  if (typeof value !== "object" || value === null) return false;
  const place = value as Record<string, unknown>;
  return typeof place.mode === "string" && typeof place.epoch === "number";
}

export class SfuSession extends Emitter<SfuEvents> {
  private pc: RTCPeerConnection | null = null;
  /** Whose source arrives on each slot, from the latest `tracks`. */
  private readonly mids = new Map<string, Track>();
  /** The sources arriving now, by `user/source`. */
  private sources = new Map<string, RemoteSource>();
  /** Per member: one stream of their screen (else camera) and microphone, as a tile plays it. */
  private readonly composed = new Map<string, MediaStream>();
  private local: LocalSources = NO_SOURCES;
  /** The version of the offer last answered. */
  private version = 0;
  /** An `sfu:join` is on its way: events until its ack belong to the session it replaces. */
  private joining = false;
  /** The first answer was acknowledged: the server has the session, candidates may go. */
  private answered = false;
  private candidates: Array<RTCIceCandidateInit | null> = [];
  private attempts = 0;
  /** `start()` was called, and the session has not given up since. */
  private started = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Joins, answers and slot changes run one at a time, in the order they came. */
  private readonly steps: Serial;
  private closed = false;

  constructor(
    readonly room: string,
    readonly link: SfuLink,
  ) {
    super();
    this.steps = new Serial(`SfuSession(${room}) step`, () => this.closed);
  }

  get state(): RTCPeerConnectionState {
    return this.pc?.connectionState ?? "new";
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  /** Started, and neither closed nor given up: it has a session, or is making one. */
  get active(): boolean {
    return this.started && !this.closed;
  }

  /** Join (again): a new session replaces any old one. Resets the count of failed attempts. */
  start(): void {
    if (this.closed) return;
    this.started = true;
    this.attempts = 0;
    this.join();
  }

  /** The link dropped: the server closed the session with it; wait for `start()`. */
  pause(): void {
    clearTimeout(this.retryTimer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    const had = this.pc !== null || this.joining;
    this.drop();
    if (had && this.link.connected) {
      this.link.request("sfu:leave", { room: this.room }).catch(() => undefined);
    }
  }

  /** Send these tracks from now on: a replaceTrack on each publishing m-line, no renegotiation. */
  setLocal(sources: LocalSources): void {
    this.local = sources;
    for (const transceiver of this.pc?.getTransceivers() ?? []) {
      const source = transceiver.mid === null ? undefined : PUBLISH.get(transceiver.mid);
      if (!source || transceiver.sender.track === sources[source]) continue;
      transceiver.sender.replaceTrack(sources[source]).catch((error: unknown) => {
        console.warn(`SfuSession(${this.room}) replaceTrack(${source}) failed`, error);
      });
    }
  }

  /** `sfu:offer`: a renegotiation (new slots). */
  offer(event: SfuOfferEvent): void {
    const pc = this.pc;
    if (this.joining || !pc) return; // for the session being replaced
    this.steps.add(async () => {
      if (pc !== this.pc || event.version <= this.version) return;
      this.setTracks(event.tracks);
      await this.answer(pc, event.version, event.offer);
    });
  }

  /** `sfu:tracks`: slots reassigned without new m-lines. */
  tracks(event: SfuTracksEvent): void {
    const pc = this.pc;
    if (this.joining || !pc) return;
    // Queued, so that it applies after an offer that came before it.
    this.steps.add(async () => {
      if (pc !== this.pc) return;
      this.setTracks(event.tracks);
      this.refresh();
    });
  }

  /** `sfu:closed`: the server dropped the session; make a new one. */
  closedByServer(reason: string): void {
    if (this.joining || !this.pc) return; // the old session, closed by our own new join
    console.info(`SfuSession(${this.room}) closed by the server (${reason}); joining again`);
    this.retry();
  }

  /** What arrives now, by `user/source`. */
  remote(): ReadonlyMap<string, RemoteSource> {
    return this.sources;
  }

  /** A member's screen (else camera) and microphone as one stream, or null if none arrives. */
  media(user: string): MediaStream | null {
    return this.composed.get(user) ?? null;
  }

  /** Every member something arrives from, with their stream. */
  streams(): ReadonlyMap<string, MediaStream> {
    return this.composed;
  }

  /** Media from `user` really flows: some track of theirs has had packets (is not muted). */
  receiving(user: string): boolean {
    for (const remote of this.sources.values()) {
      if (remote.user === user && !remote.track.muted) return true;
    }
    return false;
  }

  private join(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.steps.add(() => this.joinNow());
  }

  private async joinNow(): Promise<void> {
    this.drop();
    if (this.closed || !this.link.connected) return; // the owner starts again when it is back
    this.joining = true;
    // For measuring join-to-first-frame in the page (tests, devtools' performance panel).
    performance.mark("percolate:sfu:join", { detail: { room: this.room } });
    let ack;
    try {
      ack = await this.link.request("sfu:join", { room: this.room });
    } catch (error) {
      this.joinFailed(error);
      return;
    } finally {
      this.joining = false;
    }
    if (this.closed) {
      this.link.request("sfu:leave", { room: this.room }).catch(() => undefined);
      return;
    }
    const pc = this.connect(ack.ice_servers);
    this.setTracks(ack.tracks);
    await this.answer(pc, ack.version, ack.offer);
  }

  private joinFailed(error: unknown): void {
    const code = error instanceof RequestError ? error.code : "internal";
    const message = error instanceof Error ? error.message : String(error);
    const place = error instanceof RequestError ? error.detail.media : undefined;
    if (code === "moved" && isPlace(place) && typeof place.url === "string") {
      this.emit("moved", { ...place, url: place.url });
      return;
    }
    if (code === "offline") return; // joined again once the link is back
    console.warn(`SfuSession(${this.room}) sfu:join failed: ${code} ${message}`);
    if (TRANSIENT.has(code)) this.retry();
    else this.giveUp({ code, message });
  }

  private connect(iceServers: RTCIceServer[]): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    this.version = 0;
    this.answered = false;
    this.candidates = [];
    pc.onicecandidate = ({ candidate }) => {
      if (pc !== this.pc) return;
      // An empty candidate marks the end of one generation (W3C webrtc-pc 4.8.1): not sent;
      // null, the end of them all, is.
      if (candidate && !candidate.candidate) return;
      const init = candidate ? candidate.toJSON() : null;
      if (this.answered) this.sendCandidate(init);
      else this.candidates.push(init);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") this.attempts = 0;
      this.emit("changed", undefined);
      if (pc.connectionState === "failed") {
        // The server offers all its candidates at once and never restarts ICE: a new session.
        console.info(`SfuSession(${this.room}) connection failed; joining again`);
        this.retry();
      }
    };
    pc.ontrack = ({ track }) => {
      if (pc !== this.pc) return;
      // A slot's track is muted until its first packets come, and again when they stop.
      track.onunmute = () => this.emit("changed", undefined);
      track.onmute = () => this.emit("changed", undefined);
      this.refresh();
    };
    return pc;
  }

  /** Answer the server's offer `version`: the only kind of negotiation this side does. */
  private async answer(pc: RTCPeerConnection, version: number, offer: Description): Promise<void> {
    try {
      await pc.setRemoteDescription(offer);
      for (const transceiver of pc.getTransceivers()) {
        const source = transceiver.mid === null ? undefined : PUBLISH.get(transceiver.mid);
        if (!source) continue;
        // Before the answer is made, so that the answer says `sendonly` and carries our tracks.
        transceiver.direction = "sendonly";
        const track = this.local[source];
        if (transceiver.sender.track !== track) await transceiver.sender.replaceTrack(track);
      }
      await pc.setLocalDescription(await pc.createAnswer());
    } catch (error) {
      if (pc !== this.pc) return; // closed meanwhile
      console.warn(`SfuSession(${this.room}) cannot answer offer ${version}`, error);
      this.retry();
      return;
    }
    this.version = version;
    this.refresh();
    const local = pc.localDescription;
    if (!local) return;
    try {
      await this.link.request("sfu:answer", {
        room: this.room,
        version,
        answer: { type: local.type, sdp: local.sdp },
      });
    } catch (error) {
      if (pc !== this.pc) return;
      const code = error instanceof RequestError ? error.code : "internal";
      if (code === "offline") return;
      // No session any more, or the server could not use the answer: a new session.
      console.warn(`SfuSession(${this.room}) sfu:answer ${version} failed`, error);
      this.retry();
      return;
    }
    if (pc !== this.pc || this.answered) return;
    this.answered = true;
    for (const candidate of this.candidates.splice(0)) this.sendCandidate(candidate);
  }

  private sendCandidate(candidate: RTCIceCandidateInit | null): void {
    this.link.request("sfu:candidate", { room: this.room, candidate }).catch((error: unknown) => {
      console.warn(`SfuSession(${this.room}) sfu:candidate failed`, error);
    });
  }

  private setTracks(tracks: Track[]): void {
    this.mids.clear();
    for (const track of tracks) this.mids.set(track.mid, track);
  }

  /** Work out what arrives from whom, from the transceivers and the latest `tracks`. */
  private refresh(): void {
    const now = new Map<string, RemoteSource>();
    for (const transceiver of this.pc?.getTransceivers() ?? []) {
      const mid = transceiver.mid;
      if (mid === null || PUBLISH.has(mid)) continue;
      const owner = this.mids.get(mid);
      if (!owner) continue;
      const track = transceiver.receiver.track;
      if ((owner.source === "mic") !== (track.kind === "audio")) continue; // not the kind promised
      now.set(`${owner.user}/${owner.source}`, { user: owner.user, source: owner.source, mid, track });
    }
    const before = this.sources;
    this.sources = now;
    const gone: RemoteSource[] = [];
    const come: RemoteSource[] = [];
    for (const [key, old] of before) if (now.get(key)?.track !== old.track) gone.push(old);
    for (const [key, remote] of now) if (before.get(key)?.track !== remote.track) come.push(remote);
    if (gone.length === 0 && come.length === 0) return;
    this.compose();
    for (const remote of gone) this.emit("removed", remote);
    for (const remote of come) this.emit("added", remote);
    this.emit("changed", undefined);
  }

  /**
   * Keep each member's stream holding what it should. The stream stays the same object while
   * anything of theirs arrives, its tracks swapped in place (as a mesh peer's are), so that a
   * tile playing it is not reloaded when a slot moves or a source comes or goes.
   */
  private compose(): void {
    const wanted = new Map<string, { video: MediaStreamTrack | null; audio: MediaStreamTrack | null }>();
    for (const remote of this.sources.values()) {
      const entry = wanted.get(remote.user) ?? { video: null, audio: null };
      if (remote.source === "mic") entry.audio = remote.track;
      // The screen wins over the camera, as in the mesh, where a member sends one or the other.
      else if (remote.source === "screen" || entry.video === null) entry.video = remote.track;
      wanted.set(remote.user, entry);
    }
    for (const user of [...this.composed.keys()]) if (!wanted.has(user)) this.composed.delete(user);
    for (const [user, { video, audio }] of wanted) {
      let stream = this.composed.get(user);
      if (!stream) {
        stream = new MediaStream();
        this.composed.set(user, stream);
      }
      for (const track of stream.getTracks()) {
        if (track !== video && track !== audio) stream.removeTrack(track);
      }
      for (const track of [video, audio]) {
        if (track && !stream.getTracks().includes(track)) stream.addTrack(track);
      }
    }
  }

  /** After a failure: join again, at once the first time, then backing off. */
  private retry(): void {
    if (this.closed) return;
    this.drop();
    this.attempts += 1;
    if (this.attempts > MAX_ATTEMPTS) {
      this.giveUp({ code: "failed", message: "the media connection could not be made" });
      return;
    }
    const backoff = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.attempts - 2));
    const delay = this.attempts === 1 ? 0 : backoff * (0.5 + Math.random());
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.join(), delay);
  }

  private giveUp(error: ErrorInfo): void {
    this.started = false;
    this.emit("failed", error);
  }

  /** Close the peer connection; what arrived on it is gone. */
  private drop(): void {
    const pc = this.pc;
    if (!pc) return;
    this.pc = null;
    pc.close();
    this.mids.clear();
    this.version = 0;
    this.answered = false;
    this.candidates = [];
    this.refresh();
    this.emit("changed", undefined);
  }
}
