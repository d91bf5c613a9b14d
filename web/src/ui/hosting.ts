// Hosting a workshop: the actions of hosts and co-hosts (with the questions asked before the
// ones that cannot be undone, and failures reported), the room's switches (lock, waiting room,
// chat), and the queues a host works through: who waits to be let in, raised hands, and the
// people removed.

import type { Client } from "../protocol/client";
import { type RoomState, STAGE } from "../protocol/room";
import type { Member, Role, User } from "../protocol/types";
import { ask } from "./dialog";
import { avatar, h, sentence, srOnly } from "./elements";
import { icon, type IconName } from "./icons";
import type { MenuItem } from "./menu";

export type Notify = (text: string, kind?: "info" | "error") => void;

export const roleLabels: Record<Role, string> = {
  host: "Host",
  cohost: "Co-host",
  presenter: "On stage",
  guest: "Guest",
  member: "",
};

/** A member's role in a workshop; the audience's is only read out (every guest has it). */
export function roleBadge(role: Role): HTMLElement {
  const badge =
    role === "guest"
      ? h("span", { class: "sr-only", testid: "role-badge" }, roleLabels.guest)
      : h("span", { class: `role role-${role}`, testid: "role-badge" }, roleLabels[role]);
  badge.dataset.role = role;
  return badge;
}

/** This user's standing in a workshop, as a short badge; null elsewhere. */
export function standing(state: RoomState, me: string | undefined): { state: string; text: string } | null {
  const role = state.isWorkshop ? state.you?.role : undefined;
  switch (role) {
    case "host":
      return { state: "host", text: "You're the host" };
    case "cohost":
      return { state: "cohost", text: "Co-host" };
    case "presenter":
      return { state: "stage", text: "On stage" };
    case "guest":
      return me !== undefined && state.handRaised(me)
        ? { state: "hand", text: "Hand raised" }
        : { state: "audience", text: "In the audience" };
    default:
      return null;
  }
}

export function handMark(): HTMLElement {
  return h(
    "span",
    { class: "hand-mark", attrs: { title: "Hand raised" } },
    icon("hand"),
    srOnly("hand raised"),
  );
}

/** What a host or co-host can do in one workshop, each call reporting its own failure. */
export class Moderator {
  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly notify: Notify,
  ) {}

  private get room(): string {
    return this.state.id;
  }

  private get workshop() {
    return this.client.workshop;
  }

  /** Run an action; a refusal (somebody left meanwhile, say) is shown, not thrown. */
  run(action: () => Promise<void>): void {
    action().catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  raiseHand(up: boolean): void {
    this.run(() => (up ? this.workshop.raiseHand(this.room) : this.workshop.lowerHand(this.room)));
  }

  lowerHand(user: string): void {
    this.run(() => this.workshop.lowerHand(this.room, user));
  }

  invite(user: string): void {
    this.run(() => this.workshop.invite(this.room, user));
  }

  /** Send a presenter back to the audience, or (no user) step down oneself. */
  sendBack(user?: string): void {
    this.run(() => this.workshop.sendBack(this.room, user));
  }

  setLocked(on: boolean): void {
    this.run(() => this.workshop.lock(this.room, on));
  }

  setWaitingRoom(on: boolean): void {
    this.run(() => this.workshop.waitingRoom(this.room, on));
  }

  setChat(on: boolean): void {
    this.run(() => this.workshop.enableChat(this.room, on));
  }

  pin(message: string | null): void {
    this.run(() => this.workshop.pin(this.room, message));
  }

  admit(user: string): void {
    this.run(() => this.workshop.admit(this.room, user));
  }

  decline(user: string): void {
    this.run(() => this.workshop.decline(this.room, user));
  }

  allow(user: User): void {
    this.run(async () => {
      await this.workshop.allow(this.room, user.id);
      this.notify(`${user.name} can join again.`);
    });
  }

  async remove(member: Member): Promise<void> {
    const yes = await ask({
      title: `Remove ${member.name}?`,
      text: `${member.name} leaves the workshop and cannot come back unless a host allows it again.`,
      confirm: "Remove",
      danger: true,
    });
    if (yes) this.run(() => this.workshop.remove(this.room, member.id));
  }

  async handOver(member: Member): Promise<void> {
    const yes = await ask({
      title: `Make ${member.name} the host?`,
      text: `${member.name} gets every host power, including ending the workshop. You stay on as a co-host.`,
      confirm: "Make host",
    });
    if (yes) this.run(() => this.workshop.handOver(this.room, member.id));
  }

  async end(): Promise<void> {
    const yes = await ask({
      title: "End the workshop for everyone?",
      text: "Everybody leaves at once, and nobody can join it again.",
      confirm: "End workshop",
      danger: true,
    });
    if (yes) this.run(() => this.workshop.end(this.room));
  }

  /** The "…" menu of a member, as this user may act on them. Empty: no menu. */
  memberItems(member: Member): MenuItem[] {
    const me = this.state.you;
    if (!this.state.hosting || !me || member.id === me.id) return [];
    const host = me.role === "host";
    const items: MenuItem[] = [];
    if (member.role === "guest") {
      items.push(item("control-stage", "Bring on stage", "stageUp", () => this.invite(member.id)));
    } else if (member.role === "presenter") {
      items.push(
        item("control-stage", "Send back to the audience", "stageDown", () => this.sendBack(member.id)),
      );
    }
    if (STAGE.has(member.role)) {
      items.push({
        ...item("control-mute-mic", "Mute microphone", "micOff", () => this.mute(member, { mic: true })),
        disabled: !member.mic,
        title: member.mic ? undefined : "Their microphone is off",
      });
      items.push({
        ...item("control-mute-camera", "Turn off camera", "cameraOff", () =>
          this.mute(member, { camera: true }),
        ),
        disabled: !member.camera,
        title: member.camera ? undefined : "Their camera is off",
      });
      if (member.screen) {
        items.push(
          item("control-mute-screen", "Stop screen share", "screen", () =>
            this.mute(member, { screen: true }),
          ),
        );
      }
    }
    if (host && member.role === "cohost") {
      items.push(item("control-cohost", "Make guest", "shield", () => this.setRole(member, "guest")));
    } else if (host) {
      items.push(item("control-cohost", "Make co-host", "shield", () => this.setRole(member, "cohost")));
    }
    if (host) items.push(item("control-handover", "Make host", "crown", () => void this.handOver(member)));
    if (member.role !== "host") {
      items.push({
        ...item("control-remove", "Remove from workshop", "userX", () => void this.remove(member)),
        danger: true,
      });
    }
    return items;
  }

  private mute(member: Member, what: { camera?: boolean; mic?: boolean; screen?: boolean }): void {
    this.run(() => this.workshop.mute(this.room, member.id, what));
  }

  private setRole(member: Member, role: "cohost" | "guest"): void {
    this.run(() => this.workshop.setRole(this.room, member.id, role));
  }
}

