// The values of docs/protocol.md, as TypeScript types. The server is the validator: these
// describe what it sends and what it accepts, nothing more.

/** A `table` is made by the server: a few people of a coffee room or workshop (docs/protocol.md, Tables). */
export type RoomKind = "open" | "coffee" | "workshop" | "dm" | "table";
/**
 * In a workshop: `host` (holds the host key), `cohost` (moderates), `presenter` (a guest brought
 * on stage), `guest` (the audience). Everywhere else everybody is a `member`.
 */
export type Role = "host" | "cohost" | "presenter" | "guest" | "member" | "owner" | "moderator";

export interface User {
  id: string;
  name: string;
}

/** Somebody in a room, as everybody in the room sees them. */
export interface Member extends User {
  role: Role;
  camera: boolean;
  mic: boolean;
  screen: boolean;
}

export interface Room {
  id: string;
  /** Empty for a DM room: show the other user's name. */
  title: string;
  kind: RoomKind;
  private: boolean;
  has_passcode: boolean;
  /** Milliseconds since the epoch; 0 for the lobby. */
  created_at: number;
  /** A table's room (the coffee room or workshop it belongs to); null otherwise (absent from older servers). */
  parent?: string | null;
  /** What the room is for (`room:edit`): at most 500 characters, may hold new lines; empty until a moderator writes one (absent from older servers). */
  description?: string;
}

/** A room as `room:list` shows it. */
export interface RoomInfo extends Room {
  members: number;
}

/** The eight reactions a message can carry, in the order the server lists them. */
export const EMOJI = ["👍", "❤️", "😂", "🎉", "🤔", "👀", "🙏", "✅"] as const;
export type Emoji = (typeof EMOJI)[number];

export interface Reaction {
  emoji: Emoji;
  /** Who reacted so, each once. */
  users: User[];
}

/** A reply's view of its thread's first message, as that message is now. */
export interface Quote {
  user: User;
  /** At most 200 characters; empty once deleted. */
  text: string;
  deleted: boolean;
}

export interface Message {
  id: string;
  /** Position in the room: 1, 2, 3... with no gaps. */
  seq: number;
  room: string;
  user: User;
  /** Empty for a deleted message. */
  text: string;
  ts: number;
  client_msg_id: string;
  /** For a reply: the `seq` of its thread's first message. */
  reply_to: number | null;
  quote: Quote | null;
  /** For a thread's first message: how many replies it has, and when the latest came (ms). */
  replies: number;
  last_reply_at: number | null;
  /** When it was last edited (ms). */
  edited_at: number | null;
  /** A tombstone: same place, no text, no reactions. */
  deleted: boolean;
  reactions: Reaction[];
  /** The ids of the users its text names (`@Name`). */
  mentions: string[];
  /** The room's revision of its latest change; 0 if never changed. */
  rev: number;
  /** When it was pinned (`chat:pin`, ms); null while not pinned. */
  pinned_at: number | null;
  /** Who pinned it; null while not pinned (or for a workshop's pin from before). */
  pinned_by: User | null;
}

/** Fill in what a server without replies, reactions and edits leaves out: the one place they default. */
export function completeMessage(raw: Message): Message {
  return {
    ...raw,
    reply_to: raw.reply_to ?? null,
    quote: raw.quote ?? null,
    replies: raw.replies ?? 0,
    last_reply_at: raw.last_reply_at ?? null,
    edited_at: raw.edited_at ?? null,
    deleted: raw.deleted ?? false,
    reactions: raw.reactions ?? [],
    mentions: raw.mentions ?? [],
    rev: raw.rev ?? 0,
    pinned_at: raw.pinned_at ?? null,
    pinned_by: raw.pinned_by ?? null,
  };
}

/** A message that named this user (`mention` event, `mentions:list`). */
export interface Mention {
  message: Message;
  room: { id: string; title: string };
}

/** A message reported to a room's moderators (`chat:report`, `reports:list`, `report`). */
export interface Report {
  id: string;
  room: string;
  /** The message as it is now. */
  message: Message;
  reporter: User;
  reason: string;
  /** When it was reported (ms). */
  at: number;
  /** What a moderator did; null while open. */
  outcome: ReportOutcome | null;
  resolved_by: User | null;
}

