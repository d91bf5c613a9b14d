// Messages: receiving them in order and once, filling gaps, paging back, sending through the
// outbox (exactly once: one client_msg_id per message across retries), search and typing.

import { type Connection, RequestError } from "./connection";
import { Emitter } from "./emitter";
import { Outbox, type Pending } from "./outbox";
import type { RoomState } from "./room";
import { codePoints, limits, type Message, type TypingEvent } from "./types";

interface ChatEvents {
  /** The room's messages or pending messages changed; `older` when a page was added on top. */
  messages: { room: string; older: boolean };
  typing: string;
  /** Unread counts changed. */
  unread: void;
  /** A message that will not be sent (the server refused it), with the reason to show. */
  refused: { room: string; text: string; message: string };
  /** A message for a room this page does not hold (a DM it has not opened). */
  stranger: Message;
}

/** Errors after which the same send may succeed later. */
const RETRYABLE = new Set(["offline", "timeout", "unavailable", "rate_limited", "internal"]);
const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
/** A gap may be messages still on their way (docs/protocol.md, Ordering): wait, then fetch. */
const GAP_WAIT_MS = 400;
const RETRY_MS = 2_000;

export class Chat extends Emitter<ChatEvents> {
  readonly outbox = new Outbox();
  /** The room on screen: its messages are read as they come. */
  active: string | null = null;
  private readonly flushing = new Set<string>();
  private readonly typingSent = new Map<string, number>();

  constructor(
    private readonly connection: Connection,
    private readonly rooms: Map<string, RoomState>,
    private readonly me: () => string | null,
  ) {
    super();
  }

  pending(room: string): Pending[] {
    return this.outbox.of(room);
  }

  /** A `chat:message` from the server. */
  receive(message: Message): void {
    const state = this.rooms.get(message.room);
    if (!state) {
      this.emit("stranger", message);
      return;
    }
    const last = state.timeline.last;
    if (state.timeline.add([message]).length === 0) return;
    const mine = message.user.id === this.me();
    if (mine) this.outbox.remove(message.room, message.client_msg_id);
    if (state.typing.delete(message.user.id)) this.emit("typing", state.id);
    if (!mine && this.active !== state.id) {
      state.unread += 1;
      this.emit("unread", undefined);
    }
    this.emit("messages", { room: state.id, older: false });
    if (state.live && last > 0 && message.seq > last + 1) {
      setTimeout(() => void this.fillGaps(state), GAP_WAIT_MS);
    }
  }

  /** The join ack's history (oldest first). */
  joined(state: RoomState, history: Message[]): void {
    state.timeline.add(history);
    for (const message of history) {
      if (message.user.id === this.me()) this.outbox.remove(state.id, message.client_msg_id);
    }
    this.emit("messages", { room: state.id, older: false });
    void this.fillGaps(state).then(() => this.flush(state));
  }

  /** Fetch what is missing between the messages held, until there is no hole left. */
  async fillGaps(state: RoomState): Promise<void> {
    if (state.filling) return;
    state.filling = true;
    try {
      for (let pages = 0; pages < 100 && state.live; pages++) {
        const after = state.timeline.gapAfter();
        if (after === null) break;
        const { messages } = await this.connection.request("chat:history", {
          room: state.id,
          after,
          limit: limits.page,
        });
        state.timeline.add(messages);
        this.emit("messages", { room: state.id, older: false });
        if (messages.length === 0) break;
      }
    } catch (error) {
      console.warn(`Chat(${state.id}) could not fill a gap`, error);
    } finally {
      state.filling = false;
    }
  }

  /** Page back: the messages before the oldest one held. */
  async loadOlder(state: RoomState): Promise<void> {
    if (state.loadingOlder || !state.timeline.hasOlder || !state.live) return;
    state.loadingOlder = true;
    this.emit("messages", { room: state.id, older: false });
    try {
      const { messages } = await this.connection.request("chat:history", {
        room: state.id,
        before: state.timeline.first,
        limit: limits.joinHistory,
      });
      state.timeline.add(messages);
    } finally {
      state.loadingOlder = false;
      this.emit("messages", { room: state.id, older: true });
    }
  }

