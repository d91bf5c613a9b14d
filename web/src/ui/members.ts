// The people in a room. Clicking somebody else opens a direct message with them.

import type { RoomState } from "../protocol/room";
import type { Member } from "../protocol/types";
import { avatar, h, srOnly } from "./elements";
import { icon } from "./icons";

/** Hosts first, then this user, then everybody by name. */
export function byRank(me: string | undefined): (a: Member, b: Member) => number {
  const rank = (m: Member) => (m.role === "host" ? 0 : m.id === me ? 1 : 2);
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
  private signature = "";

  constructor(
    private readonly state: RoomState,
    private readonly openDm: (user: string) => void,
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
      h("h2", { class: "panel-title" }, icon("people"), "People", this.count),
      this.list,
    );
  }

  render(me: string | undefined): void {
    const members = [...this.state.members.values()].sort(byRank(me));
    const video = this.state.isVideo;
    // Re-rendering would drop the focus of a member button; skip when nothing changed.
    const signature = JSON.stringify([me, video, members]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.count.textContent = String(members.length);
    this.list.replaceChildren(...members.map((member) => this.item(member, member.id === me, video)));
  }

  private item(member: Member, self: boolean, video: boolean): HTMLLIElement {
    const content = [
      avatar(member, "s"),
      h("span", { class: "name" }, member.name),
      self ? h("span", { class: "you" }, "(you)") : null,
      member.role === "host" ? h("span", { class: "role" }, "Host") : null,
      video ? mediaBadges(member) : null,
    ];
    const element = self
      ? h("div", { class: "member self", testid: "member" }, ...content)
      : h(
          "button",
          {
            class: "member",
            testid: "member",
            attrs: {
              type: "button",
              title: `Message ${member.name}`,
              "aria-label": `${member.name}: send a direct message`,
            },
            on: { click: () => this.openDm(member.id) },
          },
          ...content,
        );
    element.dataset.userId = member.id;
    element.dataset.name = member.name;
    return h("li", {}, element);
  }
}