/** `dismiss` the report, `delete` the message, `ban` (remove) its author. */
export type ReportOutcome = "dismiss" | "delete" | "ban";

/** `report:resolved`: a moderator answered a report. */
export interface ReportResolvedEvent {
  room: string;
  report: Report;
}

/** `room:slow`: slow mode changed. */
export interface SlowEvent {
  room: string;
  /** 0: off. */
  seconds: number;
  by: User;
}

/** `room:updated`: a moderator gave the room a new title or description (`room:edit`). */
export interface RoomUpdatedEvent {
  room: Room;
  by: User;
}

/** A text an edited message had before (`chat:versions`), for the room's moderators. */
export interface Version {
  text: string;
  /** When an edit replaced it (ms); null if the server kept it before recording that. */
  replaced_at: number | null;
}

/** One thing a moderator did (`audit:list`). */
export interface AuditEntry {
  at: number;
  /** The moderator. */
  by: User;
  action:
    | "delete"
    | "remove"
    | "allow"
    | "moderator"
    | "moderator_off"
    | "slow"
    | "report"
    | "edit"
    | "pin"
    | "unpin";
  target: User | null;
  /** The message, for `delete`, `report`, `pin` and `unpin`. */
  seq: number | null;
  /** `slow`: the new interval ("30 s"); `report`: the outcome; `edit`: the room's title then. */
  detail: string;
}

/** A workshop's state as everybody in it sees it (`workshop` event, `room:join`). */
export interface WorkshopView {
  locked: boolean;
  waiting_room: boolean;
  chat_enabled: boolean;
  pinned: Message | null;
  ended: boolean;
  /** Raised hands, first raised first. */
  hands: User[];
}

/** What only hosts and co-hosts see (`workshop:hosts` event, `room:join`). */
export interface HostsView {
  /** Who waits in the waiting room, first come first. */
  knocking: User[];
  /** Removed users, who cannot come back until allowed. */
  banned: User[];
}

export interface WorkshopEvent {
  room: string;
  state: WorkshopView;
}

export interface HostsEvent {
  room: string;
  state: HostsView;
}

/** Whether a workshop is being recorded (`recording` event, `room:join`). */
export interface RecordingView {
  on: boolean;
  /** Who started it (null when off). */
  by: User | null;
  /** ms since the epoch (null when off). */
  started_at: number | null;
}

export interface RecordingEvent extends RecordingView {
  room: string;
}

/** Why a recording stopped by itself (`recording:notice`, to hosts and co-hosts). */
export type RecordingStop = "max_length" | "disk_low" | "media_gone" | "shutdown";

export interface RecordingNoticeEvent {
  room: string;
  id: string;
  reason: RecordingStop;
}

/** What a host did to this user (sent to the affected member only). */
export interface ModerationEvent {
  room: string;
  action: "stage_invited" | "stage_removed" | "muted";
  by: User;
  camera?: boolean;
  mic?: boolean;
  screen?: boolean;
}

/**
 * This user's connections left the room: a host removed them, the workshop ended, or (a table)
 * the user's seat moved or the tables closed.
 */
export interface RemovedEvent {
  room: string;
  reason: "removed" | "ended" | "table_moved" | "table_closed";
}

/** One table: a small room of its own (`id` is its room id). */
export interface Table {
  id: string;
  /** `Table 1`, ... */
  name: string;
  /** Who sits there now. */
  seats: User[];
}

/** The tables running now in a room: a breakout (hosts open it) or one round of a series. */
export interface Sitting {
  id: string;
  kind: "breakout" | "round";
  tables: Table[];
  assign: "random" | "manual" | "choose";
  /** Most people per table when guests choose. */
  size: number | null;
  started_at: number;
  /** When everybody is recalled (server clock, ms); null: until a host closes the tables. */
  ends_at: number | null;
}

export type SeriesPhase = "gathering" | "round" | "break" | "done";

