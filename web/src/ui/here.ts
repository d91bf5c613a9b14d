// "Who is here", on the home page: the people online in the public rooms (`online:list`),
// each with their headline and their rooms, a button to message them and a link to join them;
// and one's own switch to be left out of it (the profile's `invisible`).

import type { Client } from "../protocol/client";
import type { Online } from "../protocol/types";
import { avatar, h, sentence } from "./elements";
import { roomPath, type Router } from "./router";

/** At most one `online:list` this often: it reads up to 1,000 people, and joins come in bursts. */
const EVERY_MS = 5_000;

export class HereList {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly state: HTMLElement;
  private readonly invisible: HTMLInputElement;
  private last = 0;

  constructor(
    private readonly client: Client,
    private readonly router: Router,
    private readonly openDm: (user: string) => void,
  ) {
    this.list = h("ul", { class: "here-list", testid: "here-list", attrs: { "aria-label": "Who is here" } });
    this.state = h("p", { class: "muted", attrs: { "aria-live": "polite" } }, "Loading…");
    this.invisible = h("input", {
      testid: "here-invisible",
      attrs: { type: "checkbox" },
      on: { change: () => void this.setInvisible(this.invisible.checked) },
    });
    client.profiles.on("mine", (profile) => (this.invisible.checked = profile.invisible === true));
    this.element = h(
      "section",
      { class: "card here-card", testid: "who-is-here", attrs: { "aria-label": "Who is here" } },
      h("h2", {}, "Who is here"),
      h("p", { class: "muted" }, "People in the public rooms now. Say hello, or join them."),
      this.state,
      this.list,
      h("label", { class: "check here-hide" }, this.invisible, h("span", {}, "Hide me from this list")),
    );
  }

  /** Ask again, unless asked within `EVERY_MS` (the lobby's own timer brings it back). */
  async refresh(force = false): Promise<void> {
    const me = this.client.me;
    if (!me || (!force && Date.now() - this.last < EVERY_MS)) return;
    this.last = Date.now();
    try {
      const [{ people, more }, mine] = await Promise.all([
        this.client.profiles.online(),
        this.client.profiles.own(me.id),
      ]);
      this.invisible.checked = mine.invisible === true;
      this.render(people, more);
    } catch (error) {
      console.warn("HereList: online:list failed", error);
    }
  }

  private render(people: Online[], more: boolean): void {
    this.state.hidden = people.length > 0 && !more;
    this.state.textContent =
      people.length === 0
        ? "Nobody else is in a public room right now."
        : `Showing the first ${people.length}.`;
    this.list.replaceChildren(...people.map((person) => this.item(person)));
  }

  private item(person: Online): HTMLLIElement {
    const { user } = person;
    const rooms = person.rooms.map((room) =>
      this.router.link(
        h("a", { class: "here-room", testid: "here-room", attrs: { href: roomPath(room.id) } }, room.title),
      ),
    );
    const item = h(
      "li",
      { class: "here-item", testid: "here-person" },
      h("span", { attrs: { "data-profile-user": user.id } }, avatar(user, "s")),
      h(
        "span",
        { class: "who" },
        h("span", { class: "name" }, user.name),
        person.headline ? h("span", { class: "headline", testid: "here-headline" }, person.headline) : null,
        h(
          "span",
          { class: "here-rooms" },
          "in ",
          ...rooms.flatMap((link, i) => (i === 0 ? [link] : [", ", link])),
        ),
      ),
      h(
        "button",
        {
          class: "button small",
          testid: "here-message",
          attrs: { type: "button", "aria-label": `Message ${user.name}` },
          on: { click: () => this.openDm(user.id) },
        },
        "Message",
      ),
    );
    item.dataset.userId = user.id;
    item.dataset.name = user.name;
    return item;
  }

  private async setInvisible(on: boolean): Promise<void> {
    try {
      await this.client.profiles.set({ invisible: on });
    } catch (error) {
      this.invisible.checked = !on;
      this.state.hidden = false;
      this.state.textContent = error instanceof Error ? sentence(error.message) : "That did not work.";
    }
  }
}
