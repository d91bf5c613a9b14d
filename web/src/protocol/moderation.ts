// Looking after open rooms and coffee mornings (docs/protocol.md, "Looking after rooms"):
// the room's title and description, slow mode, reports and their answers, moderators,
// removing people and letting them back, and the audit log. Keeps each room's title,
// description and slow mode and, for those who moderate it, its open reports; tells the
// reporter when a report was answered. Workshops share the events (their hosts moderate).
// No DOM.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { RoomState } from "./room";
import { completeMessage } from "./types";
import type {
  AuditEntry,
  Report,
  ReportOutcome,
  ReportResolvedEvent,
  Room,
  RoomUpdatedEvent,
  SlowEvent,
  User,
  Version,
} from "./types";

/** A room's new title or description, as `room:updated` told it. */
export interface RoomChange {
  room: Room;
  by: User;
  /** The title changed. */
  renamed: boolean;
  /** The description changed. */
  described: boolean;
}

interface ModerationEvents {
  /** A room's slow mode or open reports changed; the payload is `room`. */
  changed: string;
  /** A report this user made was answered (once per report). */
  answered: Report;
  /** A room's title or description changed (also for rooms this page has not opened). */
  updated: RoomChange;
}

/** Most reasons a report may give (docs/protocol.md, chat:report). */
export const REASON_MAX = 500;

export class Moderation extends Emitter<ModerationEvents> {
  /** Reports whose answer the reporter was told of: it may come twice (as moderator too). */
  private readonly told = new Set<string>();

  constructor(
    private readonly connection: Connection,
    private readonly rooms: Map<string, RoomState>,
    private readonly me: () => string | null,
  ) {
    super();
    connection.on("slow", (event) => this.slowed(event));
    connection.on("roomUpdated", (event) => this.updated(event));
    connection.on("report", (report) => this.reported(report));
    connection.on("reportResolved", (event) => this.resolved(event));
  }

  /**
   * A room was joined (`slow_seconds` of the ack), or this user's role there changed: who
   * moderates it fetches its open reports.
   */
  joined(state: RoomState, slowSeconds: number | undefined): void {
    if (slowSeconds !== undefined) state.slowSeconds = slowSeconds;
    this.roleChanged(state);
  }

  /** Reports are for moderators: fetched when one becomes one, forgotten when one stops. */
  roleChanged(state: RoomState): void {
    if (state.moderating && state.kind !== "dm" && state.kind !== "table") {
      void this.loadReports(state);
    } else if (state.reports.size > 0) {
      state.reports.clear();
      this.emit("changed", state.id);
    }
  }

  /** The room's open reports, oldest first (`reports:list`). */
  async loadReports(state: RoomState): Promise<void> {
    try {
      const { reports } = await this.connection.request("reports:list", { room: state.id });
      state.reports.clear();
      for (const report of reports) state.reports.set(report.id, completeReport(report));
      this.emit("changed", state.id);
    } catch (error) {
      console.warn(`Moderation(${state.id}) could not list reports`, error);
    }
  }

  /**
   * Give the room a new title and description (`room:edit`); everybody in it, this page too,
   * hears of it as `room:updated`.
   */
  async edit(room: string, title: string, description: string): Promise<Room> {
    const answer = await this.connection.request("room:edit", { room, title, description });
    return answer.room;
  }

  /** Slow mode: one message per `seconds` for each person but moderators; 0 turns it off. */
  async setSlow(room: string, seconds: number): Promise<void> {
    const answer = await this.connection.request("room:slow", { room, seconds });
    const state = this.rooms.get(room);
    if (state) {
      state.slowSeconds = answer.seconds;
      this.emit("changed", room);
    }
  }

  /** The owner appoints (`on`) or unappoints a moderator; the role comes as a `presence` update. */
  async setModerator(room: string, user: string, on: boolean): Promise<void> {
    await this.connection.request("room:moderator", { room, user, on });
  }

  /** Report a message to the room's moderators. */
  async report(room: string, seq: number, reason: string): Promise<Report> {
    const { report } = await this.connection.request("chat:report", { room, seq, reason });
    return report;
  }

  /** Answer an open report: dismiss it, delete the message, or remove its author. */
  async resolve(room: string, report: string, action: ReportOutcome): Promise<Report> {
    const answer = await this.connection.request("report:resolve", { room, report, action });
    this.forget(room, report);
    return answer.report;
  }

  /** Send somebody out of the room until allowed back (open rooms, coffee mornings, workshops). */
  async remove(room: string, user: string): Promise<void> {
    await this.connection.request("member:remove", { room, user });
  }

  async allow(room: string, user: string): Promise<void> {
    await this.connection.request("member:allow", { room, user });
  }

  /** What an edited message said before, oldest first (for the room's moderators). */
  async versions(room: string, seq: number): Promise<Version[]> {
    const { versions } = await this.connection.request("chat:versions", { room, seq });
    return versions;
  }

  /** What moderators did here, newest first; `before` pages back (ms). */
  async audit(room: string, before: number | null = null): Promise<AuditEntry[]> {
    const { entries } = await this.connection.request("audit:list", { room, before, limit: 100 });
    return entries;
  }

  private updated(event: RoomUpdatedEvent): void {
    const state = this.rooms.get(event.room.id);
    const before = state?.room ?? null;
    if (state) state.room = { ...state.room, ...event.room };
    this.emit("updated", {
      room: event.room,
      by: event.by,
      renamed: before !== null && before.title !== event.room.title,
      described: before !== null && (before.description ?? "") !== (event.room.description ?? ""),
    });
    if (state) this.emit("changed", state.id);
  }

  private slowed(event: SlowEvent): void {
    const state = this.rooms.get(event.room);
    if (!state) return;
    state.slowSeconds = event.seconds;
    this.emit("changed", state.id);
  }

  private reported(report: Report): void {
    const state = this.rooms.get(report.room);
    if (!state?.moderating) return;
    state.reports.set(report.id, completeReport(report));
    this.emit("changed", state.id);
  }

  private resolved(event: ReportResolvedEvent): void {
    this.forget(event.room, event.report.id);
    const report = event.report;
    if (report.reporter.id === this.me() && !this.told.has(report.id)) {
      this.told.add(report.id);
      this.emit("answered", report);
    }
  }

  private forget(room: string, report: string): void {
    const state = this.rooms.get(room);
    if (state?.reports.delete(report)) this.emit("changed", room);
  }
}

/** A report with its message's fields at their defaults filled in (the server leaves them out). */
function completeReport(report: Report): Report {
  return { ...report, message: completeMessage(report.message) };
}