/** A speed-networking series: rounds of tables with breaks between. */
export interface Series {
  id: string;
  by: User;
  size: number;
  round_seconds: number;
  rounds: number;
  break_seconds: number;
  /** Who said yes. */
  participants: User[];
  /** 1..rounds; 0 while gathering. */
  round: number;
  phase: SeriesPhase;
  /** Server clock, ms; null when done. */
  phase_ends_at: number | null;
  /** The tables of the round that ended last (for "stay in touch"). */
  last: Table[];
}

/** The tables of a room as everybody in it sees them (`tables` event, `room:join`). */
export interface TablesView {
  sitting: Sitting | null;
  series: Series | null;
  /** The server's clock when the view was made (ms): corrects this page's clock. */
  now: number;
}

export interface TablesEvent {
  room: string;
  state: TablesView;
}

/** The round or the tables end in `seconds`. */
export interface TablesWarningEvent {
  room: string;
  seconds: number;
  ends_at: number;
}

/** A host's message to every table. */
export interface TablesNoticeEvent {
  room: string;
  by: User;
  text: string;
}

/** One of the user's sessions (docs/protocol.md, "SessionInfo"). */
export interface SessionInfo {
  id: string;
  /** What made it: "Firefox on Linux"; empty for one from before sessions existed. */
  label: string;
  created: number;
  /** To within an hour; now for the current one. */
  last_seen: number;
  expires: number;
  /** This browser's (the asking connection's) session. */
  current: boolean;
}

/** A field of a contact card: shown to contacts only, each as its owner chooses. */
export type CardField = "email" | "phone" | "link";
export const CARD_FIELDS: readonly CardField[] = ["email", "phone", "link"];

/** A contact card as a contact sees it: unshared fields are empty. */
export interface Card {
  email: string;
  phone: string;
  link: string;
}

/** One's own card (`card:get`, `card:set`): `share` is what new contacts see. */
export interface OwnCard extends Card {
  share: CardField[];
}

/** Somebody one is in touch with, or who asked, or whom one asked (`people:list`). */
export interface Met {
  user: User;
  /** Where it was asked from (the table both last sat at, or a room), if anywhere. */
  room: { id: string; title: string } | null;
  /** When both had said so, or when it was asked (ms). */
  at: number;
  /** Their public headline; empty if none. */
  headline?: string;
  /** A contact's card as shared with this user; null for a request. */
  card?: Card | null;
  /** Which of this user's card fields the contact sees; null for a request. */
  sharing?: CardField[] | null;
}

/** Somebody met and not in touch with (`people:list`'s `encounters`). */
export interface Encounter {
  user: User;
  how: "table" | "camera" | "dm";
  /** The table's or coffee room's; null for a DM. */
  room: { id: string; title: string } | null;
  at: number;
  headline: string;
}

/** `card:changed`: what `user` shares with this user changed. */
export interface CardChangedEvent {
  user: string;
  card: Card;
}

export interface MetEvent {
  person: Met;
}

/** `people:removed`: no longer in touch with `user`, or a request between the two is gone. */
export interface PersonRemovedEvent {
  user: string;
}

/** `room:admitted` and `room:declined`: a host's answer to a knock on the waiting room. */
export interface RoomRefEvent {
  room: string;
}

/** The new host's key after a hand-over: kept like the creator's. */
export interface HostKeyEvent {
  room: string;
  host_key: string;
}

/**
 * How a video room's media flows: `mesh` (peer to peer over `signal`), `sfu` (through the server
 * process at `url`, null meaning the one this connection talks to), `none` (no video).
 */
export type MediaMode = "mesh" | "sfu" | "none";

/** Where a video room's media goes (`room:join`, `media:state`, the `media` event). */
export interface MediaPlace {
  mode: MediaMode;
  /** Socket.IO URL of the server process holding the room's media; null: this connection's. */
  url: string | null;
  /** Grows on every change of mode or owner: act only on a higher one. */
  epoch: number;
}

/** What a member publishes; each has its own m-line in an SFU session. */
export type Source = "mic" | "camera" | "screen";

/** A forwarded source in an SFU session: whose source arrives on the m-line `mid`. */
export interface Track {
  mid: string;
  user: string;
  source: Source;
}

/** An SDP offer or answer as the wire carries it (`RTCSessionDescriptionInit`). */
export interface Description {
  type: RTCSdpType;
  sdp: string;
}

