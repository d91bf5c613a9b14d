// Messages: receiving them in order and once, filling gaps, paging back, sending through the
// outbox (exactly once: one client_msg_id per message across retries and reloads; edits and
// reactions made offline wait there too, in order), search and typing;
// replies, edits, deletes, reactions and pins, and their changes caught up by revision
// (docs/protocol.md, "Replies, reactions, edits and deletes").

import { type Connection, RequestError } from "./connection";
import { Emitter } from "./emitter";
import { excerpt, Outbox, type Pending } from "./outbox";
import type { RoomState } from "./room";
import { codePoints, completeMessage, type Emoji, limits, type Message, type TypingEvent } from "./types";

interface ChatEvents {
  /** The room's messages or pending messages changed; `older` when a page was added on top. */
  messages: { room: string; older: boolean };
  typing: string;
  /** Unread counts changed. */
  unread: void;
  /**
   * Something typed that will not be sent (the server refused it, or the outbox was full),
   * with the reason to show; `text` is a message's text to give back ("" for an edit or a
   * reaction).
   */
  refused: { room: string; text: string; message: string };
  /** A message for a room this page does not hold (a DM it has not opened). */
  stranger: Message;
  /** A message changed (edited, deleted, reacted to, replied to), as it is now. */
  change: Message;
}

/** What a message answers and whom it names. */
export interface Extras {
  replyTo?: number | null;
  mentions?: string[];
}

/** Errors after which the same send may succeed later. */
const RETRYABLE = new Set(["offline", "timeout", "unavailable", "rate_limited", "internal"]);
const TYPING_EVERY_MS = 3_000;
const TYPING_SHOWN_MS = 5_000;
/** A gap may be messages still on their way (docs/protocol.md, Ordering): wait, then fetch. */
const GAP_WAIT_MS = 400;
const RETRY_MS = 2_000;

export class Chat extends Emitter<ChatEvents> {
  readonly outbox = new Outbox((item) =>
    this.emit("refused", {
      room: item.room,
      text: item.kind === "message" ? item.text : "",
      message: `too much was waiting to be sent, so the oldest went: ${describe(item)}`,
    }),
  );
  /** The room on screen: its messages are read as they come. */
  active: string | null = null;
  private readonly flushing = new Set<string>();
  private readonly typingSent = new Map<string, number>();
  /** Edits and reactions made online: their caller hears how they went (by clientMsgId). */
  private readonly waiters = new Map<string, { resolve: () => void; reject: (error: unknown) => void }>();

  constructor(
    private readonly connection: Connection,
    private readonly rooms: Map<string, RoomState>,
    private readonly me: () => string | null,
  ) {
    super();
    // Before the client's own handler: the rooms are joined, and their outboxes sent, as this user.
    connection.on("session", (session) => this.outbox.identify(session.user.id));
  }

  /**
   * The room's items still to be sent, as shown: every message, and the edits and reactions
   * but those made online and on their way (their caller shows how they went).
   */
  pending(room: string): Pending[] {
    return this.outbox
      .of(room)
      .filter((p) => p.kind === "message" || !this.waiters.has(p.clientMsgId))
      .map((p) => (p.kind === "edit" ? { ...p, text: `Edit: ${p.text}` } : p));
  }

