// One thread as a panel shows it: its first message and its replies, fetched with
// `chat:thread` and then kept up to date by the room's messages and changes (a reply's
// `reply_to` names its thread; docs/protocol.md, "Replies, reactions, edits and deletes").

import { Timeline } from "./timeline";
import type { Message } from "./types";

export class Thread {
  /** The first message, as it is now; null until fetched (or held by the room). */
  parent: Message | null = null;
  /** The replies, oldest first, each once and as its latest revision. */
  readonly replies = new Timeline();
  status: "loading" | "ready" | "error" = "loading";
  /** Why it could not be fetched. */
  error: string | null = null;

  constructor(
    readonly room: string,
    /** The `seq` of the first message. */
    readonly seq: number,
  ) {}

  /** The fetched thread: what arrived meanwhile and is newer stays. */
  loaded(parent: Message, replies: Message[]): void {
    if (!this.parent || parent.rev > this.parent.rev) this.parent = parent;
    this.replies.add(replies);
    this.status = "ready";
  }

  failed(reason: string): void {
    this.status = "error";
    this.error = reason;
  }

  /** A message of the room, new or changed; whether it belongs here. */
  absorb(message: Message): boolean {
    if (message.room !== this.room) return false;
    if (message.seq === this.seq) {
      if (this.parent && message.rev <= this.parent.rev && this.parent.id === message.id) return true;
      this.parent = message;
      return true;
    }
    if (message.reply_to !== this.seq) return false;
    this.replies.add([message]);
    return true;
  }
}
