// The Socket.IO connection: auth with the stored resume token, requests with acks, and staying
// connected (socket.io-client's reconnection, plus what it leaves to us: a refusal by the
// server, a disconnect by the server, the browser going offline, and the page going away).

import { io, type Socket } from "socket.io-client";
import { Emitter } from "./emitter";
import { storage } from "./storage";
import type {
  Answers,
  ClosingEvent,
  ErrorInfo,
  EventName,
  HostKeyEvent,
  HostsEvent,
  MediaEvent,
  Mention,
  Message,
  ModerationEvent,
  PresenceEvent,
  ProfileChangedEvent,
  RecordingEvent,
  RecordingNoticeEvent,
  RemovedEvent,
  Report,
  ReportResolvedEvent,
  RoomRefEvent,
  RoomUpdatedEvent,
  SessionEvent,
  SfuClosedEvent,
  SfuOfferEvent,
  SfuTracksEvent,
  SignalEvent,
  SlowEvent,
  TablesEvent,
  TablesNoticeEvent,
  TablesWarningEvent,
  MetEvent,
  PersonRemovedEvent,
  CardChangedEvent,
  TypingEvent,
  WorkshopEvent,
} from "./types";

/**
 * - `idle`: not started (no name yet), or closed for good;
 * - `connecting`: the first connection, or a deliberate reconnection (a new name, the page back
 *   from the back/forward cache), until its `session` arrives, however many attempts fail;
 * - `online`: connected, and the `session` event has arrived;
 * - `lost`: the connection dropped, or the browser is offline; retrying;
 * - `refused`: the server refused the name; retrying will not help;
 * - `away`: the page went away (`pagehide`): it said goodbye and disconnected.
 */
export type ConnectionStatus = "idle" | "connecting" | "online" | "lost" | "refused" | "away";

/** An error ack (`code` from the protocol's table) or a local failure (`offline`, `timeout`). */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The error object's other fields (a `moved` error carries `media`). */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "RequestError";
  }
}

interface ConnectionEvents {
  status: ConnectionStatus;
  /** An attempt to connect failed; socket.io-client (or `retryLater`) tries again. */
  retrying: void;
  session: SessionEvent;
  refused: ErrorInfo;
  presence: PresenceEvent;
  message: Message;
  change: Message;
  mention: Mention;
  typing: TypingEvent;
  signal: SignalEvent;
  workshop: WorkshopEvent;
  hosts: HostsEvent;
  recording: RecordingEvent;
  recordingNotice: RecordingNoticeEvent;
  moderation: ModerationEvent;
  removed: RemovedEvent;
  admitted: RoomRefEvent;
  declined: RoomRefEvent;
  hostKey: HostKeyEvent;
  media: MediaEvent;
  sfuOffer: SfuOfferEvent;
  sfuTracks: SfuTracksEvent;
  sfuClosed: SfuClosedEvent;
  tables: TablesEvent;
  tablesWarning: TablesWarningEvent;
  tablesNotice: TablesNoticeEvent;
  met: MetEvent;
  peopleAsked: MetEvent;
  peopleRemoved: PersonRemovedEvent;
  cardChanged: CardChangedEvent;
  slow: SlowEvent;
  roomUpdated: RoomUpdatedEvent;
  report: Report;
  reportResolved: ReportResolvedEvent;
  profileChanged: ProfileChangedEvent;
}

const REQUEST_TIMEOUT_MS = 10_000;
/**
 * Codes of a refused connection that retrying cannot fix. `unauthorized`: the stored token's
 * session was signed out or expired; the token is forgotten, and the next start is somebody new.
 */
const FINAL_REFUSALS = new Set(["bad_request", "too_large", "unauthorized"]);

export class Connection extends Emitter<ConnectionEvents> {
  status: ConnectionStatus = "idle";
  private readonly socket: Socket;
  private name = "";
  /** False while the browser says it is offline: then we do not try. */
  private networkUp = true;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** How long the server asked us to stay away (`closing`) before the next connection. */
  private holdOffMs = 0;
  /** A `session` has arrived since `start`: the connection was made once. */
  private made = false;
  /** The server said this session was signed out (`closing`): the disconnect is final. */
  private signedOut: ErrorInfo | null = null;

