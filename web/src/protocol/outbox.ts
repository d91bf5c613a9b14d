// What the person did in the chat that the server has not acknowledged yet: messages, edits
// and reactions, in the order they were made. The outbox is kept in localStorage, per user id
// (storage.outbox), so a reload or a closed tab loses nothing: the next page of the same user
// restores it and sends it once the room is joined (docs/web-client.md, "The outbox").
//
// Sent exactly once: a message keeps its client_msg_id across every retry and every page, so
// the server stores it once however often it is sent (docs/protocol.md, chat:send); an edit to
// the same text, or a reaction added again, changes nothing on the server (chat:edit,
// chat:react), so replaying one that did arrive is harmless.

import { storage } from "./storage";
import { EMOJI, type Emoji } from "./types";

/** At most this many items are kept; past it the oldest goes (with a notice). */
export const OUTBOX_ITEMS = 200;
/** At most this many characters of JSON are kept (about 1 MB of a localStorage quota). */
export const OUTBOX_CHARS = 1_000_000;

export interface Pending {
  room: string;
  /** `message`: `chat:send`; `edit`: `chat:edit` of `seq`; `react`: `chat:react` on `seq`. */
  kind: "message" | "edit" | "react";
  /** A message's text; an edit's new text; for a reaction, the emoji and the message's excerpt. */
  text: string;
  /** The thread a message answers (the `seq` of its first message), if any. */
  replyTo: number | null;
  /** The ids of the users a message or an edit names. */
  mentions: string[];
  /** A message's client_msg_id; for an edit or a reaction only this page's name for it. */
  clientMsgId: string;
  /** The message an edit or a reaction is about; null for a message. */
  seq: number | null;
  emoji: Emoji | null;
  /** A reaction added (true) or taken away. */
  on: boolean;
  /** When it was made (ms, the page's clock). */
  at: number;
  /** `waiting`: not sent on this connection yet (offline, or waiting for a retry). Not stored. */
  state: "waiting" | "sending";
  /**
   * Slow mode refused it: not sent again before then (ms, this page's clock), and the
   * server's words ("slow mode: one message every 30 s"). Null otherwise. Not stored: after a
   * reload the server says it again.
   */
  notBefore: number | null;
  slow: string | null;
}

/** What is stored of a pending item: all but how it stands on this page. */
type Stored = Omit<Pending, "state" | "notBefore" | "slow">;

/** A client_msg_id: a UUID where the browser has one (only in secure contexts). */
export function newClientMsgId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** At most 40 characters of a message, for a notice or a pending reaction. */
export function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
}

/** A stored item as it was written, or null (another version's, or damaged). */
function parse(raw: unknown): Stored | null {
  if (typeof raw !== "object" || raw === null) return null;
  const item = raw as Record<string, unknown>;
  const kind = item.kind;
  if (kind !== "message" && kind !== "edit" && kind !== "react") return null;
  if (
    typeof item.room !== "string" ||
    typeof item.text !== "string" ||
    typeof item.clientMsgId !== "string"
  ) {
    return null;
  }
  const seq = typeof item.seq === "number" ? item.seq : null;
  const emoji = EMOJI.find((e) => e === item.emoji) ?? null;
  if (kind !== "message" && seq === null) return null;
  if (kind === "react" && emoji === null) return null;
  return {
    room: item.room,
    kind,
    text: item.text,
    replyTo: typeof item.replyTo === "number" ? item.replyTo : null,
    mentions: Array.isArray(item.mentions)
      ? item.mentions.filter((m): m is string => typeof m === "string")
      : [],
    clientMsgId: item.clientMsgId,
    seq,
    emoji,
    on: item.on !== false,
    at: typeof item.at === "number" ? item.at : 0,
  };
}

export class Outbox {
  /** Whose outbox this is; null before this browser ever connected (kept in memory meanwhile). */
  private owner: string | null;
  private items: Pending[] = [];

  /**
   * `dropped` hears of each item that will not be sent because the outbox was full (the
   * oldest go first).
   */
  constructor(private readonly dropped: (item: Pending) => void = () => undefined) {
    this.owner = storage.user;
    if (this.owner !== null) this.items = this.load(this.owner);
  }

