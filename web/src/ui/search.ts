// Search in one room, or everywhere the user may read: a field in the room's header, results
// over the chat. Results found everywhere are grouped by room; a click opens the room at the
// message, shown among the messages around it and highlighted.

import type { Client } from "../protocol/client";
import { RequestError } from "../protocol/connection";
import type { RoomState } from "../protocol/room";
import { around, operators, searchEverywhere } from "../protocol/search";
import { codePoints, type Found, limits, type Message } from "../protocol/types";
import { h, uid } from "./elements";
import { icon, kindIcon } from "./icons";
import { messageElement } from "./message";

/** Open a room at one of its messages (the app routes there, then calls `openAt`). */
export type OpenAt = (room: string, seq: number) => void;

const TYPING_PAUSE_MS = 350;

export class Search {
  /** The field, for the room header. */
  readonly field: HTMLElement;
  /** The results, laid over the chat. */
  readonly panel: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly summary: HTMLElement;
  private readonly results: HTMLOListElement;
  private readonly everywhere: HTMLInputElement;
  private readonly hint: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Answers to older queries that arrive late are dropped. */
  private asked = 0;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly open: OpenAt,
  ) {
    const id = uid("search");
    this.input = h("input", {
      testid: "search-input",
      attrs: {
        id,
        type: "search",
        placeholder: "Search messages",
        autocomplete: "off",
        maxlength: limits.query * 2,
      },
      on: {
        input: () => {
          clearTimeout(this.timer);
          if (this.input.value.trim() === "") this.close();
          else this.timer = setTimeout(() => void this.run(), TYPING_PAUSE_MS);
        },
        keydown: (event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            clearTimeout(this.timer);
            void this.run();
          } else if (event.key === "Escape") {
            this.input.value = "";
            this.close();
          }
        },
      },
    });
    this.everywhere = h("input", {
      testid: "search-everywhere",
      attrs: { type: "checkbox", title: "Search every room you may read" },
      on: {
        change: () => {
          this.input.placeholder = this.everywhere.checked ? "Search everywhere" : "Search messages";
          this.hint.hidden = !this.everywhere.checked;
          if (this.input.value.trim() !== "") void this.run();
        },
      },
    });
    this.field = h(
      "div",
      { class: "search-field", attrs: { role: "search" } },
      h("label", { class: "sr-only", attrs: { for: id } }, "Search messages"),
      icon("search"),
      this.input,
      h(
        "label",
        { class: "search-scope", attrs: { title: "Search every room you may read" } },
        this.everywhere,
        "All rooms",
      ),
    );
    this.hint = h(
      "dl",
      { class: "search-hint", testid: "search-hint", attrs: { hidden: true } },
      ...operators.flatMap(([example, meaning]) => [
        h("dt", {}, h("code", {}, example)),
        h("dd", {}, meaning),
      ]),
    );
    this.summary = h("p", { class: "search-summary", attrs: { "aria-live": "polite" } });
    this.results = h("ol", { class: "messages" });
    this.panel = h(
      "section",
      {
        class: "search-results",
        testid: "search-results",
        attrs: { hidden: true, "aria-label": "Search results" },
      },
      h(
        "div",
        { class: "search-head" },
        this.summary,
        h(
          "button",
          {
            class: "icon-button",
            attrs: { type: "button", "aria-label": "Close search" },
            on: {
              click: () => {
                this.input.value = "";
                this.close();
              },
            },
          },
          icon("close"),
        ),
      ),
      this.hint,
      this.results,
    );
  }

  /** Show the messages around `seq` in this room, that one highlighted (a result opened). */
  async openAt(seq: number): Promise<void> {
    const asked = ++this.asked;
    this.panel.hidden = false;
    this.hint.hidden = true;
    this.summary.textContent = "Opening the message…";
    try {
      const messages = await around(this.client.connection, this.state.id, seq);
      const me = this.client.me?.id;
      const items = messages.map((m) => {
        const item = messageElement(m, { me: me ?? null });
        if (m.seq === seq) {
          item.classList.add("found");
          item.dataset.testid = "search-found";
          item.setAttribute("aria-current", "true");
        }
        return item;
      });
      this.show(asked, "The message found, with the messages around it", items);
      this.results.querySelector(".found")?.scrollIntoView({ block: "center" });
    } catch (error) {
      this.show(
        asked,
        error instanceof RequestError ? error.message : "The message could not be opened.",
        [],
      );
    }
  }

  close(): void {
    this.asked += 1;
    this.panel.hidden = true;
    this.results.replaceChildren();
  }

  private async run(): Promise<void> {
    const query = this.input.value.trim();
    if (query === "") return this.close();
    const asked = ++this.asked;
    this.panel.hidden = false;
    if (codePoints(query) > limits.query) {
      this.show(asked, `A search can be at most ${limits.query} characters.`, []);
      return;
    }
    this.summary.textContent = "Searching…";
    try {
      if (this.everywhere.checked) {
        const groups = await searchEverywhere(this.client.connection, query);
        const count = groups.reduce((n, group) => n + group.messages.length, 0);
        const text = count
          ? `${count === 1 ? "1 message" : `${count} messages`} matching “${query}” in ${groups.length === 1 ? "1 room" : `${groups.length} rooms`}`
          : `No messages match “${query}”.`;
        this.show(
          asked,
          text,
          groups.map((group) => this.group(group)),
        );
        return;
      }
      const found = await this.client.chat.search(this.state, query);
      const count = found.length === 1 ? "1 message" : `${found.length} messages`;
      const text = found.length ? `${count} matching “${query}”` : `No messages match “${query}”.`;
      const me = this.client.me?.id;
      this.show(
        asked,
        text,
        found.map((m) => messageElement(m, { me: me ?? null })),
      );
    } catch (error) {
      const reason = error instanceof RequestError ? error.message : "Search failed.";
      this.show(asked, reason, []);
    }
  }

  /** One room's results: its name, then its messages, each a button that opens it there. */
  private group(found: Found): HTMLLIElement {
    const me = this.client.me?.id;
    const title = found.room.title || "Conversation";
    return h(
      "li",
      { class: "search-group", testid: "search-group", attrs: { "data-room": found.room.id } },
      h("h3", { class: "search-room", testid: "search-room" }, kindIcon(found.room.kind), title),
      h(
        "ol",
        { class: "messages" },
        ...found.messages.map((m: Message) => this.hit(found.room.id, title, m, me ?? null)),
      ),
    );
  }

  /** A message found: the whole of it opens the room there (click, Enter or Space). */
  private hit(room: string, title: string, message: Message, me: string | null): HTMLLIElement {
    const item = messageElement(message, { me });
    item.classList.add("search-hit");
    item.dataset.testid = "search-hit";
    item.tabIndex = 0;
    item.setAttribute("role", "button");
    item.setAttribute("aria-label", `Open in ${title}: ${message.user.name}, ${message.text}`);
    item.addEventListener("click", () => this.open(room, message.seq));
    item.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      this.open(room, message.seq);
    });
    return item;
  }

  private show(asked: number, summary: string, items: HTMLElement[]): void {
    if (asked !== this.asked) return;
    this.summary.textContent = summary;
    this.results.replaceChildren(...items);
  }
}
