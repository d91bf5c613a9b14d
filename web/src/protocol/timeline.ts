// The messages of one room that this client holds: sorted by seq, each once. Messages come
// from the join ack, `chat:message`, `chat:send` acks and `chat:history` pages, in any order
// and with repeats (docs/protocol.md, "Ordering, seq and idempotency").

import type { Message } from "./types";

export class Timeline {
  /** Sorted by seq, no repeats. */
  readonly messages: Message[] = [];
  private readonly ids = new Set<string>();
  private readonly seqs = new Set<number>();

  /** Add messages; returns the ones that were not held yet. */
  add(incoming: Iterable<Message>): Message[] {
    const added: Message[] = [];
    for (const message of incoming) {
      if (this.ids.has(message.id) || this.seqs.has(message.seq)) continue;
      this.ids.add(message.id);
      this.seqs.add(message.seq);
      added.push(message);
    }
    if (added.length === 0) return added;
    const last = this.messages.at(-1);
    this.messages.push(...added);
    const inOrder = added.every((m, i) => m.seq > (i === 0 ? (last?.seq ?? 0) : added[i - 1]!.seq));
    if (!inOrder) this.messages.sort((a, b) => a.seq - b.seq);
    return added;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  hasSeq(seq: number): boolean {
    return this.seqs.has(seq);
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