  /**
   * The connection says who this page is. The same user: what other pages of theirs stored
   * meanwhile joins in. Another user (a new identity): that user's outbox, the old one stays
   * stored for them. What was typed before the first connection becomes this user's.
   */
  identify(user: string): void {
    storage.user = user;
    if (this.owner === user) {
      this.update(() => undefined);
      return;
    }
    const unowned = this.owner === null ? this.items : [];
    this.owner = user;
    this.items = this.load(user);
    if (unowned.length) this.update((items) => items.push(...unowned));
  }

  addMessage(room: string, text: string, replyTo: number | null = null, mentions: string[] = []): Pending {
    return this.add({ room, kind: "message", text, replyTo, mentions, seq: null, emoji: null, on: true });
  }

  addEdit(room: string, seq: number, text: string, mentions: string[]): Pending {
    return this.add({ room, kind: "edit", text, replyTo: null, mentions, seq, emoji: null, on: true });
  }

  /** `about`: the text of the message reacted to (shown while the reaction waits). */
  addReaction(room: string, seq: number, emoji: Emoji, on: boolean, about: string): Pending {
    const text = `${emoji} ${on ? "on" : "taken off"} “${excerpt(about)}”`;
    return this.add({ room, kind: "react", text, replyTo: null, mentions: [], seq, emoji, on });
  }

  /** The room's pending items, in the order they were made. */
  of(room: string): Pending[] {
    return this.items.filter((p) => p.room === room);
  }

  next(room: string): Pending | undefined {
    return this.items.find((p) => p.room === room);
  }

  /** Whether this item is still to be sent (another page of this user may have sent it). */
  holds(item: Pending): boolean {
    this.update(() => undefined);
    return this.items.includes(item);
  }

  /** Remove the one with this id; whether it was there. */
  remove(room: string, clientMsgId: string): boolean {
    // Most messages of one's own that arrive were never in this page's outbox.
    if (!this.items.some((p) => p.clientMsgId === clientMsgId)) return false;
    let found = false;
    this.update((items) => {
      const index = items.findIndex((p) => p.room === room && p.clientMsgId === clientMsgId);
      if (index < 0) return;
      items.splice(index, 1);
      found = true;
    });
    return found;
  }

  /** Remove every item of the room (it was left). */
  clear(room: string): void {
    this.update((items) => {
      for (let i = items.length - 1; i >= 0; i--) if (items[i]!.room === room) items.splice(i, 1);
    });
  }

  /** After a lost connection nothing is in flight any more. */
  resetAll(): void {
    for (const pending of this.items) pending.state = "waiting";
  }

  private add(fields: Omit<Stored, "clientMsgId" | "at">): Pending {
    const pending: Pending = {
      ...fields,
      clientMsgId: newClientMsgId(),
      at: Date.now(),
      ...onThisPage(),
    };
    this.update((items) => items.push(pending));
    return pending;
  }

  /**
   * Change the outbox as stored now (another page of this user may have changed it), keep
   * it within its bounds, and store it again. The items this page holds keep their state.
   */
  private update(change: (items: Pending[]) => void): void {
    const items = this.owner === null ? this.items : this.load(this.owner);
    change(items);
    let json = JSON.stringify(items.map(stored));
    while (items.length > OUTBOX_ITEMS || (json.length > OUTBOX_CHARS && items.length > 0)) {
      this.dropped(items.shift()!);
      json = JSON.stringify(items.map(stored));
    }
    if (this.owner !== null) storage.setOutbox(this.owner, items.length ? json : null);
    this.items = items;
  }

  /** The stored outbox; items this page already holds are the same objects, with their state. */
  private load(owner: string): Pending[] {
    const held = new Map(this.items.map((p) => [p.clientMsgId, p]));
    const raw = storage.outbox(owner);
    const items: Pending[] = [];
    for (const entry of Array.isArray(raw) ? raw : []) {
      const item = parse(entry);
      if (item) items.push(held.get(item.clientMsgId) ?? { ...item, ...onThisPage() });
    }
    return items;
  }
}

/** How an item stands on a page that has not tried to send it yet. */
function onThisPage(): Pick<Pending, "state" | "notBefore" | "slow"> {
  return { state: "waiting", notBefore: null, slow: null };
}

function stored(pending: Pending): Stored {
  const { state: _state, notBefore: _notBefore, slow: _slow, ...rest } = pending;
  return rest;
}
