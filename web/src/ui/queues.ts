// The queues a host works through: who waits to be let in, raised hands (in the order they went
// up), and the people removed, each with the actions that answer them.

import type { RoomState } from "../protocol/room";
import type { User } from "../protocol/types";
import { avatar, h } from "./elements";
import { icon, type IconName } from "./icons";
import type { Moderator } from "./moderation";

/** What waits for a host: knocks on the waiting room, raised hands, removed people. */
export class HostQueues {
  readonly element: HTMLElement;
  private readonly waiting: HTMLElement;
  private readonly hands: HTMLElement;
  private readonly banned: HTMLElement;
  private signature = "";

  constructor(
    private readonly state: RoomState,
    private readonly moderator: Moderator,
  ) {
    this.waiting = h("section", { class: "queue waiting-queue", attrs: { "aria-label": "Waiting room" } });
    this.hands = h("section", { class: "queue hand-queue", attrs: { "aria-label": "Raised hands" } });
    this.banned = h("section", { class: "queue banned-queue", attrs: { "aria-label": "Removed people" } });
    this.element = h("div", { class: "host-queues" }, this.waiting, this.hands, this.banned);
  }

  render(): void {
    const state = this.state;
    const hosting = state.hosting;
    const knocking = hosting ? (state.hosts?.knocking ?? []) : [];
    const hands = hosting ? (state.workshop?.hands ?? []) : [];
    const banned = hosting ? (state.hosts?.banned ?? []) : [];
    // Re-rendering would drop the focus of a queue's button; skip when nothing changed.
    const signature = JSON.stringify([knocking, hands, banned]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.element.hidden = knocking.length + hands.length + banned.length === 0;
    const m = this.moderator;
    fillQueue(this.waiting, "waiting-list", "clock", "Waiting to join", knocking, (user) =>
      queueItem("waiting-item", user, [
        button(
          "waiting-admit",
          "Admit",
          "button small primary",
          () => m.admit(user.id),
          `Let ${user.name} in`,
        ),
        button(
          "waiting-decline",
          "Decline",
          "button small quiet",
          () => m.decline(user.id),
          `Do not let ${user.name} in`,
        ),
      ]),
    );
    fillQueue(this.hands, "hand-queue", "hand", "Raised hands", hands, (user, index) =>
      queueItem(
        "hand-item",
        user,
        [
          button(
            "hand-invite",
            "Bring on stage",
            "button small primary",
            () => m.invite(user.id),
            `Bring ${user.name} on stage`,
          ),
          button(
            "hand-lower",
            "Lower",
            "button small quiet",
            () => m.lowerHand(user.id),
            `Lower ${user.name}'s hand`,
          ),
        ],
        index + 1,
      ),
    );
    fillQueue(this.banned, "banned-list", "userX", "Removed", banned, (user) =>
      queueItem("banned-item", user, [
        button(
          "banned-allow",
          "Allow back",
          "button small",
          () => m.allow(user),
          `Let ${user.name} join this workshop again`,
        ),
      ]),
    );
  }
}

function fillQueue(
  section: HTMLElement,
  testid: string,
  iconName: IconName,
  title: string,
  users: User[],
  item: (user: User, index: number) => HTMLElement,
): void {
  section.hidden = users.length === 0;
  section.replaceChildren(
    h(
      "h3",
      { class: "queue-title" },
      icon(iconName),
      title,
      h("span", { class: "count" }, String(users.length)),
    ),
    h("ol", { class: "queue-list", testid }, ...users.map(item)),
  );
}

function queueItem(testid: string, user: User, actions: HTMLElement[], position?: number): HTMLLIElement {
  const element = h(
    "li",
    { class: "queue-item", testid },
    position === undefined
      ? null
      : h("span", { class: "queue-position", attrs: { "aria-hidden": "true" } }, position),
    avatar(user, "s"),
    h("span", { class: "name" }, user.name),
    h("span", { class: "queue-actions" }, ...actions),
  );
  element.dataset.userId = user.id;
  element.dataset.name = user.name;
  return element;
}

function button(
  testid: string,
  caption: string,
  className: string,
  act: () => void,
  label: string,
): HTMLButtonElement {
  return h(
    "button",
    {
      class: className,
      testid,
      attrs: { type: "button", title: label, "aria-label": label },
      on: { click: act },
    },
    caption,
  );
}
