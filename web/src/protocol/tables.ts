// Tables: the breakout tables of a workshop and the speed-networking rounds of a coffee room
// (docs/protocol.md, "Tables and speed networking"). Holds each room's TablesView, the
// "30 seconds left" warning, a host's notice, the people met, and the server's clock; sends
// the tables' and rounds' requests. Where this user sits is read here (`seatOf`); going to
// the table and back is the client's job, told through `reseat`. No DOM.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { RoomState } from "./room";
import type { Series, Table, TablesEvent, TablesNoticeEvent, TablesView, TablesWarningEvent } from "./types";

interface TablesEvents {
  /** A room's tables, warning or notice changed; the payload is `room`. */
  changed: string;
}

/** How a host opens breakout tables (`tables:open`). */
export interface OpenTables {
  /** How many tables, or (`size`) people per table: exactly one of the two. */
  tables: number | null;
  size: number | null;
  assign: "random" | "manual" | "choose";
  /** The duration, or null: until a host recalls everybody. */
  seconds: number | null;
}

/** A speed-networking series as `rounds:start` takes it. */
export interface StartRounds {
  size: number;
  round_seconds: number;
  rounds: number;
  break_seconds: number;
}

export class Tables extends Emitter<TablesEvents> {
  /** The server's clock minus this page's (ms), from the latest view's `now`. */
  private offset = 0;

  constructor(
    private readonly connection: Connection,
    private readonly rooms: Map<string, RoomState>,
    /** A room's tables changed: this user's seat may have. */
    private readonly reseat: (state: RoomState) => void,
  ) {
    super();
    connection.on("tables", (event) => this.received(event));
    connection.on("tablesWarning", (event) => this.warned(event));
    connection.on("tablesNotice", (event) => this.noticed(event));
  }

  /** The server's clock now (ms): countdowns end when the server acts, not when this page thinks. */
  serverNow(): number {
    return Date.now() + this.offset;
  }

  /** The table `user` sits at in a room, if any. */
  seatOf(state: RoomState, user: string | undefined): Table | null {
    const sitting = state.tables?.sitting;
    if (!sitting || !user) return null;
    return sitting.tables.find((table) => table.seats.some((u) => u.id === user)) ?? null;
  }

  /** The table of the running sitting with this room id. */
  table(state: RoomState, id: string): Table | null {
    return state.tables?.sitting?.tables.find((table) => table.id === id) ?? null;
  }

  /** Whether `user` said yes to the room's running series. */
  joined(series: Series | null | undefined, user: string | undefined): boolean {
    return !!series && !!user && series.participants.some((u) => u.id === user);
  }

  /** After a (re)join: the ack's view, or a newer one that overtook it. */
  joinedRoom(state: RoomState, view: TablesView | undefined): void {
    const chosen = state.earlyTables ?? view ?? null;
    state.earlyTables = null;
    if (chosen) this.apply(state, chosen);
    else if (state.kind === "coffee" || state.kind === "workshop") state.tables = null;
  }

  // Breakout tables (hosts and co-hosts of a workshop)

  async open(room: string, request: OpenTables): Promise<void> {
    this.answered(room, (await this.connection.request("tables:open", { room, ...request })).tables);
  }

  /** Seat somebody, move them, or (`table` null) bring them back to the room. */
  async move(room: string, user: string, table: string | null): Promise<void> {
    this.answered(room, (await this.connection.request("tables:move", { room, user, table })).tables);
  }

  /** A guest takes a seat, where guests choose their table. */
  async choose(room: string, table: string): Promise<void> {
    this.answered(room, (await this.connection.request("tables:choose", { room, table })).tables);
  }

  async notice(room: string, text: string): Promise<void> {
    await this.connection.request("tables:notice", { room, text });
  }

  /** Recall everybody. */
  async close(room: string): Promise<void> {
    this.answered(room, (await this.connection.request("tables:close", { room })).tables);
  }

  // Speed networking

  async startRounds(room: string, request: StartRounds): Promise<void> {
    this.answered(room, (await this.connection.request("rounds:start", { room, ...request })).tables);
  }

  async joinRounds(room: string): Promise<void> {
    this.answered(room, (await this.connection.request("rounds:join", { room })).tables);
  }

  async leaveRounds(room: string): Promise<void> {
    this.answered(room, (await this.connection.request("rounds:leave", { room })).tables);
  }

  async stopRounds(room: string): Promise<void> {
    this.answered(room, (await this.connection.request("rounds:stop", { room })).tables);
  }

  // Events

  private received(event: TablesEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || !state.wanted) return;
    if (!state.live) {
      // The join ack on its way may carry an older view: this one is applied after it.
      state.earlyTables = event.state;
      return;
    }
    this.apply(state, event.state);
  }

  private answered(room: string, view: TablesView): void {
    const state = this.rooms.get(room);
    if (state?.live) this.apply(state, view);
  }

  private apply(state: RoomState, view: TablesView): void {
    const before = state.tables;
    // An ack and the broadcast carry the same view: an older one never replaces a newer one.
    if (before && view.now < before.now) return;
    this.offset = view.now - Date.now();
    state.tables = view;
    const running = view.sitting?.ends_at ?? view.series?.phase_ends_at ?? null;
    if (state.warningEndsAt !== null && (running === null || running > state.warningEndsAt + 1_000)) {
      state.warningEndsAt = null; // a new round or sitting: its warning has not come yet
    }
    if (!view.sitting && !view.series) state.notice = null;
    this.reseat(state);
    this.emit("changed", state.id);
  }

  private warned(event: TablesWarningEvent): void {
    const state = this.rooms.get(event.room);
    if (!state?.live) return;
    state.warningEndsAt = event.ends_at;
    this.emit("changed", state.id);
  }

  private noticed(event: TablesNoticeEvent): void {
    const state = this.rooms.get(event.room);
    if (!state?.live) return;
    state.notice = { by: event.by, text: event.text, at: Date.now() };
    this.emit("changed", state.id);
  }
}
