// What this client knows about one room: the room itself, whether it is joined, its members,
// its messages, who is typing, unread messages, and its peer connections.

import type { Mesh } from "./mesh";
import { Timeline } from "./timeline";
import type { ErrorInfo, Member, PresenceEvent, Room, RoomKind, User } from "./types";

/**
 * - `idle`: known but not opened (a DM listed by `dm:list` or announced by a message);
 * - `joining`: `room:join` sent, no answer yet (or waiting for the connection);
 * - `joined`: in the room (perhaps waiting to rejoin after a lost connection: see `live`);
 * - `passcode`: the room needs a passcode (`error` is set when one was wrong);
 * - `error`: the join failed (`error` says why).
 */
export type RoomStatus = "idle" | "joining" | "joined" | "passcode" | "error";

const VIDEO_KINDS: ReadonlySet<RoomKind> = new Set(["coffee", "workshop"]);

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
  mesh: Mesh | null = null;
  /** `presence` events that came while the join was on its way; replayed on the ack. */
  earlyPresence: PresenceEvent[] = [];
  iceServers: RTCIceServer[] = [];

  constructor(readonly id: string) {}

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

  /** Shown as a tab: a room joined and not left, or any DM. */
  get isTab(): boolean {
    return (this.wanted && this.everJoined) || this.kind === "dm";
  }

  /** The members other than this user. */
  others(me: string): string[] {
    return [...this.members.keys()].filter((id) => id !== me);
  }

  typingNames(now: number): string[] {
    const names: string[] = [];
    for (const [id, entry] of this.typing) {
      if (entry.until > now) names.push(entry.name);
      else this.typing.delete(id);
    }
    return names;
  }
}
