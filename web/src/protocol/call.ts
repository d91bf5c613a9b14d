// The SFU side of one video room: where the room's media is (MediaPlace), its session (sfu.ts)
// on the right connection, and a coffee room's move from its mesh to the SFU without a reload
// (docs/sfu-design.md 2.2 and 2.7). No DOM.
//
// The move is make-before-break: the session is made and publishes while the mesh still
// carries everything; once its connection is up and media arrives through it from every member
// who publishes in the mesh, or SWITCH_WAIT_MS after it came up, the mesh is dropped. (Counted
// from `connected`, not from the `media` event: a loaded page or server can take seconds to
// connect, and the mesh is the only picture until then.)
//
// When the media is on another server process (`url` is not this page's server), the session
// runs on a media connection of its own: a second Socket.IO connection with the same token
// that joins the room there too; chat stays on the main connection.

import { Connection } from "./connection";
import { type LocalSources, SfuSession } from "./sfu";
import type { MediaPlace } from "./types";

/** How long the mesh may keep carrying a member the SFU does not deliver yet. */
const SWITCH_WAIT_MS = 3_000;
const RETRY_JOIN_MS = 3_000;

export interface CallOptions {
  room: string;
  /** The page's connection to its own server. */
  main: Connection;
  /** The display name, for a media connection's auth. */
  name: () => string;
  /** What this page sends in the room now (nothing for a workshop's audience). */
  sources: () => LocalSources;
  /** Members publishing through the mesh now: the SFU must deliver them before the mesh goes. */
  meshPublishers: () => string[];
  /** The SFU carries the room now: close the mesh. */
  dropMesh: () => void;
  /** Remote media or the connection's state changed. */
  changed: () => void;
}

/** Whether a media URL names the server this page talks to (`location`'s origin). */
function isHere(url: string): boolean {
  const here = globalThis.location?.href;
  if (!here) return false;
  try {
    const there = new URL(url, here);
    const protocol =
      there.protocol === "wss:" ? "https:" : there.protocol === "ws:" ? "http:" : there.protocol;
    return `${protocol}//${there.host}` === new URL(here).origin;
  } catch {
    return false;
  }
}

export class Call {
  session: SfuSession | null = null;
  /** The SFU carries this room's media: the mesh is gone (or never was). */
  carrying = false;
  private place: MediaPlace;
  /** The second connection, while the media is on another server process. */
  private media: Connection | null = null;
  /** The media connection has joined the room. */
  private mediaJoined = false;
  private unsubscribe: Array<() => void> = [];
  private switchTimer: ReturnType<typeof setTimeout> | undefined;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  /** SWITCH_WAIT_MS have passed since the session first connected during the move. */
  private waitOver = false;
  private closed = false;

  constructor(
    private readonly options: CallOptions,
    place: MediaPlace,
    /** A mesh carries the room now: make before break. Else the SFU carries it at once. */
    meshRunning: boolean,
  ) {
    this.place = place;
    this.carrying = !meshRunning;
    if (meshRunning) console.info(`Call(${options.room}) moving from the mesh to the SFU`);
  }

  get epoch(): number {
    return this.place.epoch;
  }

  /**
   * (Re)start on the main connection's (re)join: a session on the main connection died with
   * the old connection, so it joins again; one on a media connection that is still up stays.
   */
  start(place: MediaPlace): void {
    if (this.closed) return;
    if (place.epoch >= this.place.epoch) this.place = place;
    const url = this.mediaUrl();
    if (url !== null && this.session && this.media?.url === url && this.session.connected) return;
    this.attach(true);
  }

  /**
   * A newer place (`media` event, `media:state` ack) or the one a `moved` error names: follow
   * it if the media moved to another process; else the session goes on.
   */
  moveTo(place: MediaPlace, moved = false): void {
    if (this.closed || place.mode !== "sfu") return;
    if (place.epoch < this.place.epoch || (place.epoch === this.place.epoch && !moved)) return;
    const before = this.mediaUrl();
    this.place = place;
    if (this.mediaUrl() !== before || !this.session) this.attach(true);
  }

  /** The main connection dropped. */
  pause(): void {
    if (this.media === null) this.session?.pause();
  }

  /** Local tracks changed, or whether they may be sent here. */
  updateTracks(): void {
    this.session?.setLocal(this.options.sources());
  }

