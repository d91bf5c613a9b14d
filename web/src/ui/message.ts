// One chat message as an element: author, time, and the text with its links clickable.
// The text is only ever set as text nodes; links are <a> elements built here.

import type { Pending } from "../protocol/outbox";
import type { Message, User } from "../protocol/types";
import { avatar, h } from "./elements";
import { icon } from "./icons";

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence rather than a link. */
const TRAILING = /[.,;:!?'"]+$/;

/** The text as nodes: plain text, and http(s) links opening in a new tab. */
export function linkify(text: string): Node[] {
  const nodes: Node[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const start = match.index ?? 0;
    url = url.replace(TRAILING, "");
    // A closing parenthesis belongs to the link only if the link opened one.
    while (url.endsWith(")") && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) {
      url = url.slice(0, -1);
    }
    let href: URL;
    try {
      href = new URL(url);
    } catch {
      continue;
    }
    if (href.protocol !== "http:" && href.protocol !== "https:") continue;
    if (start > last) nodes.push(document.createTextNode(text.slice(last, start)));
    const anchor = h("a", { attrs: { href: href.href, target: "_blank", rel: "noopener noreferrer" } });
    anchor.textContent = url;
    nodes.push(anchor);
    last = start + url.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });

function when(ts: number): HTMLTimeElement {
  const date = new Date(ts);
  const today = new Date().toDateString() === date.toDateString();
  const shown = today ? timeFormat.format(date) : `${dayFormat.format(date)}, ${timeFormat.format(date)}`;
  return h(
    "time",
    { class: "time", attrs: { datetime: date.toISOString(), title: dateFormat.format(date) } },
    shown,
  );
}

export function messageText(text: string): HTMLElement {
  const textElement = h("div", { class: "text", testid: "message-text", attrs: { dir: "auto" } });
  textElement.append(...linkify(text));
  return textElement;
}

function body(user: User, text: string, meta: Node[]): HTMLElement {
  const textElement = messageText(text);
  return h(
    "div",
    { class: "body" },
    h("div", { class: "meta" }, h("span", { class: "author", testid: "message-author" }, user.name), ...meta),
    textElement,
  );
}

/** A message; with `pin`, it carries a pin button (shown to a workshop's hosts). */
export function messageElement(message: Message, mine: boolean, pin?: (id: string) => void): HTMLLIElement {
  const element = h(
    "li",
    { class: mine ? "message mine" : "message", testid: "message" },
    avatar(message.user),
    body(message.user, message.text, [when(message.ts)]),
    pin
      ? h(
          "button",
          {
            class: "message-pin",
            testid: "message-pin",
            attrs: {
              type: "button",
              "aria-pressed": "false",
              "aria-label": "Pin message",
              title: "Pin for everyone",
            },
            on: { click: () => pin(message.id) },
          },
          icon("pin"),
        )
      : null,
  );
  element.dataset.seq = String(message.seq);
  element.dataset.id = message.id;
  element.dataset.user = message.user.id;
  element.dataset.ts = String(message.ts);
  return element;
}

/** A message typed here that the server has not acknowledged yet. */
export function pendingElement(pending: Pending, me: User): HTMLLIElement {
  const content = body(me, pending.text, []);
  content.append(h("div", { class: "status" }));
  const element = h("li", { class: "message mine pending", testid: "pending-message" }, avatar(me), content);
  element.dataset.user = me.id;
  updatePending(element, pending);
  return element;
}

export function updatePending(element: HTMLElement, pending: Pending): void {
  const status = element.querySelector(".status");
  if (status) {
    status.textContent =
      pending.state === "sending" ? "Sending…" : "Not sent yet: it goes out when the connection is back.";
  }
  element.classList.toggle("waiting", pending.state === "waiting");
}
