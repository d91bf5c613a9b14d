// A workshop's switches for its hosts: the lock, the waiting room and the chat, each a toggle
// chip that says what it does now and what a click changes.

import type { RoomState } from "../protocol/room";
import { h } from "./elements";
import { icon, type IconName } from "./icons";
import type { Moderator } from "./moderation";

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