  /**
   * What a member's tile and audio play. "Connecting" is about this page's connection, as with
   * a mesh peer: a member who sends nothing is not shown as connecting.
   */
  remote(user: string): { stream: MediaStream | null; connecting: boolean } {
    return { stream: this.session?.media(user) ?? null, connecting: !this.session?.connected };
  }

  streams(): ReadonlyMap<string, MediaStream> {
    return this.session?.streams() ?? new Map();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.switchTimer);
    clearTimeout(this.joinTimer);
    this.detach();
    this.closeMediaConnection();
  }

  /** The URL of the media connection the place needs, or null for the main connection. */
  private mediaUrl(): string | null {
    const url = this.place.url;
    return url === null || isHere(url) ? null : url;
  }

  /** Make the session on the connection the place needs (replacing the old one), and join. */
  private attach(join: boolean): void {
    const url = this.mediaUrl();
    const link = url === null ? this.options.main : this.mediaConnection(url);
    if (url === null) this.closeMediaConnection();
    if (this.session?.link !== link) {
      this.detach();
      this.session = this.makeSession(link);
    }
    if (join && (link === this.options.main || this.mediaJoined)) this.session.start();
  }

  private makeSession(link: Connection): SfuSession {
    const room = this.options.room;
    const session = new SfuSession(room, link);
    session.setLocal(this.options.sources());
    this.unsubscribe = [
      link.on("sfuOffer", (event) => event.room === room && session.offer(event)),
      link.on("sfuTracks", (event) => event.room === room && session.tracks(event)),
      link.on("sfuClosed", (event) => event.room === room && session.closedByServer(event.reason)),
      session.on("changed", () => {
        this.check();
        this.options.changed();
      }),
      session.on("moved", (place) => this.moveTo(place, true)),
      session.on("failed", (error) => {
        console.warn(`Call(${room}) gave up on the SFU session: ${error.code} ${error.message}`);
      }),
    ];
    return session;
  }

  private detach(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.session?.close();
    this.session = null;
    this.options.changed();
  }

  /** Make before break: drop the mesh once the SFU delivers what it carried. */
  private check(): void {
    const session = this.session;
    if (this.carrying || this.closed || !session?.connected) return;
    const waiting = this.options.meshPublishers().filter((user) => !session.receiving(user));
    if (waiting.length > 0 && !this.waitOver) {
      this.switchTimer ??= setTimeout(() => {
        this.waitOver = true;
        this.check();
      }, SWITCH_WAIT_MS);
      return;
    }
    if (waiting.length > 0) {
      console.info(
        `Call(${this.options.room}) dropping the mesh before the SFU delivers ${waiting.join(", ")}`,
      );
    }
    clearTimeout(this.switchTimer);
    this.carrying = true;
    this.options.dropMesh();
    this.options.changed();
  }

  // The media connection

  private mediaConnection(url: string): Connection {
    if (this.media?.url === url) return this.media;
    this.closeMediaConnection();
    const connection = new Connection(url);
    this.media = connection;
    this.mediaJoined = false;
    connection.on("session", () => void this.joinThere(connection));
    connection.on("status", (status) => {
      if (status === "online" || connection !== this.media) return;
      this.mediaJoined = false;
      this.session?.pause();
    });
    connection.start(this.options.name());
    return connection;
  }

  /** `room:join` on the media connection (no passcode: the user is present, rule 7). */
  private async joinThere(connection: Connection): Promise<void> {
    const room = this.options.room;
    try {
      await connection.request("room:join", { room });
    } catch (error) {
      if (connection !== this.media) return;
      console.warn(`Call(${room}) room:join on the media connection ${connection.url} failed`, error);
      clearTimeout(this.joinTimer);
      this.joinTimer = setTimeout(
        () => connection.connected && void this.joinThere(connection),
        RETRY_JOIN_MS,
      );
      return;
    }
    if (connection !== this.media || this.closed) return;
    this.mediaJoined = true;
    if (this.session?.link === connection) this.session.start();
  }

  private closeMediaConnection(): void {
    const connection = this.media;
    if (!connection) return;
    this.media = null;
    this.mediaJoined = false;
    clearTimeout(this.joinTimer);
    const room = this.options.room;
    // Leave there first: that connection keeps the user present in the room otherwise.
    const leave = connection.connected
      ? connection.request("room:leave", { room }).catch(() => undefined)
      : Promise.resolve();
    void leave.finally(() => connection.close());
  }
}
