// The sidebar: Home (the page of public rooms and the create form; not the room called "Lobby",
// which has a tab like any other room once joined), mentions (with a count of new ones, apart
// from unread messages), the people one met at tables, a tab per joined
// room and per direct message (with unread counts), and who you are (with a way to change your
// name, to edit your profile, your sessions, and your data).

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import { limits } from "../protocol/types";
import { avatar, h, uid } from "./elements";
import { icon, kindIcon } from "./icons";
import { editProfile } from "./profile";
import { MENTIONS_PATH, PEOPLE_PATH, roomPath, type Route, type Router } from "./router";
import { showSessions } from "./sessions";
import { showYourData } from "./yourdata";

export class Sidebar {
  readonly element: HTMLElement;
  private readonly lobbyLink: HTMLAnchorElement;
  private readonly peopleLink: HTMLAnchorElement;
  private readonly askedBadge: HTMLElement;
  private readonly mentionsLink: HTMLAnchorElement;
  private readonly mentionsBadge: HTMLElement;
  private readonly roomTabs: HTMLUListElement;
  private readonly dmTabs: HTMLUListElement;
  private readonly roomsEmpty: HTMLElement;
  private readonly dmsEmpty: HTMLElement;
  private readonly me: HTMLElement;
  private route: Route = { view: "lobby" };
  private renaming = false;

  constructor(
    private readonly client: Client,
    private readonly router: Router,
    private readonly navigated: () => void,
  ) {
    this.lobbyLink = router.link(
      h(
        "a",
        { class: "nav-item", testid: "home-link", attrs: { href: "/" } },
        icon("home"),
        h("span", {}, "Home"),
      ),
    );
    this.lobbyLink.addEventListener("click", () => this.navigated());
    this.askedBadge = h("span", { class: "unread", testid: "asked-badge", attrs: { hidden: true } });
    this.peopleLink = router.link(
      h(
        "a",
        { class: "nav-item", testid: "people-link", attrs: { href: PEOPLE_PATH } },
        icon("people"),
        h("span", {}, "People"),
        this.askedBadge,
      ),
    );
    this.peopleLink.addEventListener("click", () => this.navigated());
    this.mentionsBadge = h("span", {
      class: "unread mention-badge",
      testid: "mentions-badge",
      attrs: { hidden: true },
    });
    this.mentionsLink = router.link(
      h(
        "a",
        { class: "nav-item", testid: "mentions-link", attrs: { href: MENTIONS_PATH } },
        icon("at"),
        h("span", {}, "Mentions"),
        this.mentionsBadge,
      ),
    );
    this.mentionsLink.addEventListener("click", () => this.navigated());
    client.mentions.on("changed", () => this.renderMentions());
    this.roomTabs = h("ul", { class: "tabs", attrs: { "aria-label": "Your rooms" } });
    this.dmTabs = h("ul", { class: "tabs", attrs: { "aria-label": "Direct messages" } });
    this.roomsEmpty = h("p", { class: "hint" }, "Rooms you join show up here.");
    this.dmsEmpty = h("p", { class: "hint" }, "Pick someone in a room's people list to message them.");
    this.me = h("div", { class: "me" });
    this.element = h(
      "nav",
      { class: "sidebar", attrs: { "aria-label": "Rooms and messages", id: "sidebar" } },
      h(
        "div",
        { class: "brand" },
        h("span", { class: "logo", attrs: { "aria-hidden": "true" } }, icon("coffee")),
        "Percolate",
      ),
      this.lobbyLink,
      this.mentionsLink,
      this.peopleLink,
      h("h2", { class: "section-title" }, "Your rooms"),
      this.roomsEmpty,
      this.roomTabs,
      h("h2", { class: "section-title" }, "Direct messages"),
      this.dmsEmpty,
      this.dmTabs,
      h("div", { class: "spacer" }),
      this.me,
    );
    this.renderMe();
  }

  setRoute(route: Route): void {
    this.route = route;
    this.render();
  }

