// One chat message as an element: author, time, the text with its links clickable and its
// mentions marked; for a reply the quote of its thread's first message, for a first message
// its replies; its reactions, "(edited)", its pin, a deleted message's tombstone, and the bar of what
// one can do with it (reply, react, edit, delete, pin, report); a message of somebody this user
// blocks as a collapsed line. The text is only ever set as text nodes; links are <a> elements
// built here.

import { mentionSpans } from "../protocol/mentions";
import type { Pending } from "../protocol/outbox";
import type { Emoji, Message, User } from "../protocol/types";
import { avatar, h } from "./elements";
import { icon, type IconName } from "./icons";
import { pickReaction, reactions } from "./reactions";

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

/** "14:05" today, "Mon, 7 Dec, 14:05" another day. */
export function shortTime(ts: number): string {
  const date = new Date(ts);
  const today = new Date().toDateString() === date.toDateString();
  return today ? timeFormat.format(date) : `${dayFormat.format(date)}, ${timeFormat.format(date)}`;
}

function when(ts: number): HTMLTimeElement {
  const date = new Date(ts);
  return h(
    "time",
    { class: "time", attrs: { datetime: date.toISOString(), title: dateFormat.format(date) } },
    shortTime(ts),
  );
}

/** A mentioned user whose `@Name` is marked in the text. */
export interface Named extends User {
  /** This user is the one reading: marked more strongly. */
  me: boolean;
}

export function messageText(text: string, named: Named[] = []): HTMLElement {
  const textElement = h("div", { class: "text", testid: "message-text", attrs: { dir: "auto" } });
  let last = 0;
  for (const span of mentionSpans(text, named)) {
    textElement.append(...linkify(text.slice(last, span.start)));
    const mark = h(
      "span",
      { class: span.user.me ? "mention mention-me" : "mention", testid: "mention" },
      text.slice(span.start, span.end),
    );
    mark.dataset.userId = span.user.id;
    textElement.append(mark);
    last = span.end;
  }
  textElement.append(...linkify(text.slice(last)));
  return textElement;
}

/** What a message element needs besides the message; without `actions` it only shows. */
export interface MessageView {
  me: string | null;
  /** A mentioned user's name, where this page knows it. */
  nameOf?: (user: string) => string | null;
  actions?: MessageActions;
  /** Shown in a thread's panel: no quote (the thread's first message is right above). */
  inThread?: boolean;
  /** A message of somebody this user blocks, not shown (yet): a collapsed line instead. */
  hidden?: (message: Message) => boolean;
  /** Show one hidden message after all. */
  reveal?: (message: Message) => void;
}

/** What the person can do with a message. */
export interface MessageActions {
  /** Delete anybody's message (a workshop's hosts and co-hosts). */
  moderates: boolean;
  /** Open the message's thread (its own, or the one it answers). */
  thread(seq: number): void;
  react(message: Message, emoji: Emoji, on: boolean): void;
  edit(element: HTMLLIElement, message: Message): void;
  remove(message: Message): void;
  /** Pin or unpin (shown where the list says `can-pin`: those who pin in this room). */
  pin?: (message: Message) => void;
  /** Report somebody else's message to the room's moderators. */
  report?: (message: Message) => void;
  /** The room's moderators open what an edited message said before (where they may). */
  versions?: { may(message: Message): boolean; show(message: Message, marker: HTMLElement): void };
}

function meta(user: User, ts: number | null, pinned: HTMLElement | null = null): HTMLElement {
  return h(
    "div",
    { class: "meta" },
    h(
      "span",
      { class: "author", testid: "message-author", attrs: { "data-profile-user": user.id } },
      user.name,
    ),
    ts === null ? null : when(ts),
    pinned,
  );
}

/** "Pinned", and by whom and when in its tooltip. */
function pinMark(message: Message): HTMLElement | null {
  if (message.pinned_at === null) return null;
  const by = message.pinned_by ? ` by ${message.pinned_by.name}` : "";
  return h(
    "span",
    {
      class: "pin-mark",
      testid: "message-pinned",
      attrs: { title: `Pinned${by}, ${dateFormat.format(new Date(message.pinned_at))}` },
    },
    icon("pin"),
    "Pinned",
  );
}