  /**
   * To this page's own server, or to `url`: the server process holding a room's media when
   * that is another one (docs/protocol.md, "Media on another server: moved").
   */
  constructor(readonly url: string | null = null) {
    super();
    const options: Parameters<typeof io>[1] = {
      autoConnect: false,
      // The callback form: every (re)connection sends the latest name and token.
      auth: (cb) => cb(this.auth()),
      reconnectionDelayMax: 5_000,
    };
    this.socket = url === null ? io(options) : io(url, options);
    this.socket.on("session", (session: SessionEvent) => {
      storage.token = session.token;
      this.retries = 0;
      this.made = true;
      this.setStatus("online");
      this.emit("session", session);
    });
    // The server is closing the connection (it kept going over its budget): coming straight
    // back would find the budget spent, so wait as long as it says (docs/protocol.md).
    this.socket.on("closing", (event: ClosingEvent) => {
      console.warn(`Connection: the server is closing the connection: ${event.message}`);
      this.holdOffMs = Math.max(0, event.retry_after * 1000);
      if (event.code === "unauthorized") this.signedOut = { code: event.code, message: event.message };
    });
    this.socket.on("disconnect", (reason) => {
      if (this.status === "idle" || this.status === "away") return; // closed on purpose
      if (this.signedOut && reason === "io server disconnect") {
        this.refused(this.signedOut);
        return;
      }
      // One still being made (the first, or again under a new name) is not lost.
      if (this.status !== "connecting") this.setStatus("lost");
      // socket.io-client does not come back by itself after the server closed the
      // connection; retry after a short, randomised delay (docs/protocol.md).
      if (reason === "io server disconnect") this.retryLater();
    });
    this.socket.on("connect_error", (error: Error & { data?: ErrorInfo }) => {
      const refusal = error.data;
      if (refusal && FINAL_REFUSALS.has(refusal.code)) {
        this.refused(refusal);
        return;
      }
      // A connection not yet made is still being made: "lost" (and its banner) is for one
      // that was there.
      if (this.status !== "connecting") this.setStatus("lost");
      this.retries += 1;
      this.emit("retrying", undefined);
      // A refusal by the server (`unavailable`) leaves the socket inactive: socket.io-client
      // retries transport failures only.
      if (!this.socket.active) this.retryLater();
    });
    this.socket.on("presence", (event: PresenceEvent) => this.emit("presence", event));
    this.socket.on("chat:message", (message: Message) => this.emit("message", message));
    this.socket.on("chat:change", (message: Message) => this.emit("change", message));
    this.socket.on("mention", (event: Mention) => this.emit("mention", event));
    this.socket.on("chat:typing", (event: TypingEvent) => this.emit("typing", event));
    this.socket.on("signal", (event: SignalEvent) => this.emit("signal", event));
    this.socket.on("workshop", (event: WorkshopEvent) => this.emit("workshop", event));
    this.socket.on("workshop:hosts", (event: HostsEvent) => this.emit("hosts", event));
    this.socket.on("recording", (event: RecordingEvent) => this.emit("recording", event));
    this.socket.on("recording:notice", (event: RecordingNoticeEvent) => this.emit("recordingNotice", event));
    this.socket.on("moderation", (event: ModerationEvent) => this.emit("moderation", event));
    this.socket.on("room:removed", (event: RemovedEvent) => this.emit("removed", event));
    this.socket.on("room:admitted", (event: RoomRefEvent) => this.emit("admitted", event));
    this.socket.on("room:declined", (event: RoomRefEvent) => this.emit("declined", event));
    this.socket.on("host:key", (event: HostKeyEvent) => this.emit("hostKey", event));
    this.socket.on("media", (event: MediaEvent) => this.emit("media", event));
    this.socket.on("sfu:offer", (event: SfuOfferEvent) => this.emit("sfuOffer", event));
    this.socket.on("sfu:tracks", (event: SfuTracksEvent) => this.emit("sfuTracks", event));
    this.socket.on("sfu:closed", (event: SfuClosedEvent) => this.emit("sfuClosed", event));
    this.socket.on("tables", (event: TablesEvent) => this.emit("tables", event));
    this.socket.on("tables:warning", (event: TablesWarningEvent) => this.emit("tablesWarning", event));
    this.socket.on("tables:notice", (event: TablesNoticeEvent) => this.emit("tablesNotice", event));
    this.socket.on("people:met", (event: MetEvent) => this.emit("met", event));
    this.socket.on("people:asked", (event: MetEvent) => this.emit("peopleAsked", event));
    this.socket.on("people:removed", (event: PersonRemovedEvent) => this.emit("peopleRemoved", event));
    this.socket.on("card:changed", (event: CardChangedEvent) => this.emit("cardChanged", event));
    this.socket.on("room:slow", (event: SlowEvent) => this.emit("slow", event));
    this.socket.on("room:updated", (event: RoomUpdatedEvent) => this.emit("roomUpdated", event));
    this.socket.on("report", (event: Report) => this.emit("report", event));
    this.socket.on("report:resolved", (event: ReportResolvedEvent) => this.emit("reportResolved", event));
    this.socket.on("profile:changed", (event: ProfileChangedEvent) => this.emit("profileChanged", event));
  }

