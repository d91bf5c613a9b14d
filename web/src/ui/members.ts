// The people in a room. Clicking somebody else opens a direct message with them; each shows
// their role where it matters (a workshop's, an open room's owner and moderators), a raised
// hand, and a "…" menu of what this user can do to them (block them; host or moderate). Under
// each name, their public headline (fetched as the list shows them: `profile:headlines`).

import type { Profiles } from "../protocol/profiles";
import type { RoomState } from "../protocol/room";
import type { Member, Role } from "../protocol/types";
import { avatar, h, srOnly, syncChildren } from "./elements";
import { icon } from "./icons";
import { Menu } from "./menu";
import type { Moderator } from "./moderation";
import { handMark, roleBadge } from "./roles";

const ROLE_RANK: Record<Role, number> = {
  host: 0,
  owner: 0,
  cohost: 1,
  moderator: 1,
  presenter: 2,
  member: 3,
  guest: 3,
};

/** Hosts first, then co-hosts and who is on stage, then this user, then everybody by name. */
export function byRank(me: string | undefined): (a: Member, b: Member) => number {
  const rank = (m: Member) => ROLE_RANK[m.role] * 2 + (m.id === me ? 0 : 1);
  return (a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

export function mediaBadges(member: Member): HTMLElement {
  return h(
    "span",
    { class: "badges" },
    member.screen
      ? h(
          "span",
          { class: "badge on", attrs: { title: "Sharing their screen" } },
          icon("screen"),
          srOnly("sharing screen"),
        )
      : null,
    h(
      "span",
      {
        class: member.camera ? "badge on" : "badge",
        attrs: { title: member.camera ? "Camera on" : "Camera off" },
      },
      icon(member.camera ? "camera" : "cameraOff"),
      srOnly(member.camera ? "camera on" : "camera off"),
    ),
    h(
      "span",
      { class: member.mic ? "badge on" : "badge", attrs: { title: member.mic ? "Microphone on" : "Muted" } },
      icon(member.mic ? "mic" : "micOff"),
      srOnly(member.mic ? "microphone on" : "muted"),
    ),
  );
}

export class MemberList {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly count: HTMLElement;
  /** One entry per member, kept across renders: an open "…" menu survives others' changes. */
  private readonly items = new Map<string, MemberItem>();

  constructor(
    private readonly state: RoomState,
    private readonly openDm: (user: string) => void,
    /** In a workshop: what this user may do to the others as a host. */
    private readonly moderator: Moderator | null = null,
    /** Shown above the list (a host's queues). */
    before: HTMLElement | null = null,
    private readonly profiles: Profiles | null = null,
  ) {
    this.count = h("span", { class: "count" });
    this.list = h("ul", {
      class: "member-list",
      testid: "member-list",
      attrs: { "aria-label": "People in this room" },
    });
    this.element = h(
      "section",
      { class: "people" },
      before,
      h("h2", { class: "panel-title" }, icon("people"), "People", this.count),
      this.list,
    );
  }

  render(me: string | undefined): void {
    const members = [...this.state.members.values()].sort(byRank(me));
    this.count.textContent = String(members.length);
    const shown = new Set(members.map((m) => m.id));
    this.profiles?.want(shown);
    for (const [id, item] of this.items) {
      if (!shown.has(id)) {
        item.close();
        this.items.delete(id);
      }
    }
    const elements = members.map((member) => {
      let item = this.items.get(member.id);
      if (!item) {
        item = new MemberItem(member.id, this.openDm, this.moderator);
        this.items.set(member.id, item);
      }
      item.update(member, this.look(member, me));
      return item.element;
    });
    syncChildren(this.list, elements);
  }

  private look(member: Member, me: string | undefined): Look {
    const state = this.state;
    return {
      self: member.id === me,
      video: state.isVideo,
      workshop: state.isWorkshop,
      hand: state.handRaised(member.id),
      hosting: state.hosting,
      myRole: state.you?.role ?? null,
      headline: this.profiles?.headline(member.id) ?? "",
    };
  }
}

/** How a member is shown: everything besides the member that changes the entry. */
interface Look {
  self: boolean;
  video: boolean;
  workshop: boolean;
  hand: boolean;
  hosting: boolean;
  myRole: Role | null;
  headline: string;
}

class MemberItem {
  readonly element: HTMLLIElement = h("li", {});
  private signature = "";
  private member: Member | null = null;
  private readonly menu: Menu | null;
  /** The entry and its main part, kept while it stays somebody else (or oneself). */
  private entry: { self: boolean; box: HTMLElement; main: HTMLElement } | null = null;

  constructor(
    readonly id: string,
    private readonly openDm: (user: string) => void,
    private readonly moderator: Moderator | null,
  ) {
    this.menu = moderator
      ? new Menu("Actions", { button: "member-menu", menu: "member-controls" }, () =>
          this.member ? moderator.memberItems(this.member) : [],
        )
      : null;
  }

  update(member: Member, look: Look): void {
    this.member = member;
    // Re-rendering would drop the focus of a member button; skip when nothing changed.
    const signature = JSON.stringify([member, look]);
    if (signature === this.signature) return;
    this.signature = signature;
    const entry = this.entry?.self === look.self ? this.entry : this.build(look.self);
    entry.main.replaceChildren(
      avatar(member, "s"),
      h(
        "span",
        { class: "who" },
        h("span", { class: "name" }, member.name),
        look.headline ? h("span", { class: "headline", testid: "member-headline" }, look.headline) : null,
      ),
      look.self ? h("span", { class: "you" }, "(you)") : "",
      look.workshop || member.role === "owner" || member.role === "moderator"
        ? roleBadge(member.role)
        : member.role === "host"
          ? h("span", { class: "role" }, "Host")
          : "",
      look.hand ? handMark() : "",
      // The audience of a workshop has no camera or microphone to show.
      look.video && !(look.workshop && member.role === "guest") ? mediaBadges(member) : "",
    );
    if (!look.self) {
      entry.main.title = `Message ${member.name}`;
      entry.main.setAttribute("aria-label", `${member.name}: send a direct message`);
    }
    const box = entry.box;
    box.dataset.userId = member.id;
    entry.main.dataset.profileUser = member.id;
    box.dataset.name = member.name;
    box.dataset.role = member.role;
    box.dataset.hand = String(look.hand);
    if (this.menu) {
      this.menu.button.setAttribute("aria-label", `Actions for ${member.name}`);
      this.menu.button.title = `Actions for ${member.name}`;
      const actions = !look.self && this.moderator !== null && this.moderator.memberItems(member).length > 0;
      this.menu.button.hidden = !actions;
      if (actions) this.menu.refresh();
      else this.menu.close();
    }
  }

  close(): void {
    this.menu?.close();
  }

  private build(self: boolean): { self: boolean; box: HTMLElement; main: HTMLElement } {
    this.menu?.close();
    let entry;
    if (self) {
      const main = h("span", { class: "member-main" });
      entry = { self, main, box: h("div", { class: "member self", testid: "member" }, main) };
    } else {
      const main = h("button", {
        class: "member-main",
        attrs: { type: "button" },
        on: { click: () => this.member && this.openDm(this.member.id) },
      });
      const box = h(
        "div",
        { class: "member", testid: "member" },
        main,
        this.menu?.button,
        this.menu?.element,
      );
      entry = { self, main, box };
    }
    this.entry = entry;
    this.element.replaceChildren(entry.box);
    return entry;
  }
}
