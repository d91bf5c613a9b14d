// The People page: who asked to stay in touch (yes, or no without telling them), whom you asked,
// those you are in touch with (with what they share of their contact card, and what you share
// with each), and the people you met (at a table, cameras on in a coffee room, in direct
// messages); each with a headline, where and when, a one-click direct message. Your own
// contact card is edited here too (ui/contactcard.ts).

import type { Client } from "../protocol/client";
import type { Encounter, Met } from "../protocol/types";
import { CardEditor, sharedCard, sharingToggles } from "./contactcard";
import { avatar, h, sentence, type Child } from "./elements";
import { icon } from "./icons";

type Action = {
  label: string;
  testid: string;
  primary?: boolean;
  title?: string;
  disabled?: boolean;
  run: () => Promise<void>;
};

export class PeopleView {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly asked: HTMLUListElement;
  private readonly asking: HTMLUListElement;
  private readonly askedCard: HTMLElement;
  private readonly askingCard: HTMLElement;
  private readonly encounters: HTMLUListElement;
  private readonly encountersCard: HTMLElement;
  private readonly cardEditor: CardEditor;
  private readonly empty: HTMLElement;
  private readonly error: HTMLElement;

  constructor(
    private readonly client: Client,
    private readonly openDm: (user: string) => void,
  ) {
    const list = (testid: string, label: string): HTMLUListElement =>
      h("ul", { class: "people-list", testid, attrs: { "aria-label": label } });
    this.list = list("people-list", "In touch");
    this.asked = list("asked-list", "Asked you");
    this.asking = list("asking-list", "You asked");
    this.encounters = list("encounters-list", "People you met");
    this.cardEditor = new CardEditor(client);
    this.empty = h(
      "div",
      { class: "people-empty muted" },
      h("p", {}, "Nobody yet."),
      h(
        "p",
        {},
        "Say “Stay in touch” after a round of speed networking or a breakout table, or on somebody's " +
          "card (rest the pointer on their name). When they say yes, they appear here.",
      ),
    );
    this.error = h("p", { class: "error", attrs: { hidden: true } });
    this.askedCard = h(
      "div",
      { class: "card", testid: "asked-card" },
      h("h2", { class: "card-title" }, "Asked you"),
      h("p", { class: "muted" }, "They would like to stay in touch. If you say no, they are not told."),
      this.asked,
    );
    this.askingCard = h(
      "div",
      { class: "card", testid: "asking-card" },
      h("h2", { class: "card-title" }, "You asked"),
      this.asking,
    );
    this.encountersCard = h(
      "div",
      { class: "card", testid: "encounters-card" },
      h("h2", { class: "card-title" }, "People you met"),
      h("p", { class: "muted" }, "At a table, in a coffee room with both cameras on, or in direct messages."),
      this.encounters,
    );
    this.element = h(
      "section",
      { class: "lobby people-page", testid: "people-page" },
      h("header", { class: "lobby-header" }, h("h1", {}, "People")),
      this.error,
      this.askedCard,
      h("div", { class: "card" }, h("h2", { class: "card-title" }, "In touch"), this.list, this.empty),
      this.askingCard,
      this.encountersCard,
      this.cardEditor.element,
    );
    client.people.on("changed", () => this.render());
  }

  show(): void {
    this.render();
    this.client.people.load().catch((error: unknown) => this.failed(error));
  }

  render(): void {
    const people = this.client.people;
    const met = people.met ?? [];
    this.empty.hidden = met.length > 0;
    this.cardEditor.render(people.card);
    this.list.replaceChildren(
      ...met.map((person) =>
        this.item(
          person,
          "met",
          [
            {
              label: "Message",
              testid: "met-message",
              primary: true,
              title: `Send ${person.user.name} a direct message`,
              run: async () => this.openDm(person.user.id),
            },
            {
              label: "Remove",
              testid: "met-remove",
              title: `No longer in touch with ${person.user.name}`,
              run: () => people.remove(person.user.id),
            },
          ],
          [
            sharedCard(person.card),
            sharingToggles(person.user.name, person.sharing ?? [], (fields) =>
              people.share(person.user.id, fields).catch((error: unknown) => this.failed(error)),
            ),
          ],
        ),
      ),
    );
    this.askedCard.hidden = people.asked.length === 0;
    this.asked.replaceChildren(
      ...people.asked.map((person) =>
        this.item(person, "asked", [
          {
            label: "Stay in touch",
            testid: "asked-accept",
            primary: true,
            run: () => people.stay(person.user.id, person.user.name),
          },
          { label: "No, thanks", testid: "asked-decline", run: () => people.decline(person.user.id) },
        ]),
      ),
    );
    this.askingCard.hidden = people.asking.length === 0;
    this.asking.replaceChildren(
      ...people.asking.map((person) =>
        this.item(person, "asking", [
          { label: "Withdraw", testid: "asking-withdraw", run: () => people.remove(person.user.id) },
        ]),
      ),
    );
    this.encountersCard.hidden = people.encounters.length === 0;
    this.encounters.replaceChildren(...people.encounters.map((person) => this.encounter(person)));
  }

  private encounter(person: Encounter): HTMLLIElement {
    const people = this.client.people;
    const title = person.room?.title || "a room";
    const where =
      person.how === "dm"
        ? "Direct messages"
        : person.how === "camera"
          ? `Cameras on in ${title}`
          : `At a table in ${title}`;
    const asked = people.standing(person.user.id) !== null;
    return this.item(
      { user: person.user, room: null, at: person.at, headline: person.headline },
      "encounter",
      [
        {
          label: "Message",
          testid: "encounter-message",
          title: `Send ${person.user.name} a direct message`,
          run: async () => this.openDm(person.user.id),
        },
        asked
          ? { label: "Asked", testid: "encounter-stay", disabled: true, run: async () => undefined }
          : {
              label: "Stay in touch",
              testid: "encounter-stay",
              primary: true,
              run: () => people.stay(person.user.id, person.user.name),
            },
      ],
      [],
      `${where} · `,
    );
  }

  private item(
    person: Met,
    kind: "met" | "asked" | "asking" | "encounter",
    actions: Action[],
    more: Child[] = [],
    place?: string,
  ): HTMLLIElement {
    const when = new Date(person.at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    const where =
      place ??
      (person.room ? `${kind === "met" ? "Met in" : "From"} ${person.room.title || "a room"} · ` : "");
    const item = h(
      "li",
      { class: "met-person", testid: `${kind}-person` },
      avatar(person.user, "m"),
      h(
        "div",
        { class: "met-text" },
        h("span", { class: "met-name", testid: "met-name" }, person.user.name),
        person.headline
          ? h("span", { class: "met-headline", testid: "met-headline" }, person.headline)
          : null,
        h("span", { class: "muted" }, `${where}${when}`),
        ...more,
      ),
      ...actions.map((action) =>
        h(
          "button",
          {
            class: action.primary ? "button small primary" : "button small",
            testid: action.testid,
            attrs: { type: "button", title: action.title ?? null, disabled: action.disabled ?? false },
            on: { click: () => void action.run().catch((error: unknown) => this.failed(error)) },
          },
          action.testid.endsWith("-message") ? icon("chat") : null,
          action.label,
        ),
      ),
    );
    item.dataset.userId = person.user.id;
    return item;
  }

  private failed(error: unknown): void {
    this.error.hidden = false;
    this.error.textContent =
      error instanceof Error ? sentence(error.message) : "The list could not be loaded.";
  }
}