  get connected(): boolean {
    return this.socket.connected && this.status === "online";
  }

  /** Connect as `name`, or reconnect under a new name (the server renames the user). */
  start(name: string): void {
    this.name = name;
    this.made = false;
    this.setStatus("connecting");
    if (this.socket.connected) {
      // A new name needs a new connection. The old one goes without a DISCONNECT, as a lost
      // one: its place in the rooms is kept for the reconnect grace, so the rooms see a
      // rename rather than a leave and a join. socket.io-client connects again by itself.
      this.socket.io.engine.close();
      return;
    }
    if (this.socket.active) this.socket.disconnect();
    if (this.networkUp) this.socket.connect();
  }

  /** The browser went offline: stop trying until it is back. */
  networkDown(): void {
    this.networkUp = false;
    clearTimeout(this.retryTimer);
    if (this.status === "idle" || this.status === "refused" || this.status === "away") return;
    this.socket.disconnect();
    this.setStatus("lost");
  }

  networkBack(): void {
    this.networkUp = true;
    if (this.status === "idle" || this.status === "refused" || this.status === "away") return;
    // Offline before the first connection was made: it is still being made, not lost.
    if (!this.made) this.setStatus("connecting");
    if (!this.socket.connected) this.socket.connect();
  }

  /**
   * The page is going away (`pagehide`: closed, reloaded, navigated from): say `goodbye`, so
   * that the server takes this user out of its rooms at once rather than after the reconnect
   * grace, and disconnect. There is no time to wait for an ack: socket.io-client writes the
   * event and its DISCONNECT before the WebSocket's close frame (docs/protocol.md, goodbye).
   */
  goodbye(): void {
    clearTimeout(this.retryTimer);
    if (this.status === "idle" || this.status === "refused" || this.status === "away") return;
    if (this.socket.connected) this.socket.emit("goodbye", {});
    this.setStatus("away");
    this.socket.disconnect();
  }

  /** The page is back from the back/forward cache: connect again (`connecting`). */
  resume(): void {
    if (this.status === "away") this.start(this.name);
  }

  /** Disconnect for good (a media connection no longer needed). */
  close(): void {
    clearTimeout(this.retryTimer);
    this.setStatus("idle");
    this.socket.disconnect();
  }

  /** Resolves once the status is no longer `connecting`, or after `timeoutMs`. */
  private settled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const off = this.on("status", (status) => {
        if (status !== "connecting") done();
      });
    });
  }

  /** Send one event and wait for its ack; an error ack or a local failure throws. */
  async request<E extends EventName>(
    event: E,
    payload: object,
    timeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<Answers[E]> {
    // A request made while the connection is still being made (a click right after the page
    // loaded) waits for it, instead of telling somebody who was never offline they are.
    if (this.status === "connecting") await this.settled(timeoutMs);
    if (this.status === "connecting") {
      throw new RequestError("timeout", "The server has not answered yet. Try again in a moment.");
    }
    if (!this.connected) throw new RequestError("offline", "You are offline.");
    let ack: unknown;
    try {
      ack = await this.socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch {
      throw new RequestError("timeout", "The server did not answer in time.");
    }
    if (typeof ack !== "object" || ack === null) {
      throw new RequestError("internal", "The server sent an answer this client does not understand.");
    }
    const answer = ack as { ok?: boolean; error?: ErrorInfo & Record<string, unknown> };
    if (answer.ok === true) return ack as Answers[E];
    const { code, message, ...detail } = answer.error ?? { code: "internal", message: "request failed" };
    throw new RequestError(code, message, detail);
  }

  private auth(): Record<string, string> {
    const token = storage.token;
    return token ? { name: this.name, token } : { name: this.name };
  }

  /** Refused for good: stop trying; a token the server refuses is of no more use. */
  private refused(refusal: ErrorInfo): void {
    this.signedOut = null;
    if (refusal.code === "unauthorized") storage.token = null;
    this.setStatus("refused");
    this.emit("refused", refusal);
  }

  private retryLater(): void {
    clearTimeout(this.retryTimer);
    const backoff = Math.min(5_000, 500 * 2 ** Math.min(this.retries, 4)) * (0.5 + Math.random());
    const delay = Math.max(backoff, this.holdOffMs * (1 + Math.random() / 2));
    this.holdOffMs = 0;
    this.retryTimer = setTimeout(() => {
      if (this.networkUp && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private setStatus(status: ConnectionStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.emit("status", status);
  }
}
