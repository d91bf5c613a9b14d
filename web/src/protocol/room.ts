// What this client knows about one room: the room itself, whether it is joined, its members,
// its messages, who is typing, unread messages, its peer connections and, in a workshop, the
// host's settings and this user's standing (on stage, hand raised, moderated); in a coffee
// room or workshop its tables (breakout tables, speed-networking rounds) and the table this
// user sits at; in a table's own room, the room it belongs to; its title and description,
// its slow mode and, for those who look after it, its open reports.

import type { Call } from "./call";
import type { Mesh } from "./mesh";
import { Timeline } from "./timeline";
import type {
  ErrorInfo,
  HostsView,
  MediaPlace,
  Member,
  ModerationEvent,
  PresenceEvent,
  RecordingView,
  Report,
  Role,
  Room,
  RoomKind,
  TablesView,
  User,
  WorkshopEvent,
  WorkshopView,
} from "./types";

/** The roles that moderate a workshop (server/authz.py HOSTS). */
export const HOSTS: ReadonlySet<Role> = new Set(["host", "cohost"]);
/** The roles on a workshop's stage: they publish, and everybody connects to them (STAGE). */
export const STAGE: ReadonlySet<Role> = new Set(["host", "cohost", "presenter"]);

/**
 * - `idle`: known but not opened (a DM listed by `dm:list` or announced by a message);
 * - `joining`: `room:join` sent, no answer yet (or waiting for the connection);
 * - `joined`: in the room (perhaps waiting to rejoin after a lost connection: see `live`);
 * - `passcode`: the room needs a passcode (`error` is set when one was wrong);
 * - `error`: the join failed (`error` says why);
 * - `waiting`: in a workshop's waiting room until a host admits (joined again then) or declines;
 * - `declined`: a host did not let this user in (they may knock again);
 * - `removed`: a host removed this user, or the workshop ended (`removed` says which); the
 *   room is not joined again by itself.
 */
export type RoomStatus =
  "idle" | "joining" | "joined" | "passcode" | "error" | "waiting" | "declined" | "removed";

/** What a host did to this user, to show until dismissed or replaced. */
export interface Moderation extends ModerationEvent {
  /** When it came (ms), so a repeated action shows again. */
  at: number;
}

const VIDEO_KINDS: ReadonlySet<RoomKind> = new Set(["coffee", "workshop", "table"]);

/** A host's message to every table, as shown. */
export interface TablesNotice {
  by: User;
  text: string;
  /** When it came (ms, this page's clock). */
  at: number;
}

export class RoomState {
  room: Room | null = null;
  status: RoomStatus = "idle";
  error: ErrorInfo | null = null;
  /** This user as the room sees them. */
  you: Member | null = null;
  readonly members = new Map<string, Member>();
  readonly timeline = new Timeline();
  /** User id to name and until when they count as typing (ms). */
  readonly typing = new Map<string, { name: string; until: number }>();
  unread = 0;
  /** The person opened the room and has not left it: rejoin after a lost connection. */
  wanted = false;
  everJoined = false;
  /** Joined on the current connection (false while the connection is lost). */
  live = false;
  /** The passcode that let us in: a rejoin after the reconnect grace needs it again. */
  passcode: string | null = null;
  /** For a DM: the other user. */
  dmUser: User | null = null;
  dmOnline = false;
  loadingOlder = false;
  filling = false;
  /** A `chat:changes` catch-up is on its way. */
  catchingUp = false;
  /** The peer connections of a room whose media goes peer to peer (`place.mode` `mesh`). */
  mesh: Mesh | null = null;
  /** The SFU session, once the room's media goes through the server (`place.mode` `sfu`). */
  call: Call | null = null;
  /** Where the room's media goes, from the join ack or a newer `media` event. */
  place: MediaPlace | null = null;
  /** A `media` event that came while the join was on its way. */
  earlyPlace: MediaPlace | null = null;
  /** `presence` events that came while the join was on its way; replayed on the ack. */
  earlyPresence: PresenceEvent[] = [];
  iceServers: RTCIceServer[] = [];
  /** A workshop's state (null elsewhere). */
  workshop: WorkshopView | null = null;
  /** What only hosts see; null unless this user hosts or co-hosts the workshop. */
  hosts: HostsView | null = null;
  /** The newest `workshop` event that came while the join was on its way. */
  earlyWorkshop: WorkshopEvent | null = null;
  /** A workshop's recording now (null elsewhere, or from a server without recordings). */
  recording: RecordingView | null = null;
  /** The newest `recording` event that came while the join was on its way. */
  earlyRecording: RecordingView | null = null;
  /** Why the room was left for good (status `removed`). */
  removed: "removed" | "ended" | null = null;
  /** The last thing a host did to this user. */
  moderation: Moderation | null = null;
  /** A coffee room's or workshop's tables (`tables` event, `room:join`); null: none known. */
  tables: TablesView | null = null;
  /** A `tables` view that came while the join was on its way. */
  earlyTables: TablesView | null = null;
  /** "30 seconds left": when the round or the tables end (this page's clock, ms). */
  warningEndsAt: number | null = null;
  /** The latest `tables:notice`. */
  notice: TablesNotice | null = null;
  /**
   * The table (its room id) this user sits at, or visits, and which is shown in place of this
   * room; null: this room is shown, with this user's media in it.
   */
  atTable: string | null = null;
  /** `atTable` is a host's visit, not a seat. */
  visiting = false;
  /** For a table's room: the room it belongs to. */
  parentId: string | null = null;
  /** Slow mode: one message per this many seconds for all but moderators; 0: off. */
  slowSeconds = 0;
  /** The open reports, by id, for those who moderate the room (empty for the others). */
  readonly reports = new Map<string, Report>();

