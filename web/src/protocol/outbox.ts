// Messages typed but not yet acknowledged. Each keeps its client_msg_id across every retry, so
// the server stores it once however often it is sent (docs/protocol.md, chat:send).

export interface Pending {
  room: string;
  text: string;
  /** The thread it answers (the `seq` of its first message), if any. */
  replyTo: number | null;
  /** The ids of the users it names. */
  mentions: string[];
  clientMsgId: string;
  /** `waiting`: not sent on this connection yet (offline, or waiting for a retry). */
  state: "waiting" | "sending";
  /**
   * Slow mode refused it: not sent again before then (ms, this page's clock), and the
   * server's words ("slow mode: one message every 30 s"). Null otherwise.
   */
  notBefore: number | null;
  slow: string | null;
}

/** A client_msg_id: a UUID where the browser has one (only in secure contexts). */
export function newClientMsgId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  private readonly items: Pending[] = [];

  add(room: string, text: string, replyTo: number | null = null, mentions: string[] = []): Pending {
    const pending: Pending = {
      room,
      text,
      replyTo,
      mentions,
      clientMsgId: newClientMsgId(),
      state: "waiting",
      notBefore: null,
      slow: null,
    };
    this.items.push(pending);
    return pending;
  }

  /** The room's pending messages, in the order they were typed. */
  of(room: string): Pending[] {
    return this.items.filter((p) => p.room === room);
  }

  next(room: string): Pending | undefined {
    return this.items.find((p) => p.room === room);
  }

  /** Remove the one with this id; whether it was there. */
  remove(room: string, clientMsgId: string): boolean {
    const index = this.items.findIndex((p) => p.room === room && p.clientMsgId === clientMsgId);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** After a lost connection nothing is in flight any more. */
  resetAll(): void {
    for (const pending of this.items) pending.state = "waiting";
  }
}
