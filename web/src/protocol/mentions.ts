// The messages that named this user, across rooms (docs/protocol.md, mentions:list and the
// `mention` event): the list, newest first, and how many came since the person last looked,
// counted apart from unread messages. No DOM: the page decides how to tell the person.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import { completeMessage, type Mention, type User } from "./types";

interface MentionsEvents {
  /** The list or the unread count changed. */
  changed: void;
  /** A new mention arrived (a `mention` event). */
  arrived: Mention;
}

const PAGE = 50;

export class Mentions extends Emitter<MentionsEvents> {
  /** Newest first, each message once. */
  items: Mention[] = [];
  /** Mentions that arrived since the list was last looked at. */
  unread = 0;
  /** The list was fetched once on this page (later ones only add to it). */
  loaded = false;

  constructor(private readonly connection: Connection) {
    super();
    connection.on("mention", (event) => this.received(event));
  }

  /** Fetch the latest mentions (`mentions:list`); those held and newer stay. */
  async load(): Promise<void> {
    const { mentions } = await this.connection.request("mentions:list", { limit: PAGE });
    const fetched = mentions.map((m) => ({ ...m, message: completeMessage(m.message) }));
    const known = new Set(fetched.map((m) => m.message.id));
    // Those that arrived after the answer was made, or that it left out.
    const newer = this.items.filter((m) => !known.has(m.message.id));
    this.items = [...newer, ...fetched].sort((a, b) => b.message.ts - a.message.ts);
    this.loaded = true;
    this.emit("changed", undefined);
  }

  /** The person looked at the list. */
  read(): void {
    if (this.unread === 0) return;
    this.unread = 0;
    this.emit("changed", undefined);
  }

  private received(raw: Mention): void {
    const event = { ...raw, message: completeMessage(raw.message) };
    // Every connection of the user hears it; an edit that names somebody anew, once more.
    if (this.items.some((m) => m.message.id === event.message.id)) return;
    this.items = [event, ...this.items];
    this.unread += 1;
    this.emit("arrived", event);
    this.emit("changed", undefined);
  }
}

/** A letter, digit or underscore: a name followed by one is a longer name, not this one. */
const WORD = /[\p{L}\p{N}_]/u;

/** Where `@Name` stands in `text` for each user given, in order, longest names first where they overlap. */
export function mentionSpans<U extends User>(
  text: string,
  users: Iterable<U>,
): { start: number; end: number; user: U }[] {
  const spans: { start: number; end: number; user: U }[] = [];
  const longestFirst = [...users].filter((u) => u.name !== "").sort((a, b) => b.name.length - a.name.length);
  const lower = text.toLocaleLowerCase();
  for (const user of longestFirst) {
    const needle = `@${user.name.toLocaleLowerCase()}`;
    for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + 1)) {
      const end = at + needle.length;
      if (WORD.test(text.charAt(end))) continue;
      if (spans.some((s) => at < s.end && end > s.start)) continue;
      spans.push({ start: at, end, user });
    }
  }
  return spans.sort((a, b) => a.start - b.start);
}

/** The ids of the users given whose `@Name` is in `text`. */
export function named(text: string, users: Iterable<User>): string[] {
  return [...new Set(mentionSpans(text, users).map((s) => s.user.id))];
}