function item(testid: string, label: string, iconName: IconName, act: () => void): MenuItem {
  return { testid, label, icon: iconName, act };
}

/** The room's switches for hosts: lock, waiting room, chat. */
export class HostSwitches {
  readonly element: HTMLElement;
  private readonly lock: HTMLButtonElement;
  private readonly waiting: HTMLButtonElement;
  private readonly chat: HTMLButtonElement;

  constructor(
    private readonly state: RoomState,
    moderator: Moderator,
  ) {
    const workshop = () => this.state.workshop;
    this.lock = chip("toggle-lock", "lock", () => moderator.setLocked(!workshop()?.locked));
    this.waiting = chip("toggle-waiting", "clock", () => moderator.setWaitingRoom(!workshop()?.waiting_room));
    this.chat = chip("toggle-chat", "chat", () => moderator.setChat(!workshop()?.chat_enabled));
    this.element = h(
      "div",
      { class: "host-switches", attrs: { role: "group", "aria-label": "Room settings" } },
      this.lock,
      this.waiting,
      this.chat,
    );
  }

  render(): void {
    const view = this.state.workshop;
    this.element.hidden = !this.state.hosting || !view;
    if (!view) return;
    setChip(
      this.lock,
      view.locked,
      view.locked ? "Locked" : "Lock",
      view.locked
        ? "The room is locked: nobody new can join. Click to unlock."
        : "Lock the room: nobody new can join.",
    );
    setChip(
      this.waiting,
      view.waiting_room,
      "Waiting room",
      view.waiting_room
        ? "Newcomers wait until a host lets them in. Click to let everybody in directly."
        : "Turn on the waiting room: newcomers wait until a host lets them in.",
    );
    setChip(
      this.chat,
      view.chat_enabled,
      view.chat_enabled ? "Chat on" : "Chat off",
      view.chat_enabled
        ? "Everybody can write in the chat. Click to let only hosts write."
        : "Only hosts can write in the chat. Click to open it to everybody.",
    );
  }
}

function chip(testid: string, iconName: IconName, act: () => void): HTMLButtonElement {
  const button = h("button", {
    class: "chip-toggle",
    testid,
    attrs: { type: "button", "aria-pressed": "false" },
    on: { click: act },
  });
  button.dataset.icon = iconName;
  return button;
}

function setChip(button: HTMLButtonElement, pressed: boolean, caption: string, title: string): void {
  button.setAttribute("aria-pressed", String(pressed));
  button.title = title;
  if (button.dataset.caption === caption) return;
  button.dataset.caption = caption;
  button.replaceChildren(icon((button.dataset.icon ?? "lock") as IconName), h("span", {}, caption));
}

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