  /** Queue a message; it goes out now if the room is joined, else once it is again. */
  send(state: RoomState, text: string): string | null {
    if (text.trim() === "") return null;
    if (codePoints(text) > limits.text) {
      return `A message can be at most ${limits.text} characters.`;
    }
    this.outbox.add(state.id, text);
    this.emit("messages", { room: state.id, older: false });
    void this.flush(state);
    return null;
  }

  /** Send the room's pending messages, one at a time and in order. */
  async flush(state: RoomState): Promise<void> {
    if (this.flushing.has(state.id)) return;
    this.flushing.add(state.id);
    try {
      for (;;) {
        const pending = this.outbox.next(state.id);
        if (!pending || !state.live || !this.connection.connected) break;
        pending.state = "sending";
        this.emit("messages", { room: state.id, older: false });
        try {
          const { message } = await this.connection.request("chat:send", {
            room: state.id,
            text: pending.text,
            client_msg_id: pending.clientMsgId,
          });
          this.outbox.remove(state.id, pending.clientMsgId);
          const last = state.timeline.last;
          state.timeline.add([message]);
          this.emit("messages", { room: state.id, older: false });
          if (last > 0 && message.seq > last + 1) void this.fillGaps(state);
        } catch (error) {
          pending.state = "waiting";
          const code = error instanceof RequestError ? error.code : "internal";
          if (RETRYABLE.has(code)) {
            this.emit("messages", { room: state.id, older: false });
            // A lost connection flushes again when the room is rejoined.
            if (code !== "offline") setTimeout(() => void this.flush(state), RETRY_MS);
            break;
          }
          this.outbox.remove(state.id, pending.clientMsgId);
          this.emit("messages", { room: state.id, older: false });
          const reason = error instanceof Error ? error.message : String(error);
          this.emit("refused", { room: state.id, text: pending.text, message: reason });
        }
      }
    } finally {
      this.flushing.delete(state.id);
    }
  }

  /** Drop the room's pending messages (the room was left). */
  discard(room: string): void {
    for (const pending of this.outbox.of(room)) this.outbox.remove(room, pending.clientMsgId);
  }

  async search(state: RoomState, query: string): Promise<Message[]> {
    const { messages } = await this.connection.request("chat:search", {
      room: state.id,
      query,
      limit: 50,
    });
    return messages;
  }

  /** The person is typing: tell the room, at most every few seconds. */
  typing(state: RoomState): void {
    const now = Date.now();
    if (!state.live || now - (this.typingSent.get(state.id) ?? 0) < TYPING_EVERY_MS) return;
    this.typingSent.set(state.id, now);
    this.connection.request("chat:typing", { room: state.id }).catch(() => {
      // Typing is a hint; losing one matters to nobody.
    });
  }

  /** The message was sent: the next keystroke may announce typing again at once. */
  sent(room: string): void {
    this.typingSent.delete(room);
  }

  typingReceived(event: TypingEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || event.user.id === this.me()) return;
    state.typing.set(event.user.id, { name: event.user.name, until: Date.now() + TYPING_SHOWN_MS });
    this.emit("typing", state.id);
    setTimeout(() => this.emit("typing", state.id), TYPING_SHOWN_MS + 50);
  }

  /** The room is on screen: its messages count as read. */
  setActive(room: string | null): void {
    this.active = room;
    const state = room ? this.rooms.get(room) : undefined;
    if (state && state.unread > 0) {
      state.unread = 0;
      this.emit("unread", undefined);
    }
  }

  /** After a lost connection nothing is in flight. */
  connectionLost(): void {
    this.outbox.resetAll();
    for (const state of this.rooms.values()) {
      if (this.outbox.next(state.id)) this.emit("messages", { room: state.id, older: false });
    }
  }
}