function named(message: Message, view: MessageView): Named[] {
  const people: Named[] = [];
  for (const id of message.mentions) {
    const name = view.nameOf?.(id);
    if (name) people.push({ id, name, me: id === view.me });
  }
  return people;
}

/** The first message a reply answers, as it is now; a click opens the thread. */
function quote(message: Message, view: MessageView): HTMLElement | null {
  const quoted = message.quote;
  const thread = message.reply_to;
  if (thread === null || !quoted || view.inThread) return null;
  const actions = view.actions;
  const element = h(
    "button",
    {
      class: quoted.deleted ? "quote deleted" : "quote",
      testid: "message-quote",
      attrs: { type: "button", title: "Open the thread", disabled: !actions },
      on: { click: () => actions?.thread(thread) },
    },
    icon("reply", "icon quote-icon"),
  );
  if (quoted.deleted) {
    element.append(h("span", { class: "quote-text", testid: "quote-text" }, "Original message deleted"));
  } else {
    element.append(
      h("span", { class: "quote-author", testid: "quote-author" }, quoted.user.name),
      h("span", { class: "quote-text", testid: "quote-text" }, quoted.text),
    );
  }
  return element;
}

function threadSummary(message: Message, view: MessageView): HTMLElement | null {
  if (message.replies === 0 || view.inThread) return null;
  const count = message.replies === 1 ? "1 reply" : `${message.replies} replies`;
  const last = message.last_reply_at !== null ? `· last reply ${shortTime(message.last_reply_at)}` : "";
  const actions = view.actions;
  return h(
    "button",
    {
      class: "thread-summary",
      testid: "thread-summary",
      attrs: { type: "button", disabled: !actions, title: "Open the thread" },
      on: { click: () => actions?.thread(message.seq) },
    },
    icon("thread"),
    h("span", { class: "thread-count", testid: "thread-count" }, count),
    h("span", { class: "thread-last" }, last),
  );
}

function actionButton(
  testid: string,
  label: string,
  name: IconName,
  act: (button: HTMLButtonElement) => void,
): HTMLButtonElement {
  const button: HTMLButtonElement = h(
    "button",
    {
      class: "message-action",
      testid,
      attrs: { type: "button", "aria-label": label, title: label },
      on: { click: () => act(button) },
    },
    icon(name),
  );
  return button;
}

/** The bar shown on hover and keyboard focus. */
function actionBar(message: Message, mine: boolean, actions: MessageActions, inThread: boolean): HTMLElement {
  const thread = message.reply_to ?? message.seq;
  return h(
    "div",
    {
      class: "message-actions",
      testid: "message-actions",
      attrs: { role: "toolbar", "aria-label": "Message actions" },
    },
    actionButton("message-react", "Add reaction", "smile", (button) =>
      pickReaction(button, message, (emoji, on) => actions.react(message, emoji, on)),
    ),
    inThread && message.reply_to === null
      ? null
      : actionButton("message-reply", "Reply in thread", "reply", () => actions.thread(thread)),
    mine
      ? actionButton("message-edit", "Edit", "edit", (button) => {
          const element = button.closest("li");
          if (element) actions.edit(element, message);
        })
      : null,
    mine || actions.moderates
      ? actionButton("message-delete", "Delete", "trash", () => actions.remove(message))
      : null,
    !mine && actions.report
      ? actionButton("message-report", "Report to the moderators", "flag", () => actions.report?.(message))
      : null,
    actions.pin
      ? h(
          "button",
          {
            class: "message-action message-pin",
            testid: "message-pin",
            attrs: {
              type: "button",
              "aria-pressed": String(message.pinned_at !== null),
              "aria-label": message.pinned_at !== null ? "Unpin message" : "Pin message",
              title: message.pinned_at !== null ? "Unpin" : "Pin for everyone",
            },
            on: { click: () => actions.pin?.(message) },
          },
          icon("pin"),
        )
      : null,
  );
}

