// Search in one room: a field in the room's header, results over the chat.

import type { Client } from "../protocol/client";
import { RequestError } from "../protocol/connection";
import type { RoomState } from "../protocol/room";
import { codePoints, limits } from "../protocol/types";
import { h, uid } from "./elements";
import { icon } from "./icons";
import { messageElement } from "./message";

const TYPING_PAUSE_MS = 350;

export class Search {
  /** The field, for the room header. */
  readonly field: HTMLElement;
  /** The results, laid over the chat. */
  readonly panel: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly summary: HTMLElement;
  private readonly results: HTMLOListElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Answers to older queries that arrive late are dropped. */
  private asked = 0;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
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
    this.field = h(
      "div",
      { class: "search-field", attrs: { role: "search" } },
      h("label", { class: "sr-only", attrs: { for: id } }, "Search messages in this room"),
      icon("search"),
      this.input,
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
      this.results,
    );
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

  private show(asked: number, summary: string, items: HTMLElement[]): void {
    if (asked !== this.asked) return;
    this.summary.textContent = summary;
    this.results.replaceChildren(...items);
  }
}