export interface JoinAnswer {
  room: Room;
  waiting?: undefined;
  you: Member;
  members: Member[];
  history: Message[];
  /** Slow mode: one message per this many seconds; 0 (or absent, an older server): off. */
  slow_seconds?: number;
  /** The room's current revision: changes after it come as `chat:change`, before it from `chat:changes`. */
  rev: number;
  ice_servers: RTCIceServer[];
  /** Workshops only. */
  workshop?: WorkshopView;
  /** Workshops only, for hosts and co-hosts. */
  hosts?: HostsView;
  /** Workshops only: whether it is being recorded now. */
  recording?: RecordingView;
  /** Video rooms only (absent from a server without the SFU: then the mesh). */
  media?: MediaPlace;
  /** Coffee rooms and workshops (absent from a server without tables). */
  tables?: TablesView;
}

/** `sfu:join`: a new media session, with the server's first offer. */
export interface SfuJoinAnswer {
  /** Answer this offer with `sfu:answer {version}`. */
  version: number;
  offer: Description;
  tracks: Track[];
  ice_servers: RTCIceServer[];
}

/** `sfu:offer`: a renegotiation of the session (new slots). */
export interface SfuOfferEvent {
  room: string;
  version: number;
  offer: Description;
  tracks: Track[];
}

/** `sfu:tracks`: the slots were reassigned without new m-lines; the whole current list. */
export interface SfuTracksEvent {
  room: string;
  tracks: Track[];
}

/** `sfu:closed`: the session is gone; join again unless the room was left. */
export interface SfuClosedEvent {
  room: string;
  reason: "moved" | "failed" | "left_stage" | "shutdown";
}

/** `media`: the room's media moved (mesh to SFU, or another server process took it over). */
export interface MediaEvent {
  room: string;
  media: MediaPlace;
}

/** A workshop with its waiting room on: the newcomer knocked and waits to be admitted. */
export interface WaitingAnswer {
  room: Room;
  waiting: true;
}

export interface ErrorInfo {
  code: string;
  message: string;
}

/** The server is about to close this connection: why, and how long to stay away. */
export interface ClosingEvent extends ErrorInfo {
  /** Seconds to wait before connecting again. */
  retry_after: number;
}

export interface SessionEvent {
  user: User;
  token: string;
  rooms: string[];
}

export interface PresenceEvent {
  room: string;
  event: "join" | "leave" | "update";
  member: Member;
}

export interface TypingEvent {
  room: string;
  user: User;
}

export type SignalType = "offer" | "answer" | "candidate";

export interface SignalEvent {
  room: string;
  from: string;
  type: SignalType;
  data: unknown;
}

/** The room of a group of `search` results (a DM's title is the other user's name). */
export interface RoomFound {
  id: string;
  title: string;
  kind: RoomKind;
}

/** One room's messages found by `search`, best first. */
export interface Found {
  room: RoomFound;
  messages: Message[];
}

/** What somebody says about themselves (docs/protocol.md, "Profiles"). */
export type ProfileField = "headline" | "organisation" | "link" | "about";

export interface Profile {
  user: User;
  headline: string;
  organisation: string;
  /** Empty, or an https:// or http:// address. */
  link: string;
  about: string;
  /** Only in one's own profile. */
  public: ProfileField[] | null;
  /** Only in one's own profile: left out of "who is here". */
  invisible: boolean | null;
}

/** `profile:set`: the fields given replace the stored ones. */
export type ProfileChange = Partial<Pick<Profile, ProfileField>> & {
  public?: ProfileField[];
  invisible?: boolean;
};

/** Somebody in "who is here" (`online:list`). */
export interface Online {
  user: User;
  headline: string;
  /** The public rooms they are in, the lobby last. */
  rooms: { id: string; title: string }[];
}

/** `profile:changed`: somebody's public headline changed. */
export interface ProfileChangedEvent {
  room: string;
  user: string;
  headline: string;
}

export interface DmEntry {
  room: Room;
  user: User;
  online: boolean;
}

