// "People you met": everybody with whom both said "stay in touch" at a table, the latest first,
// each with where and when, and a one-click direct message.

import type { Client } from "../protocol/client";
import { avatar, h, sentence } from "./elements";
import { icon } from "./icons";

export class PeopleView {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly empty: HTMLElement;

  constructor(
    private readonly client: Client,
    private readonly openDm: (user: string) => void,
  ) {
    this.list = h("ul", {
      class: "people-list",
      testid: "people-list",
      attrs: { "aria-label": "People you met" },
    });
    this.empty = h(
      "div",
      { class: "people-empty muted" },
      h("p", {}, "Nobody yet."),
      h(
        "p",
        {},
        "After a round of speed networking or a breakout table, say “Stay in touch” to the people you liked. " +
          "When they say so too, they appear here.",
      ),
    );
    this.element = h(
      "section",
      { class: "lobby people-page", testid: "people-page" },
      h("header", { class: "lobby-header" }, h("h1", {}, "People you met")),
      h("div", { class: "card" }, this.list, this.empty),
    );
    client.tables.on("met", () => this.render());
  }

  show(): void {
    this.render();
    this.client.tables.loadPeople().catch((error: unknown) => {
      this.empty.hidden = false;
      this.empty.replaceChildren(
        h("p", {}, error instanceof Error ? sentence(error.message) : "The list could not be loaded."),
      );
    });
  }

  render(): void {
    const met = this.client.tables.met ?? [];
    this.empty.hidden = met.length > 0;
    this.list.replaceChildren(
      ...met.map((person) => {
        const when = new Date(person.at).toLocaleString(undefined, {
          dateStyle: "medium",
          timeStyle: "short",
        });
        const item = h(
          "li",
          { class: "met-person", testid: "met-person" },
          avatar(person.user, "m"),
          h(
            "div",
            { class: "met-text" },
            h("span", { class: "met-name", testid: "met-name" }, person.user.name),
            h(
              "span",
              { class: "muted" },
              `${person.room ? `Met in ${person.room.title || "a room"} · ` : ""}${when}`,
            ),
          ),
          h(
            "button",
            {
              class: "button small primary",
              testid: "met-message",
              attrs: { type: "button", title: `Send ${person.user.name} a direct message` },
              on: { click: () => this.openDm(person.user.id) },
            },
            icon("chat"),
            "Message",
          ),
        );
        item.dataset.userId = person.user.id;
        return item;
      }),
    );
  }
}
