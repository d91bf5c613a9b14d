// A workshop's stage and audience. The stage holds a tile for everybody on it (host, co-hosts,
// presenters): the main one large (a screen being shared, else a camera that is on, else the host), the others in a row
// beneath. The audience lists the guests, raised hands first in the order they went up.

import type { Client } from "../protocol/client";
import { type RoomState, STAGE } from "../protocol/room";
import type { Member } from "../protocol/types";
import { avatar, h, syncChildren } from "./elements";
import { icon } from "./icons";
import { byRank } from "./members";
import { handMark } from "./roles";
import { Tiles } from "./video";

export class Stage {
  readonly element: HTMLElement;
  private readonly stage: HTMLElement;
  private readonly main: HTMLElement;
  private readonly strip: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly audience: HTMLUListElement;
  private readonly audienceCount: HTMLElement;
  private readonly tiles: Tiles;

  constructor(
    client: Client,
    private readonly state: RoomState,
  ) {
    this.tiles = new Tiles(client, state);
    this.main = h("div", { class: "stage-main", testid: "stage-main" });
    this.strip = h("div", { class: "stage-strip" });
    this.empty = h(
      "div",
      { class: "stage-empty" },
      icon("workshop", "icon big"),
      h("p", { class: "empty-title" }, "The host has not arrived yet"),
      h("p", {}, "Their video will appear here. Say hello in the chat meanwhile."),
    );
    this.stage = h(
      "div",
      { class: "stage", testid: "stage", attrs: { "aria-label": "Stage" } },
      this.main,
      this.strip,
      this.empty,
    );
    this.audienceCount = h("span", { class: "count" });
    this.audience = h("ul", {
      class: "audience-list",
      testid: "audience-list",
      attrs: { "aria-label": "Audience" },
    });
    this.element = h(
      "div",
      { class: "workshop-area" },
      this.stage,
      h(
        "section",
        { class: "audience" },
        h("h2", { class: "panel-title" }, "Audience", this.audienceCount),
        this.audience,
      ),
    );
  }

  render(me: string | undefined): void {
    const members = [...this.state.members.values()].map((m) => this.tiles.member(m)).sort(byRank(me));
    const onStage = members.filter((m) => STAGE.has(m.role));
    const guests = members.filter((m) => !STAGE.has(m.role));
    // The big tile shows a picture when there is one: a shared screen, else somebody's camera
    // (the host's first, somebody else's before one's own), else the host's initial.
    const host = (list: Member[]) => list.find((m) => m.role === "host") ?? list[0];
    const playing = onStage.filter((m) => m.camera);
    const main =
      onStage.find((m) => m.screen) ??
      host(playing.filter((m) => m.id !== me)) ??
      host(playing) ??
      host(onStage);
    const others = onStage.filter((m) => m !== main);
    this.tiles.prune(new Set(onStage.map((m) => m.id)));
    syncChildren(this.main, main ? [this.tiles.tile(main).element] : []);
    syncChildren(
      this.strip,
      others.map((m) => this.tiles.tile(m).element),
    );
    this.empty.hidden = onStage.length > 0;
    this.main.hidden = !main;
    this.strip.hidden = others.length === 0;
    this.stage.dataset.count = String(onStage.length);
    this.renderAudience(guests, me);
  }

  private renderAudience(guests: Member[], me: string | undefined): void {
    const hands = this.state.workshop?.hands.map((u) => u.id) ?? [];
    const place = (m: Member) => {
      const at = hands.indexOf(m.id);
      return at < 0 ? hands.length : at;
    };
    guests.sort((a, b) => place(a) - place(b));
    this.audienceCount.textContent = String(guests.length);
    const items = guests.map((guest) => {
      const hand = hands.includes(guest.id);
      const item = h(
        "li",
        { class: hand ? "guest hand" : "guest", testid: "audience-item" },
        avatar(guest, "s"),
        h("span", { class: "name" }, guest.name),
        guest.id === me ? h("span", { class: "you" }, "(you)") : null,
        hand ? handMark() : null,
      );
      item.dataset.userId = guest.id;
      item.dataset.hand = String(hand);
      return item;
    });
    if (items.length === 0) items.push(h("li", { class: "muted audience-empty" }, "No guests yet."));
    this.audience.replaceChildren(...items);
  }
}