  render(): void {
    const tabs = this.client.tabs();
    const rooms = tabs.filter((t) => t.kind !== "dm");
    const dms = tabs.filter((t) => t.kind === "dm");
    this.roomTabs.replaceChildren(...rooms.map((t) => this.tab(t)));
    this.dmTabs.replaceChildren(...dms.map((t) => this.tab(t)));
    this.roomsEmpty.hidden = rooms.length > 0;
    this.dmsEmpty.hidden = dms.length > 0;
    if (this.route.view === "lobby") this.lobbyLink.setAttribute("aria-current", "page");
    else this.lobbyLink.removeAttribute("aria-current");
    if (this.route.view === "people") this.peopleLink.setAttribute("aria-current", "page");
    else this.peopleLink.removeAttribute("aria-current");
    if (this.route.view === "mentions") this.mentionsLink.setAttribute("aria-current", "page");
    else this.mentionsLink.removeAttribute("aria-current");
    this.renderMentions();
    const asked = this.client.people.asked.length;
    this.askedBadge.hidden = asked === 0;
    this.askedBadge.textContent = String(asked);
    this.askedBadge.setAttribute("aria-label", `${asked} asked to stay in touch`);
  }

  /** The count of mentions that came since the list was last looked at. */
  private renderMentions(): void {
    const count = this.client.mentions.unread;
    this.mentionsBadge.hidden = count === 0;
    this.mentionsBadge.textContent = count > 99 ? "99+" : String(count);
    this.mentionsBadge.setAttribute("aria-label", `${count} new ${count === 1 ? "mention" : "mentions"}`);
    this.mentionsLink.classList.toggle("has-unread", count > 0);
  }

  renderMe(): void {
    if (this.renaming) return;
    const name = this.client.me?.name ?? this.client.name ?? "";
    const user = { id: this.client.me?.id ?? name, name };
    this.me.replaceChildren(
      avatar(user, "s"),
      h("span", { class: "me-name", attrs: { title: name } }, name),
      h(
        "span",
        { class: "me-actions" },
        h(
          "button",
          { class: "link-button", attrs: { type: "button" }, on: { click: () => this.rename() } },
          "Change name",
        ),
        h(
          "button",
          {
            class: "link-button",
            testid: "edit-profile",
            attrs: { type: "button" },
            on: { click: () => void editProfile(this.client) },
          },
          "Profile",
        ),
        h(
          "button",
          {
            class: "link-button",
            testid: "sessions-open",
            attrs: { type: "button", title: "Where you are signed in" },
            on: { click: () => showSessions(this.client) },
          },
          "Sessions",
        ),
        h(
          "button",
          {
            class: "link-button",
            testid: "yourdata-open",
            attrs: { type: "button", title: "Download or erase what Percolate keeps of you" },
            on: { click: () => showYourData(this.client) },
          },
          "Your data",
        ),
      ),
    );
  }

  private tab(state: RoomState): HTMLLIElement {
    const current = this.route.view === "room" && this.route.room === state.id;
    const link = this.router.link(
      h(
        "a",
        {
          class: "tab",
          testid: "room-tab",
          attrs: { href: roomPath(state.id), "aria-current": current ? "page" : null },
        },
        state.kind === "dm" && state.dmUser ? avatar(state.dmUser, "s") : kindIcon(state.kind),
        h("span", { class: "tab-title" }, state.title),
        state.unread > 0
          ? h(
              "span",
              { class: "unread", testid: "unread-count", attrs: { "aria-label": `${state.unread} unread` } },
              state.unread > 99 ? "99+" : String(state.unread),
            )
          : null,
      ),
    );
    link.addEventListener("click", () => this.navigated());
    link.dataset.roomId = state.id;
    link.classList.toggle("has-unread", state.unread > 0);
    return h("li", {}, link);
  }

  private rename(): void {
    this.renaming = true;
    const id = uid("rename");
    const input = h("input", {
      attrs: {
        id,
        value: this.client.name ?? "",
        maxlength: limits.name * 2,
        required: true,
        autocomplete: "nickname",
      },
    });
    const done = () => {
      this.renaming = false;
      this.renderMe();
    };
    const form = h(
      "form",
      {
        class: "rename",
        on: {
          submit: (event) => {
            event.preventDefault();
            const name = input.value.trim();
            if (name !== "" && name !== this.client.name) this.client.start(name);
            done();
          },
          keydown: (event) => {
            if (event.key === "Escape") done();
          },
        },
      },
      h("label", { class: "sr-only", attrs: { for: id } }, "Your name"),
      input,
      h(
        "div",
        { class: "rename-actions" },
        h("button", { class: "button primary small", attrs: { type: "submit" } }, "Save"),
        h(
          "button",
          { class: "button quiet small", attrs: { type: "button" }, on: { click: done } },
          "Cancel",
        ),
      ),
    );
    this.me.replaceChildren(form);
    input.focus();
    input.select();
  }
}