/** "(edited)"; for a moderator, a button that opens what the message said before. */
function editedMarker(message: Message, editedAt: number, view: MessageView): HTMLElement {
  const title = `Edited ${dateFormat.format(new Date(editedAt))}`;
  const versions = view.actions?.versions;
  if (!versions?.may(message)) {
    return h("span", { class: "edited", testid: "message-edited", attrs: { title } }, "(edited)");
  }
  const button: HTMLButtonElement = h(
    "button",
    {
      class: "edited edited-open",
      testid: "message-edited",
      attrs: { type: "button", title: `${title}: see what it said before`, "aria-haspopup": "dialog" },
      on: { click: () => versions.show(message, button) },
    },
    "(edited)",
  );
  return button;
}

/** In place of a message from somebody this user blocks: a line that can show it once. */
function blockedElement(message: Message, view: MessageView): HTMLLIElement {
  const element = h(
    "li",
    { class: "message blocked", testid: "blocked-message" },
    h("span", { class: "blocked-note" }, icon("block"), "Message from someone you blocked"),
    h(
      "button",
      {
        class: "link-button",
        testid: "blocked-show",
        attrs: { type: "button" },
        on: { click: () => view.reveal?.(message) },
      },
      "Show",
    ),
  );
  element.dataset.seq = String(message.seq);
  element.dataset.id = message.id;
  element.dataset.user = message.user.id;
  element.dataset.ts = String(message.ts);
  return element;
}

/** A message with everything it carries; with `view.actions`, what one can do with it. */
export function messageElement(message: Message, view: MessageView): HTMLLIElement {
  if (!message.deleted && view.hidden?.(message)) return blockedElement(message, view);
  const mine = message.user.id === view.me;
  const classes = ["message"];
  if (mine) classes.push("mine");
  if (message.deleted) classes.push("deleted");
  if (message.mentions.includes(view.me ?? "")) classes.push("mentions-me");
  if (message.pinned_at !== null) classes.push("is-pinned");
  const content = message.deleted
    ? h("div", { class: "tombstone", testid: "message-deleted" }, "This message was deleted")
    : h(
        "div",
        { class: "line" },
        messageText(message.text, named(message, view)),
        message.edited_at !== null ? editedMarker(message, message.edited_at, view) : null,
      );
  const element = h(
    "li",
    // Focusable by a tap (not by Tab): on a touch screen, the tapped message shows its actions.
    { class: classes.join(" "), testid: "message", attrs: { tabindex: "-1" } },
    avatar(message.user),
    h(
      "div",
      { class: "body" },
      meta(message.user, message.ts, pinMark(message)),
      quote(message, view),
      content,
      reactions(message, view),
      threadSummary(message, view),
    ),
    view.actions && !message.deleted ? actionBar(message, mine, view.actions, view.inThread ?? false) : null,
  );
  element.dataset.seq = String(message.seq);
  element.dataset.id = message.id;
  element.dataset.user = message.user.id;
  element.dataset.ts = String(message.ts);
  element.dataset.rev = String(message.rev);
  if (view.me) element.dataset.me = view.me;
  return element;
}

/** A message typed here that the server has not acknowledged yet. */
export function pendingElement(pending: Pending, me: User): HTMLLIElement {
  const content = h(
    "div",
    { class: "body" },
    meta(me, null),
    messageText(pending.text),
    h("div", { class: "status", testid: "pending-status" }),
  );
  const element = h("li", { class: "message mine pending", testid: "pending-message" }, avatar(me), content);
  element.dataset.user = me.id;
  updatePending(element, pending);
  return element;
}

export function updatePending(element: HTMLElement, pending: Pending): void {
  const status = element.querySelector<HTMLElement>(".status");
  const wait = pending.notBefore !== null ? Math.ceil((pending.notBefore - Date.now()) / 1000) : 0;
  if (status) {
    status.textContent =
      pending.state === "sending"
        ? "Sending…"
        : wait > 0
          ? `Slow mode: this goes out by itself in ${wait} s.`
          : pending.slow !== null
            ? "Sending…"
            : "Not sent yet: it goes out when the connection is back.";
    status.dataset.slow = String(wait > 0);
  }
  element.classList.toggle("waiting", pending.state === "waiting");
}
