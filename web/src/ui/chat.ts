// The chat of one room: the message list (paging back on scroll up), who is typing, and the
// message box (Enter sends, Shift+Enter is a new line, `@` offers people to mention), with
// slow mode's notice beside it.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Message } from "../protocol/types";
import { Composer } from "./composer";
import type { Conversation } from "./conversation";
import { h } from "./elements";
import { icon } from "./icons";
import { renderSlowNotice, slowNotice } from "./care";
import { messageElement, messageText, pendingElement, updatePending } from "./message";

/** Messages of one author closer together than this are shown as one group. */
const GROUP_MS = 5 * 60_000;
/** How close to the top a scroll has to come to fetch earlier messages (px). */
const LOAD_OLDER_PX = 150;

export class ChatPanel {
  readonly element: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly top: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly typingLine: HTMLElement;
  private readonly composer: Composer;
  private readonly error: HTMLElement;
  /** A workshop's banner above the list: its latest pin. */
  private readonly pinned: HTMLElement;
  /** Why the box is disabled (a workshop's chat is off), or that it is off for guests. */
  private readonly off: HTMLElement;
  /** "Slow mode: one message every 30 s", while it is on. */
  private readonly slow: HTMLElement;
  private placeholder = "Write a message…";
  private pinnedSignature = "";
  private readonly rendered = new Map<string, HTMLLIElement>();
  /** The version of each message its element shows: a newer one is drawn anew. */
  private readonly shownAs = new Map<string, Message>();
  /** Whether the list is scrolled to the bottom (new messages keep it there). */
  private atBottom = true;
  private savedScroll = 0;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly conversation: Conversation,
  ) {
    this.list = h("ol", { class: "messages", testid: "message-list", attrs: { "aria-label": "Messages" } });
    this.top = h("div", { class: "history-top" });
    this.empty = h(
      "div",
      { class: "empty-chat" },
      h("p", { class: "empty-title" }, "No messages yet — say hello"),
      h("p", { class: "muted" }, "Messages here are kept, so people who come later can read them."),
    );
    this.scroller = h(
      "div",
      {
        class: "scroller",
        attrs: { tabindex: 0, role: "log", "aria-live": "polite", "aria-relevant": "additions" },
      },
      this.top,
      this.empty,
      this.list,
    );
    this.scroller.addEventListener("scroll", () => this.scrolled(), { passive: true });
    this.typingLine = h("div", {
      class: "typing",
      testid: "typing-indicator",
      attrs: { "aria-live": "polite" },
    });

    this.composer = new Composer({
      testids: { input: "chat-input", send: "chat-send" },
      label: "Message",
      placeholder: "Write a message…",
      candidates: conversation.candidates,
      submit: (text, mentions) => this.submit(text, mentions),
      typed: () => {
        this.setError(null);
        if (this.composer.value.trim() !== "") this.client.chat.typing(this.state);
      },
    });
    this.error = h("p", {
      class: "chat-error",
      testid: "chat-error",
      attrs: { role: "alert", hidden: true },
    });
    this.pinned = h("div", { class: "pinned", testid: "pinned-message", attrs: { hidden: true } });
    this.off = h("p", { class: "chat-off", testid: "chat-off", attrs: { role: "status", hidden: true } });
    this.slow = slowNotice("slow-notice");
    this.element = h(
      "section",
      { class: "chat", attrs: { "aria-label": "Chat" } },
      this.pinned,
      this.scroller,
      this.typingLine,
      this.off,
      this.slow,
      this.composer.element,
      this.error,
    );
    this.renderMessages();
  }

  focus(): void {
    this.composer.focus();
  }

  setPlaceholder(text: string): void {
    this.placeholder = text;
    if (!this.composer.input.disabled) this.composer.input.placeholder = text;
  }

  /** A workshop's chat switch and pinned message, and who may pin. */
  renderWorkshop(): void {
    const view = this.state.workshop;
    const hosting = this.state.hosting;
    const chatOff = view !== null && !view.chat_enabled;
    const silenced = chatOff && !hosting;
    if (this.composer.input.disabled !== silenced) {
      this.composer.setDisabled(silenced, silenced ? "Chat is off" : this.placeholder);
    }
    this.off.hidden = !chatOff;
    this.off.textContent = hosting
      ? "Chat is off for guests: only hosts and co-hosts can write."
      : "The host turned chat off.";
    this.off.dataset.hosting = String(hosting);
    // Reacting, editing and deleting are writing too (docs/protocol.md, rule 1).
    this.element.classList.toggle("silenced", silenced);
    this.renderPinned(hosting);
  }

  /** Slow mode's notice (moderators are told it does not slow them), and who pins. */
  renderSlow(): void {
    renderSlowNotice(this.slow, this.state);
    this.list.classList.toggle("can-pin", this.state.pinning);
  }

  /** Every half second: how long slow mode still holds a message back. */
  tick(): void {
    for (const pending of this.client.chat.pending(this.state.id)) {
      if (pending.notBefore === null) continue;
      const element = this.rendered.get(`pending:${pending.clientMsgId}`);
      if (element) updatePending(element, pending);
    }
  }

  private renderPinned(hosting: boolean): void {
    const message = this.state.workshop?.pinned ?? null;
    const signature = JSON.stringify([message?.id ?? null, message?.pinned_at ?? null, hosting]);
    if (signature === this.pinnedSignature) return;
    this.pinnedSignature = signature;
    this.pinned.hidden = message === null;
    if (!message) {
      this.pinned.replaceChildren();
      return;
    }
    this.pinned.dataset.id = message.id;
    this.pinned.replaceChildren(
      icon("pin"),
      h(
        "div",
        { class: "pinned-body" },
        h("span", { class: "pinned-label" }, "Pinned · ", h("span", { class: "author" }, message.user.name)),
        messageText(message.deleted ? "This message was deleted" : message.text),
      ),
      hosting
        ? h(
            "button",
            {
              class: "icon-button",
              testid: "pinned-unpin",
              attrs: { type: "button", "aria-label": "Unpin", title: "Unpin" },
              on: { click: () => this.unpin(message.seq) },
            },
            icon("close"),
          )
        : "",
    );
  }

  private unpin(seq: number): void {
    this.client.chat.pin(this.state, seq, false).catch((error: unknown) => {
      this.setError(error instanceof Error ? error.message : String(error));
    });
  }

  /** The view came back on the page: scroll back to where the person was. */
  shown(): void {
    this.scroller.scrollTop = this.atBottom ? this.scroller.scrollHeight : this.savedScroll;
    this.maybeLoadOlder();
  }

  /** The view leaves the page, which forgets its scroll position. */
  hidden(): void {
    this.savedScroll = this.scroller.scrollTop;
  }

  setError(text: string | null): void {
    this.error.hidden = text === null;
    this.error.textContent = text ?? "";
  }

  /** A message the server refused: say why, and give the text back if the box is empty. */
  refused(text: string, reason: string): void {
    this.setError(`Not sent: ${reason}`);
    this.composer.restore(text);
  }

  renderMessages(): void {
    const me = this.client.me;
    const view = this.conversation.view();
    const { scroller, list } = this;
    const anchor = list.firstElementChild as HTMLElement | null;
    const anchorTop = anchor?.getBoundingClientRect().top ?? 0;

    const wanted: HTMLLIElement[] = [];
    const keep = new Set<string>();
    let previous: { user: string; ts: number } | null = null;
    for (const message of this.state.timeline.messages) {
      const key = message.id;
      keep.add(key);
      let element = this.rendered.get(key);
      const stale = element && this.shownAs.get(key) !== message && !this.conversation.editing.has(key);
      if (!element || stale) {
        const fresh = messageElement(message, view);
        element?.replaceWith(fresh);
        element = fresh;
        this.rendered.set(key, element);
        this.shownAs.set(key, message);
      }
      const follows =
        previous !== null && previous.user === message.user.id && message.ts - previous.ts < GROUP_MS;
      element.classList.toggle("follow", follows);
      previous = { user: message.user.id, ts: message.ts };
      wanted.push(element);
    }
    if (me) {
      for (const pending of this.client.chat.pending(this.state.id)) {
        const key = `pending:${pending.clientMsgId}`;
        keep.add(key);
        let element = this.rendered.get(key);
        if (!element) {
          element = pendingElement(pending, me);
          this.rendered.set(key, element);
        }
        updatePending(element, pending);
        element.classList.toggle("follow", previous?.user === me.id);
        previous = { user: me.id, ts: Date.now() };
        wanted.push(element);
      }
    }
    for (const [key, element] of this.rendered) {
      if (!keep.has(key)) {
        element.remove();
        this.rendered.delete(key);
        this.shownAs.delete(key);
      }
    }
    // Put the elements in order, touching only those out of place.
    let cursor = list.firstElementChild;
    for (const element of wanted) {
      if (cursor === element) {
        cursor = cursor.nextElementSibling;
      } else {
        list.insertBefore(element, cursor);
      }
    }

    this.renderTop();
    if (anchor && anchor.isConnected && list.firstElementChild !== anchor) {
      // Earlier messages came in above: keep what the person was reading in place.
      scroller.scrollTop += anchor.getBoundingClientRect().top - anchorTop;
    } else if (this.atBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    }
    this.maybeLoadOlder();
  }

  /** Draw every message anew (who this user is changed: "mine", their mentions). */
  redraw(): void {
    this.shownAs.clear();
    this.renderMessages();
  }

  renderTyping(): void {
    // Somebody this user blocks types unseen, as their messages are hidden.
    const names = this.state.typingNames(Date.now(), (user) => this.client.blocks.has(user));
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text;
  }

  private renderTop(): void {
    const timeline = this.state.timeline;
    const hasAny = timeline.messages.length > 0 || this.client.chat.pending(this.state.id).length > 0;
    this.empty.hidden = hasAny;
    this.top.replaceChildren();
    if (this.state.loadingOlder) {
      this.top.append(h("p", { class: "muted loading" }, "Loading earlier messages…"));
    } else if (timeline.hasOlder) {
      this.top.append(
        h(
          "button",
          { class: "link-button", attrs: { type: "button" }, on: { click: () => void this.loadOlder() } },
          "Load earlier messages",
        ),
      );
    } else if (timeline.messages.length > 0) {
      this.top.append(h("p", { class: "muted" }, `This is the beginning of ${this.state.title}.`));
    }
  }

  private submit(text: string, mentions: string[]): boolean {
    const problem = this.client.chat.send(this.state, text, { mentions });
    if (problem) {
      this.setError(problem);
      return false;
    }
    this.client.chat.sent(this.state.id);
    this.atBottom = true;
    this.scroller.scrollTop = this.scroller.scrollHeight;
    return true;
  }

  private scrolled(): void {
    const s = this.scroller;
    this.atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 48;
    if (s.scrollTop < LOAD_OLDER_PX) void this.loadOlder();
  }

  /** A list too short to scroll cannot be scrolled up: fetch more while there is room. */
  private maybeLoadOlder(): void {
    const s = this.scroller;
    if (s.clientHeight > 0 && s.scrollHeight <= s.clientHeight + LOAD_OLDER_PX) void this.loadOlder();
  }

  private async loadOlder(): Promise<void> {
    if (this.state.loadingOlder || !this.state.timeline.hasOlder || !this.state.live) return;
    try {
      await this.client.chat.loadOlder(this.state);
    } catch {
      this.top.replaceChildren(h("p", { class: "muted" }, "Earlier messages could not be loaded."));
    }
  }
}
