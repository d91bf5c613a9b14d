// "Mentions": the messages that named this user, across rooms, newest first; each says where,
// who and what, and opens its room. Here too the person may let the page notify them of a
// mention while they look elsewhere (asked only when they press the button, never on load).

import type { Client } from "../protocol/client";
import type { Mention } from "../protocol/types";
import { avatar, h, sentence } from "./elements";
import { icon } from "./icons";
import { messageText, shortTime } from "./message";
import { roomPath, type Router } from "./router";

/** Whether this browser can show desktop notifications at all. */
function canNotify(): boolean {
  return typeof Notification !== "undefined";
}

export class MentionsView {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly notifyRow: HTMLElement;
  private visible = false;

  constructor(
    private readonly client: Client,
    private readonly router: Router,
  ) {
    this.list = h("ul", {
      class: "mention-list",
      testid: "mentions-list",
      attrs: { "aria-label": "Mentions" },
    });
    this.empty = h(
      "div",
      { class: "people-empty muted" },
      h("p", {}, "Nobody has mentioned you yet."),
      h("p", {}, "When somebody writes @ and your name in a room you can read, it shows up here."),
    );
    this.notifyRow = h("div", { class: "notify-row" });
    this.element = h(
      "section",
      { class: "lobby mentions-page", testid: "mentions-page" },
      h(
        "header",
        { class: "lobby-header" },
        h("h1", {}, "Mentions"),
        h("p", { class: "muted" }, "Messages that name you, in every room, newest first."),
      ),
      this.notifyRow,
      h("div", { class: "card" }, this.list, this.empty),
    );
    client.mentions.on("changed", () => {
      if (!this.visible) return;
      client.mentions.read();
      this.render();
    });
  }

  show(): void {
    this.visible = true;
    this.client.mentions.read();
    this.render();
    this.client.mentions.load().catch((error: unknown) => {
      this.empty.hidden = false;
      this.empty.replaceChildren(
        h("p", {}, error instanceof Error ? sentence(error.message) : "The list could not be loaded."),
      );
    });
  }

  hide(): void {
    this.visible = false;
    this.element.remove();
  }

  private render(): void {
    const items = this.client.mentions.items;
    this.empty.hidden = items.length > 0 || !this.client.mentions.loaded;
    this.list.replaceChildren(...items.map((m) => this.item(m)));
    this.renderNotify();
  }

  private item(mention: Mention): HTMLLIElement {
    const { message, room } = mention;
    const me = this.client.me;
    const title = room.title || "Direct message";
    const open = h(
      "a",
      {
        class: "mention-item-link",
        testid: "mention-open",
        attrs: { href: roomPath(room.id), "aria-label": `${message.user.name} in ${title}: open the room` },
      },
      avatar(message.user, "m"),
      h(
        "div",
        { class: "mention-body" },
        h(
          "div",
          { class: "mention-meta" },
          h("span", { class: "mention-room", testid: "mention-room" }, title),
          h("span", { class: "author", testid: "mention-author" }, message.user.name),
          h("span", { class: "time" }, shortTime(message.ts)),
        ),
        messageText(message.text, me ? [{ ...me, me: true }] : []),
      ),
    );
    this.router.link(open);
    const item = h("li", { class: "mention-item", testid: "mention-item" }, open);
    item.dataset.roomId = room.id;
    item.dataset.id = message.id;
    return item;
  }

  /** The button that asks for notifications, or what was decided. */
  private renderNotify(): void {
    if (!canNotify()) {
      this.notifyRow.replaceChildren();
      return;
    }
    const permission = Notification.permission;
    if (permission === "default") {
      this.notifyRow.replaceChildren(
        h(
          "button",
          {
            class: "button quiet",
            testid: "mentions-notify",
            attrs: { type: "button" },
            on: { click: () => void Notification.requestPermission().then(() => this.renderNotify()) },
          },
          icon("at"),
          "Notify me of mentions while I am in another tab",
        ),
      );
    } else {
      this.notifyRow.replaceChildren(
        h(
          "p",
          { class: "muted", testid: "mentions-notify-status" },
          permission === "granted"
            ? "You get a notification when somebody mentions you while this tab is in the background."
            : "Notifications are blocked for this site in your browser's settings.",
        ),
      );
    }
  }
}

/** Tell the person of a mention on the desktop: only if they allowed it and look elsewhere. */
export function notifyMention(mention: Mention, open: () => void): void {
  if (!canNotify() || Notification.permission !== "granted" || !document.hidden) return;
  const { message, room } = mention;
  let notification: Notification;
  try {
    notification = new Notification(`${message.user.name} mentioned you in ${room.title || "a message"}`, {
      body: message.text.slice(0, 200),
      tag: message.id,
    });
  } catch (error) {
    // Some browsers (Chrome on Android) show notifications only through a service worker.
    console.warn("Mentions: no desktop notification", error);
    return;
  }
  notification.addEventListener("click", () => {
    window.focus();
    open();
    notification.close();
  });
}