/** The fields of each client event's `ok` ack (beside `ok: true`). */
export interface Answers {
  "room:list": { rooms: RoomInfo[] };
  "room:create": { room: Room; host_key?: string };
  "room:join": JoinAnswer | WaitingAnswer;
  "room:leave": Record<string, never>;
  "dm:open": { room: Room; user: User };
  "dm:list": { dms: DmEntry[] };
  "chat:send": { message: Message };
  "chat:history": { messages: Message[] };
  "chat:search": { messages: Message[] };
  search: { results: Found[] };
  "chat:typing": Record<string, never>;
  "chat:edit": { message: Message };
  "chat:delete": { message: Message };
  "chat:react": { message: Message };
  "chat:changes": { messages: Message[]; rev: number };
  "chat:thread": { message: Message; messages: Message[] };
  "mentions:list": { mentions: Mention[] };
  "media:state": { member: Member; media?: MediaPlace };
  signal: Record<string, never>;
  "hand:raise": { hands: User[] };
  "hand:lower": { hands: User[] };
  "stage:invite": { member: Member };
  "stage:remove": { member: Member };
  "member:mute": { member: Member };
  "member:remove": Record<string, never>;
  "member:allow": Record<string, never>;
  "member:role": { member: Member };
  "host:handover": Record<string, never>;
  "room:lock": { state: WorkshopView };
  "room:waiting": { state: WorkshopView };
  "waiting:admit": Record<string, never>;
  "waiting:decline": Record<string, never>;
  "chat:enable": { state: WorkshopView };
  "chat:pin": { message: Message };
  "chat:pins": { messages: Message[] };
  "workshop:end": Record<string, never>;
  "recording:start": { id: string; recording: RecordingView };
  "recording:stop": { id: string; recording: RecordingView };
  "tables:open": { tables: TablesView };
  "tables:move": { tables: TablesView };
  "tables:choose": { tables: TablesView };
  "tables:notice": Record<string, never>;
  "tables:close": { tables: TablesView };
  "rounds:start": { tables: TablesView };
  "rounds:join": { tables: TablesView };
  "rounds:leave": { tables: TablesView };
  "rounds:stop": { tables: TablesView };
  "people:stay": Record<string, never>;
  "people:list": { people: Met[]; asked: Met[]; asking: Met[]; encounters: Encounter[] };
  "card:get": { card: OwnCard };
  "card:set": { card: OwnCard };
  "card:share": { user: string; fields: CardField[] };
  "people:decline": Record<string, never>;
  "people:remove": Record<string, never>;
  "room:slow": { seconds: number };
  "room:moderator": Record<string, never>;
  "room:edit": { room: Room };
  "chat:report": { report: Report };
  "reports:list": { reports: Report[] };
  "report:resolve": { report: Report };
  "chat:versions": { versions: Version[] };
  "audit:list": { entries: AuditEntry[] };
  "user:block": { blocked: User[] };
  "blocks:list": { blocked: User[] };
  "sessions:list": { sessions: SessionInfo[] };
  "session:revoke": Record<string, never>;
  "sessions:revoke_others": { revoked: number };
  "account:erase": Record<string, never>;
  "sfu:join": SfuJoinAnswer;
  "sfu:answer": Record<string, never>;
  "sfu:candidate": Record<string, never>;
  "sfu:leave": Record<string, never>;
  "profile:get": { profile: Profile };
  "profile:set": { profile: Profile };
  "profile:headlines": { headlines: Record<string, string> };
  "online:list": { people: Online[]; more: boolean };
}

export type EventName = keyof Answers;

/** Limits of docs/protocol.md that the client checks before sending. */
export const limits = {
  name: 40,
  title: 80,
  /** A room's description (`room:edit`). */
  description: 500,
  text: 4000,
  passcodeMin: 4,
  passcode: 128,
  query: 200,
  /** The largest `chat:history` page the server returns. */
  page: 100,
  /** The history a join brings, and the page asked for when scrolling back. */
  joinHistory: 50,
  /** Most users one message may mention. */
  mentions: 20,
  /** Profile fields. */
  headline: 80,
  organisation: 80,
  link: 200,
  about: 500,
} as const;

/** Lengths as the server counts them: Unicode code points, not UTF-16 units. */
export function codePoints(text: string): number {
  return [...text].length;
}
