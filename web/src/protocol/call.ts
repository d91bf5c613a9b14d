// The SFU side of one video room: its session (sfu.ts) on the right connection, and a coffee
// room's move from its mesh to the SFU without a reload (docs/protocol.md, "Media through the
// server"). No DOM.
//
// The move is make-before-break: the session is made and publishes while the mesh still
// carries everything; once its connection is up and media arrives through it from every member
// who publishes in the mesh, or SWITCH_WAIT_MS after it came up, the mesh is dropped. (Counted
// from `connected`, not from the `media` event: a loaded page or server can take seconds to
// connect, and the mesh is the only picture until then.)
//
// The session starts on the page's own connection. If another server process holds the
// room's media, `sfu:join` answers `moved` with its URL: the session then runs on a media
// connection of its own, a second Socket.IO connection with the same token that joins the room
// there too; chat stays on the main connection. A page cannot tell from a URL whether its own
// connection reaches the holder (it may go through a load balancer under another name), so it
// never opens a media connection before a `moved` says so.

import { Connection } from "./connection";
import { type LocalSources, SfuSession } from "./sfu";
import type { ErrorInfo, MediaPlace } from "./types";

/** How long the mesh may keep carrying a member the SFU does not deliver yet. */
const SWITCH_WAIT_MS = 3_000;
const RETRY_JOIN_MS = 3_000;
/** After losing a media connection, the first wait before joining again from the main one. */
const FALL_BACK_MS = 500;
const FALL_BACK_MAX_MS = 10_000;

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
  /** `sfu:join` was refused (`forbidden`: a coffee room back on the mesh, or not in the room). */
  refused: (error: ErrorInfo) => void;
  /** Remote media or the connection's state changed. */
  changed: () => void;
}

export class Call {
  session: SfuSession | null = null;
  /** The SFU carries this room's media: the mesh is gone (or never was). */
  carrying: boolean;
  /** The second connection, after a `moved` named the process holding the media. */
  private media: Connection | null = null;
  /** The media connection has joined the room. */
  private mediaJoined = false;
  private unsubscribe: Array<() => void> = [];
  private switchTimer: ReturnType<typeof setTimeout> | undefined;
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  private fallBackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Media connections lost in a row without a session getting connected. */
  private lost = 0;
  /** SWITCH_WAIT_MS have passed since the session first connected during the move. */
  private waitOver = false;
  private closed = false;

  constructor(
    private readonly options: CallOptions,
    /** A mesh carries the room now: make before break. Else the SFU carries it at once. */
    meshRunning: boolean,
  ) {
    this.carrying = !meshRunning;
    if (meshRunning) console.info(`Call(${options.room}) moving from the mesh to the SFU`);
  }

  /**
   * (Re)start after the main connection's (re)join. A session on the main connection died with
   * the old connection: join again. One on a media connection that stayed up goes on.
   */
  start(): void {
    if (this.closed) return;
    const session = this.session;
    if (session && session.link === this.media && this.media.connected && session.active) return;
    clearTimeout(this.fallBackTimer);
    this.attach(this.options.main);
    this.session?.start();
  }

  /**
   * A MediaPlace with a new epoch, mode `sfu`. A session (or an `sfu:join` on its way) needs
   * nothing: if its process lost the room, it closes the session (`sfu:closed` `moved`) or
   * dies with it, and the session joins again. Without one, join; on a media connection to
   * another process than `url`, join again from the main connection (then as `moved` says).
   */
  placed(place: MediaPlace): void {
    if (this.closed) return;
    const session = this.session;
    const elsewhere = this.media !== null && place.url !== null && place.url !== this.media.url;
    if (session?.active && !elsewhere) return;
    clearTimeout(this.fallBackTimer);
    this.attach(this.options.main);
    this.session?.start();
  }

  /** The main connection dropped. */
  pause(): void {
    if (this.session?.link === this.options.main) this.session.pause();
  }

  /**
   * The page is going away: the media connection says goodbye too (it keeps the user present
   * in the room on its process otherwise). A page back from the back/forward cache starts
   * again from the main connection (`start`).
   */
  goodbye(): void {
    this.media?.goodbye();
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
    clearTimeout(this.fallBackTimer);
    this.detach();
    this.closeMediaConnection();
  }

  /** The connection to the server process holding the room's media, when that is another one. */
  get mediaLink(): Connection | null {
    return this.media?.connected ? this.media : null;
  }

  /** Make the session on `link` (replacing one on another connection). */
  private attach(link: Connection): void {
    if (this.session?.link === link) return;
    this.detach();
    if (link !== this.media) this.closeMediaConnection();
    this.session = this.makeSession(link);
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
        if (session.connected) this.lost = 0;
        this.check();
        this.options.changed();
      }),
      session.on("moved", (place) => this.moved(place)),
      session.on("failed", (error) => {
        console.warn(`Call(${room}) gave up on the SFU session: ${error.code} ${error.message}`);
        if (error.code === "forbidden") this.options.refused(error);
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

  /** `sfu:join` answered `moved`: run the session on a media connection to `place.url`. */
  private moved(place: MediaPlace & { url: string }): void {
    if (this.closed) return;
    console.info(`Call(${this.options.room}) the media is at ${place.url}`);
    const connection = this.mediaConnection(place.url);
    this.attach(connection);
    if (this.mediaJoined) this.session?.start(); // else once the media connection joined
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
      if ((status === "lost" || status === "refused") && connection === this.media) this.fallBack();
    });
    connection.start(this.options.name());
    return connection;
  }

  /**
   * The media connection dropped, or cannot be made: the holder may be gone for good. Join
   * again from the main connection (which answers `ok`, or `moved` to wherever the media is
   * now), backing off while that keeps leading to connections that fail.
   */
  private fallBack(): void {
    const url = this.media?.url;
    this.lost += 1;
    const delay = Math.min(FALL_BACK_MAX_MS, FALL_BACK_MS * 2 ** (this.lost - 1)) * (0.5 + Math.random());
    console.info(`Call(${this.options.room}) lost the media connection to ${url}; joining from here`);
    this.attach(this.options.main);
    clearTimeout(this.fallBackTimer);
    this.fallBackTimer = setTimeout(() => this.session?.start(), delay);
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
