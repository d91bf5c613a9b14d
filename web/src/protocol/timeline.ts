// The messages of one room that this client holds: sorted by seq, each once, each as its
// latest revision. Messages come from the join ack, `chat:message`, `chat:send` acks and
// `chat:history` pages, in any order and with repeats; their changes (edits, deletes,
// reactions, replies counted) from `chat:change` and `chat:changes`, also in any order
// (docs/protocol.md, "Ordering, seq and idempotency").

import type { Message } from "./types";

export class Timeline {
  /** Sorted by seq, no repeats. */
  readonly messages: Message[] = [];
  private readonly ids = new Set<string>();
  private readonly bySeq = new Map<number, Message>();
  /**
   * The room's revision up to which every change is held (no gaps below it); null until the
   * room's first join says where the room stands.
   */
  rev: number | null = null;
  /** Revisions seen above `rev + 1`: a change still on its way below them. */
  private readonly ahead = new Set<number>();

  /** Add messages; returns the ones that were not held yet. A newer revision of one held replaces it. */
  add(incoming: Iterable<Message>): Message[] {
    const added: Message[] = [];
    for (const message of incoming) {
      if (this.ids.has(message.id) || this.bySeq.has(message.seq)) {
        this.replace(message);
        continue;
      }
      this.ids.add(message.id);
      this.bySeq.set(message.seq, message);
      added.push(message);
    }
    if (added.length === 0) return added;
    const last = this.messages.at(-1);
    this.messages.push(...added);
    const inOrder = added.every((m, i) => m.seq > (i === 0 ? (last?.seq ?? 0) : added[i - 1]!.seq));
    if (!inOrder) this.messages.sort((a, b) => a.seq - b.seq);
    return added;
  }

  /** Put a changed message in place of the one with its seq if it is newer; whether it was. */
  replace(message: Message): boolean {
    const held = this.bySeq.get(message.seq);
    if (!held || held.id !== message.id || message.rev <= held.rev) return false;
    this.bySeq.set(message.seq, message);
    const index = this.messages.indexOf(held);
    if (index >= 0) this.messages[index] = message;
    return true;
  }

  /**
   * A change: replace the message held, or add one not held yet that is not older than the
   * first held (one older than that comes with its page, as it is then). Whether it shows.
   */
  change(message: Message): boolean {
    if (this.bySeq.has(message.seq)) return this.replace(message);
    if (this.messages.length > 0 && message.seq < this.first) return false;
    return this.add([message]).length > 0;
  }

  /**
   * Count a change's revision; true when one below it is missing (fetch `chat:changes` after
   * `rev`, once the ones on their way have had a moment).
   */
  counted(rev: number): boolean {
    if (this.rev === null) return false;
    if (rev > this.rev) this.ahead.add(rev);
    while (this.ahead.delete(this.rev + 1)) this.rev += 1;
    for (const seen of this.ahead) if (seen <= this.rev) this.ahead.delete(seen);
    return this.ahead.size > 0;
  }

  /** Every change up to `rev` is held (a short page of `chat:changes` said so). */
  caughtUp(rev: number): void {
    this.rev = Math.max(this.rev ?? 0, rev);
    for (const seen of this.ahead) if (seen <= this.rev) this.ahead.delete(seen);
    while (this.ahead.delete(this.rev + 1)) this.rev += 1;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  hasSeq(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  at(seq: number): Message | undefined {
    return this.bySeq.get(seq);
  }

  get first(): number {
    return this.messages[0]?.seq ?? 0;
  }

  /** The highest seq held; 0 when empty. */
  get last(): number {
    return this.messages.at(-1)?.seq ?? 0;
  }

  /** Whether messages before the first one held exist. */
  get hasOlder(): boolean {
    return this.first > 1;
  }

  /** The seq after which the first hole is (held n, missing n + 1, something later held), if any. */
  gapAfter(): number | null {
    for (let i = 1; i < this.messages.length; i++) {
      const previous = this.messages[i - 1]!.seq;
      if (this.messages[i]!.seq !== previous + 1) return previous;
    }
    return null;
  }
}