  constructor(readonly id: string) {}

  get isWorkshop(): boolean {
    return this.kind === "workshop";
  }

  /** This user hosts or co-hosts this workshop. */
  get hosting(): boolean {
    return this.isWorkshop && this.you !== null && HOSTS.has(this.you.role);
  }

  /** This user looks after the room: a workshop's hosts, an open room's owner and moderators. */
  get moderating(): boolean {
    return this.hosting || this.you?.role === "owner" || this.you?.role === "moderator";
  }

  /**
   * This user pins messages here (docs/protocol.md, chat:pin): those who look after a room,
   * both people of a DM; nobody at a table.
   */
  get pinning(): boolean {
    return this.kind === "dm" || (this.kind !== "table" && this.moderating);
  }

  /** This user is the room's owner (who made an open room or coffee morning), or its host. */
  get owning(): boolean {
    return this.you?.role === "owner" || this.you?.role === "host";
  }

  /**
   * This user may publish camera, microphone and screen here: not a workshop's audience, and
   * not a room while this user is at one of its tables (the camera goes to the table).
   */
  get canPublish(): boolean {
    if (this.atTable !== null) return false;
    return !this.isWorkshop || (this.you !== null && STAGE.has(this.you.role));
  }

  handRaised(user: string): boolean {
    return this.workshop?.hands.some((u) => u.id === user) ?? false;
  }

  /**
   * Whether this user and `member` have a peer connection: always in a coffee room; in a
   * workshop only when one of the two is on stage (the server relays no guest-to-guest signal).
   */
  wantsPeer(member: Member): boolean {
    if (!this.isWorkshop) return true;
    return STAGE.has(member.role) || (this.you !== null && STAGE.has(this.you.role));
  }

  /**
   * What a member's tile plays, whichever way the media comes: through the SFU once it
   * carries the room, else the member's mesh peer.
   */
  remote(user: string): { stream: MediaStream | null; connecting: boolean } {
    if (this.call?.carrying) return this.call.remote(user);
    const peer = this.mesh?.peers.get(user);
    return { stream: peer?.stream ?? null, connecting: !peer || peer.state !== "connected" };
  }

  /** Every member media comes from, with the stream to play (their sound, for one). */
  remoteStreams(): ReadonlyMap<string, MediaStream> {
    if (this.call?.carrying) return this.call.streams();
    return new Map([...(this.mesh?.peers ?? [])].map(([user, peer]) => [user, peer.stream]));
  }

  /** The other members this user should be connected to. */
  peersWanted(me: string): string[] {
    return [...this.members.values()].filter((m) => m.id !== me && this.wantsPeer(m)).map((m) => m.id);
  }

  get kind(): RoomKind | null {
    return this.room?.kind ?? (this.dmUser ? "dm" : null);
  }

  get isVideo(): boolean {
    const kind = this.kind;
    return kind !== null && VIDEO_KINDS.has(kind);
  }

  get title(): string {
    if (this.kind === "dm") return this.dmUser?.name ?? "Direct message";
    return this.room?.title || this.id;
  }

  /** What the room is for, as its moderators wrote it (`room:edit`); empty when nobody did. */
  get description(): string {
    return this.kind === "dm" || this.kind === "table" ? "" : (this.room?.description ?? "");
  }

  /** Shown as a tab: a room joined and not left, or any DM. */
  get isTab(): boolean {
    if (this.parentId !== null || this.kind === "table") return false; // shown in its room's place
    return (this.wanted && this.everJoined) || this.kind === "dm";
  }

  /** Who is typing now, but those `hidden` leaves out (people this user blocks). */
  typingNames(now: number, hidden: (user: string) => boolean = () => false): string[] {
    const names: string[] = [];
    for (const [id, entry] of this.typing) {
      if (entry.until <= now) this.typing.delete(id);
      else if (!hidden(id)) names.push(entry.name);
    }
    return names;
  }
}