  /** A `chat:message` from the server. */
  receive(raw: Message): void {
    const message = completeMessage(raw);
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

  /**
   * The join ack's history (oldest first) and the room's revision. The first join starts from
   * that revision; a rejoin fetches the changes since the one it holds, once the messages
   * missed are in.
   */
  joined(state: RoomState, raw: Message[], rev: number): void {
    const history = raw.map(completeMessage);
    const first = state.timeline.rev === null;
    state.timeline.add(history);
    if (first) state.timeline.caughtUp(rev);
    for (const message of history) {
      if (message.user.id === this.me()) this.outbox.remove(state.id, message.client_msg_id);
    }
    this.emit("messages", { room: state.id, older: false });
    void this.fillGaps(state).then(async () => {
      if (!first) await this.catchUp(state);
      await this.flush(state);
    });
  }

  /** A `chat:change` from the server: apply it, and fetch any change it shows was missed. */
  changed(raw: Message): void {
    const message = completeMessage(raw);
    const state = this.rooms.get(message.room);
    if (!state) return;
    this.apply(state, [message]);
    if (state.live && state.timeline.counted(message.rev)) {
      setTimeout(() => void this.catchUp(state), GAP_WAIT_MS);
    }
  }

  /** Fetch every change after the revision held, page after page (`chat:changes`). */
  async catchUp(state: RoomState): Promise<void> {
    const timeline = state.timeline;
    if (state.catchingUp || timeline.rev === null) return;
    state.catchingUp = true;
    try {
      let after = timeline.rev;
      for (let pages = 0; pages < 100 && state.live; pages++) {
        const answer = await this.connection.request("chat:changes", {
          room: state.id,
          after,
          limit: limits.page,
        });
        const messages = answer.messages.map(completeMessage);
        this.apply(state, messages);
        if (messages.length < limits.page) {
          timeline.caughtUp(answer.rev);
          break;
        }
        after = messages.at(-1)!.rev;
        timeline.caughtUp(after);
      }
    } catch (error) {
      console.warn(`Chat(${state.id}) could not catch up on changes`, error);
    } finally {
      state.catchingUp = false;
    }
  }

  /** Changed messages, live or caught up: those held (or newer than them) take their place. */
  private apply(state: RoomState, messages: Message[]): void {
    let shown = false;
    for (const message of messages) {
      if (state.timeline.change(message)) shown = true;
      this.emit("change", message);
    }
    if (shown) this.emit("messages", { room: state.id, older: false });
  }

  /**
   * Edit own message, through the outbox: online, resolves once stored (the ack's version
   * shows) or throws the server's refusal; offline, resolves at once and the edit waits.
   */
  async edit(state: RoomState, seq: number, text: string, mentions: string[]): Promise<void> {
    if (codePoints(text) > limits.text) {
      throw new RequestError("too_large", `A message can be at most ${limits.text} characters.`);
    }
    await this.queued(state, this.outbox.addEdit(state.id, seq, text, mentions.slice(0, limits.mentions)));
  }

  /** Delete a message (own, or anybody's for a workshop's hosts): it stays as a tombstone. */
  async remove(state: RoomState, seq: number): Promise<void> {
    const { message } = await this.connection.request("chat:delete", { room: state.id, seq });
    this.apply(state, [completeMessage(message)]);
  }

  /** Pin (`on`) or unpin a message for everybody in the room (`chat:pin`). */
  async pin(state: RoomState, seq: number, on: boolean): Promise<void> {
    const { message } = await this.connection.request("chat:pin", { room: state.id, seq, on });
    this.apply(state, [completeMessage(message)]);
  }

  /** The room's pinned messages, the latest pinned first (`chat:pins`). */
  async pins(room: string): Promise<Message[]> {
    const { messages } = await this.connection.request("chat:pins", { room });
    return messages.map(completeMessage);
  }

  /** Add (`on`) or take away this user's reaction, through the outbox as an edit goes. */
  async react(state: RoomState, seq: number, emoji: Emoji, on: boolean): Promise<void> {
    const about = state.timeline.at(seq)?.text ?? "";
    await this.queued(state, this.outbox.addReaction(state.id, seq, emoji, on, about));
  }

  /** An edit or reaction just queued: online, wait for its outcome; offline, it waits. */
  private queued(state: RoomState, item: Pending): Promise<void> {
    if (!state.live || !this.connection.connected) {
      this.emit("messages", { room: state.id, older: false });
      return Promise.resolve();
    }
    const outcome = new Promise<void>((resolve, reject) =>
      this.waiters.set(item.clientMsgId, { resolve, reject }),
    );
    void this.flush(state);
    return outcome;
  }

  /** A thread: its first message and its replies, oldest first (`chat:thread`, every page). */
  async thread(state: RoomState, seq: number): Promise<{ message: Message; replies: Message[] }> {
    const replies: Message[] = [];
    let after: number | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const answer: { message: Message; messages: Message[] } = await this.connection.request("chat:thread", {
        room: state.id,
        seq,
        after,
        limit: limits.page,
      });
      replies.push(...answer.messages.map(completeMessage));
      if (answer.messages.length < limits.page) {
        return { message: completeMessage(answer.message), replies };
      }
      after = replies.at(-1)!.seq;
    }
    throw new RequestError("too_large", "This thread is too long to show.");
  }

