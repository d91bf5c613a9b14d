// A thread beside the room: its first message, its replies, and a box of its own that
// answers the thread (with slow mode's notice above it, as the room's has). Opened from "N replies", a reply's quote, or a message's Reply button.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import { Thread } from "../protocol/thread";
import type { Message } from "../protocol/types";
import { renderSlowNotice, slowNotice } from "./care";
import { Composer } from "./composer";
import type { Conversation } from "./conversation";
import { h, sentence, syncChildren } from "./elements";
import { icon } from "./icons";
import { messageElement, pendingElement, updatePending } from "./message";

export class ThreadPanel {
  readonly element: HTMLElement;
  private readonly subtitle: HTMLElement;
  private readonly parentSlot: HTMLElement;
  private readonly divider: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly scroller: HTMLElement;
  private readonly status: HTMLElement;
  private readonly composer: Composer;
  private readonly error: HTMLElement;
  private readonly slow = slowNotice("thread-slow-notice");
  private thread: Thread | null = null;
  /** Stops following the room's changes (the view closed). */
  readonly dispose: () => void;
  /** Each message's element and the version it shows. */
  private readonly shown = new Map<string, { message: Message; element: HTMLLIElement }>();
  private readonly pending = new Map<string, HTMLLIElement>();

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly conversation: Conversation,
    /** The panel opened or closed (the room's layout makes room for it). */
    private readonly toggled: (open: boolean) => void,
  ) {
    this.subtitle = h("span", { class: "thread-room" });
    this.parentSlot = h("ol", { class: "messages thread-parent" });
    this.divider = h("div", { class: "thread-divider", testid: "thread-reply-count" });
    this.list = h("ol", { class: "messages", testid: "thread-replies", attrs: { "aria-label": "Replies" } });
    this.status = h("p", { class: "muted thread-status", attrs: { role: "status" } });
    this.scroller = h(
      "div",
      { class: "scroller thread-scroller" },
      this.parentSlot,
      this.divider,
      this.list,
      this.status,
    );
    this.composer = new Composer({
      testids: { input: "thread-input", send: "thread-send" },
      label: "Reply",
      placeholder: "Reply…",
      candidates: conversation.candidates,
      submit: (text, mentions) => this.submit(text, mentions),
      typed: () => this.setError(null),
    });
    this.error = h("p", { class: "chat-error", attrs: { role: "alert", hidden: true } });
    this.element = h(
      "aside",
      { class: "thread-panel", testid: "thread-panel", attrs: { hidden: true, "aria-label": "Thread" } },
      h(
        "header",
        { class: "thread-head" },
        h("div", { class: "thread-title" }, h("h2", {}, "Thread"), this.subtitle),
        h(
          "button",
          {
            class: "icon-button",
            testid: "thread-close",
            attrs: { type: "button", "aria-label": "Close the thread", title: "Close" },
            on: { click: () => this.close() },
          },
          icon("close"),
        ),
      ),
      this.scroller,
      this.slow,
      this.composer.element,
      this.error,
    );
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !(event.target instanceof HTMLTextAreaElement)) this.close();
    });
    this.dispose = client.chat.on("change", (message) => {
      if (this.thread?.absorb(message)) this.render();
    });
  }

  /** The room's title under "Thread", and slow mode's notice. */
  renderRoom(): void {
    this.subtitle.textContent = this.state.title;
    renderSlowNotice(this.slow, this.state);
  }

  get open(): boolean {
    return this.thread !== null;
  }

  /** Show the thread of the message `seq` (a thread's first message). */
  show(seq: number): void {
    if (this.thread?.seq !== seq) {
      const thread = new Thread(this.state.id, seq);
      this.thread = thread;
      this.clear();
      thread.parent = this.state.timeline.at(seq) ?? null;
      this.collect();
      this.client.chat
        .thread(this.state, seq)
        .then(({ message, replies }) => thread.loaded(message, replies))
        .catch((error: unknown) =>
          thread.failed(error instanceof Error ? sentence(error.message) : "It could not be loaded."),
        )
        .finally(() => {
          if (this.thread === thread) this.render(true);
        });
    }
    this.element.hidden = false;
    this.renderRoom();
    this.toggled(true);
    this.render(true);
    this.composer.focus();
  }

  close(): void {
    this.thread = null;
    this.clear();
    this.element.hidden = true;
    this.toggled(false);
  }

  /** A workshop's chat switch: while it is off only hosts and co-hosts answer here either. */
  renderWorkshop(): void {
    const silenced = this.state.workshop !== null && !this.state.workshop.chat_enabled && !this.state.hosting;
    if (this.composer.input.disabled !== silenced) {
      this.composer.setDisabled(silenced, silenced ? "Chat is off" : "Reply…");
    }
    this.element.classList.toggle("silenced", silenced);
  }

  /** The room's messages changed: replies of this thread that came, changes of those held. */
  update(): void {
    if (!this.thread) return;
    this.collect();
    this.render();
  }

  private collect(): void {
    const thread = this.thread;
    if (!thread) return;
    for (const message of this.state.timeline.messages) {
      if (message.seq === thread.seq || message.reply_to === thread.seq) thread.absorb(message);
    }
  }

  private clear(): void {
    this.shown.clear();
    this.pending.clear();
    this.parentSlot.replaceChildren();
    this.list.replaceChildren();
    this.setError(null);
  }

  private render(toBottom = false): void {
    const thread = this.thread;
    if (!thread) return;
    const s = this.scroller;
    const atBottom = toBottom || s.scrollHeight - s.scrollTop - s.clientHeight < 48;
    const view = this.conversation.view(true);
    const element = (message: Message): HTMLLIElement => {
      const held = this.shown.get(message.id);
      if (held && (held.message === message || this.conversation.editing.has(message.id)))
        return held.element;
      const fresh = messageElement(message, view);
      this.shown.set(message.id, { message, element: fresh });
      return fresh;
    };
    syncChildren(this.parentSlot, thread.parent ? [element(thread.parent)] : []);
    const replies = thread.replies.messages.map(element);
    const me = this.client.me;
    const keep = new Set<string>();
    if (me) {
      for (const pending of this.client.chat.pending(this.state.id)) {
        if (pending.replyTo !== thread.seq) continue;
        keep.add(pending.clientMsgId);
        let item = this.pending.get(pending.clientMsgId);
        if (!item) {
          item = pendingElement(pending, me);
          this.pending.set(pending.clientMsgId, item);
        }
        updatePending(item, pending);
        replies.push(item);
      }
    }
    for (const id of this.pending.keys()) if (!keep.has(id)) this.pending.delete(id);
    syncChildren(this.list, replies);
    const count = Math.max(thread.parent?.replies ?? 0, thread.replies.messages.length);
    this.divider.textContent = count === 0 ? "No replies yet" : count === 1 ? "1 reply" : `${count} replies`;
    this.status.hidden = thread.status !== "error" && !(thread.status === "loading" && !thread.parent);
    this.status.textContent = thread.status === "error" ? (thread.error ?? "") : "Loading the thread…";
    if (atBottom) s.scrollTop = s.scrollHeight;
  }

  private submit(text: string, mentions: string[]): boolean {
    const thread = this.thread;
    if (!thread) return false;
    if (thread.parent?.deleted) {
      this.setError("A deleted message takes no replies.");
      return false;
    }
    const problem = this.client.chat.send(this.state, text, { replyTo: thread.seq, mentions });
    if (problem) {
      this.setError(problem);
      return false;
    }
    this.client.chat.sent(this.state.id);
    this.render(true);
    return true;
  }

  private setError(text: string | null): void {
    this.error.hidden = text === null;
    this.error.textContent = text ?? "";
  }
}
