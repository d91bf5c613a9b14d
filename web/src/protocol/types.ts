// The values of docs/protocol.md, as TypeScript types. The server is the validator: these
// describe what it sends and what it accepts, nothing more.

export type RoomKind = "open" | "coffee" | "workshop" | "dm";
export type Role = "host" | "guest" | "member";

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
}

/** A room as `room:list` shows it. */
export interface RoomInfo extends Room {
  members: number;
}

export interface Message {
  id: string;
  /** Position in the room: 1, 2, 3... with no gaps. */
  seq: number;
  room: string;
  user: User;
  text: string;
  ts: number;
  client_msg_id: string;
}

export interface ErrorInfo {
  code: string;
  message: string;
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

export interface DmEntry {
  room: Room;
  user: User;
  online: boolean;
}

/** The fields of each client event's `ok` ack (beside `ok: true`). */
export interface Answers {
  "room:list": { rooms: RoomInfo[] };
  "room:create": { room: Room; host_key?: string };
  "room:join": {
    room: Room;
    you: Member;
    members: Member[];
    history: Message[];
    ice_servers: RTCIceServer[];
  };
  "room:leave": Record<string, never>;
  "dm:open": { room: Room; user: User };
  "dm:list": { dms: DmEntry[] };
  "chat:send": { message: Message };
  "chat:history": { messages: Message[] };
  "chat:search": { messages: Message[] };
  "chat:typing": Record<string, never>;
  "media:state": { member: Member };
  signal: Record<string, never>;
}

export type EventName = keyof Answers;

/** Limits of docs/protocol.md that the client checks before sending. */
export const limits = {
  name: 40,
  title: 80,
  text: 4000,
  passcodeMin: 4,
  passcode: 128,
  query: 200,
  /** The largest `chat:history` page the server returns. */
  page: 100,
  /** The history a join brings, and the page asked for when scrolling back. */
  joinHistory: 50,
} as const;

/** Lengths as the server counts them: Unicode code points, not UTF-16 units. */
export function codePoints(text: string): number {
  return [...text].length;
}