  /** Fetch what is missing between the messages held, until there is no hole left. */
  async fillGaps(state: RoomState): Promise<void> {
    if (state.filling) return;
    state.filling = true;
    try {
      for (let pages = 0; pages < 100 && state.live; pages++) {
        const after = state.timeline.gapAfter();
        if (after === null) break;
        const answer = await this.connection.request("chat:history", {
          room: state.id,
          after,
          limit: limits.page,
        });
        const messages = answer.messages.map(completeMessage);
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
      state.timeline.add(messages.map(completeMessage));
    } finally {
      state.loadingOlder = false;
      this.emit("messages", { room: state.id, older: true });
    }
  }

  /** Queue a message; it goes out now if the room is joined, else once it is again. */
  send(state: RoomState, text: string, extras: Extras = {}): string | null {
    if (text.trim() === "") return null;
    if (codePoints(text) > limits.text) {
      return `A message can be at most ${limits.text} characters.`;
    }
    const mentions = [...new Set(extras.mentions ?? [])].slice(0, limits.mentions);
    this.outbox.addMessage(state.id, text, extras.replyTo ?? null, mentions);
    this.emit("messages", { room: state.id, older: false });
    void this.flush(state);
    return null;
  }

  /**
   * Send the room's outbox, one item at a time and in the order made: messages with their
   * client_msg_id, edits and reactions as the same `chat:edit` and `chat:react`.
   */
  async flush(state: RoomState): Promise<void> {
    if (this.flushing.has(state.id)) return;
    this.flushing.add(state.id);
    try {
      for (;;) {
        const pending = this.outbox.next(state.id);
        if (!pending || !state.live || !this.connection.connected) break;
        // Slow mode: its timer sends it when the room lets it.
        if (pending.notBefore !== null && pending.notBefore > Date.now()) break;
        // Another page of this user sent it meanwhile (they share the stored outbox).
        if (!this.outbox.holds(pending)) continue;
        pending.state = "sending";
        this.emit("messages", { room: state.id, older: false });
        // Kept while it is on its way: it is not listed meanwhile.
        const waiter = this.waiters.get(pending.clientMsgId);
        try {
          await this.deliver(state, pending);
          this.waiters.delete(pending.clientMsgId);
          this.outbox.remove(state.id, pending.clientMsgId);
          this.emit("messages", { room: state.id, older: false });
          waiter?.resolve();
        } catch (error) {
          pending.state = "waiting";
          this.waiters.delete(pending.clientMsgId);
          const code = error instanceof RequestError ? error.code : "internal";
          if (RETRYABLE.has(code)) {
            waiter?.resolve(); // it waits in the outbox
            // `rate_limited` says when to try again: slow mode's wait, or the budget's.
            const after = error instanceof RequestError ? error.detail.retry_after : undefined;
            const waitMs = typeof after === "number" ? Math.max(after * 1000, 100) : RETRY_MS;
            if (code === "rate_limited" && error instanceof Error && error.message.startsWith("slow mode")) {
              pending.notBefore = Date.now() + waitMs;
              pending.slow = error.message;
            }
            this.emit("messages", { room: state.id, older: false });
            // A lost connection flushes again when the room is rejoined.
            if (code !== "offline")
              setTimeout(() => void this.flush(state), code === "rate_limited" ? waitMs : RETRY_MS);
            break;
          }
          this.outbox.remove(state.id, pending.clientMsgId);
          this.emit("messages", { room: state.id, older: false });
          if (waiter) {
            waiter.reject(error);
            continue;
          }
          const reason = error instanceof Error ? error.message : String(error);
          const what = pending.kind === "message" ? "" : `${describe(pending)}: `;
          this.emit("refused", {
            room: state.id,
            text: pending.kind === "message" ? pending.text : "",
            message: what + reason,
          });
        }
      }
    } finally {
      this.flushing.delete(state.id);
      // What is left waits for the connection or a retry: for its callers, done; now listed.
      let released = false;
      for (const pending of this.outbox.of(state.id)) {
        const waiter = this.waiters.get(pending.clientMsgId);
        if (!waiter) continue;
        this.waiters.delete(pending.clientMsgId);
        waiter.resolve();
        released = true;
      }
      if (released) this.emit("messages", { room: state.id, older: false });
    }
  }

  /** Send one item and show the server's answer; an error ack throws. */
  private async deliver(state: RoomState, pending: Pending): Promise<void> {
    let raw: Message;
    if (pending.kind === "edit") {
      ({ message: raw } = await this.connection.request("chat:edit", {
        room: state.id,
        seq: pending.seq,
        text: pending.text,
        mentions: pending.mentions,
      }));
    } else if (pending.kind === "react") {
      ({ message: raw } = await this.connection.request("chat:react", {
        room: state.id,
        seq: pending.seq,
        emoji: pending.emoji,
        on: pending.on,
      }));
    } else {
      ({ message: raw } = await this.connection.request("chat:send", {
        room: state.id,
        text: pending.text,
        client_msg_id: pending.clientMsgId,
        // Only when set: a plain message reads the same to a server without replies.
        ...(pending.replyTo !== null ? { reply_to: pending.replyTo } : {}),
        ...(pending.mentions.length ? { mentions: pending.mentions } : {}),
      }));
    }
    const message = completeMessage(raw);
    if (pending.kind !== "message") {
      this.apply(state, [message]);
      return;
    }
    const last = state.timeline.last;
    state.timeline.add([message]);
    if (last > 0 && message.seq > last + 1) void this.fillGaps(state);
  }

  /** Drop the room's outbox (the room was left). */
  discard(room: string): void {
    this.outbox.clear(room);
  }

  async search(state: RoomState, query: string): Promise<Message[]> {
    const { messages } = await this.connection.request("chat:search", {
      room: state.id,
      query,
      limit: 50,
    });
    return messages.map(completeMessage);
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

/** An edit or a reaction (or a message) as a notice names it. */
function describe(item: Pending): string {
  if (item.kind === "edit") return `the edit “${excerpt(item.text)}”`;
  if (item.kind === "react") return `the reaction ${item.text}`;
  return `the message “${excerpt(item.text)}”`;
}
