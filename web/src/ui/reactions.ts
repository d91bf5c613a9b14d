// A message's reactions: a chip per emoji with its count (highlighted when one of them is
// this user's; a click toggles it), and the picker of the eight (docs/protocol.md, chat:react).

import { EMOJI, type Emoji, type Message } from "../protocol/types";
import { h } from "./elements";
import type { MessageView } from "./message";

/** The chips under a message; null when it has none (or is deleted). */
export function reactions(message: Message, view: MessageView): HTMLElement | null {
  if (message.deleted || message.reactions.length === 0) return null;
  const actions = view.actions;
  return h(
    "div",
    { class: "reactions", testid: "reactions" },
    ...message.reactions.map((reaction) => {
      const mine = reaction.users.some((u) => u.id === view.me);
      const names = reaction.users.map((u) => (u.id === view.me ? "You" : u.name));
      const chip = h(
        "button",
        {
          class: mine ? "reaction mine" : "reaction",
          testid: "reaction",
          attrs: {
            type: "button",
            "aria-pressed": String(mine),
            title: `${names.join(", ")} reacted with ${reaction.emoji}`,
            "aria-label": `${reaction.emoji} ${reaction.users.length}: ${names.join(", ")}`,
            disabled: !actions,
          },
          on: { click: () => actions?.react(message, reaction.emoji, !mine) },
        },
        h("span", { class: "reaction-emoji", attrs: { "aria-hidden": "true" } }, reaction.emoji),
        h("span", { class: "reaction-count", testid: "reaction-count" }, String(reaction.users.length)),
      );
      chip.dataset.emoji = reaction.emoji;
      return chip;
    }),
  );
}

/** The eight reactions in a popover beside the button; the person's own are marked. */
export function pickReaction(
  button: HTMLButtonElement,
  message: Message,
  choose: (emoji: Emoji, on: boolean) => void,
): void {
  const picker = h("div", {
    class: "reaction-picker",
    testid: "reaction-picker",
    attrs: { popover: "auto", role: "menu", "aria-label": "Reactions" },
  });
  const me = button.closest<HTMLElement>("[data-me]")?.dataset.me;
  for (const emoji of EMOJI) {
    const mine = message.reactions.some((r) => r.emoji === emoji && r.users.some((u) => u.id === me));
    const option = h(
      "button",
      {
        class: mine ? "reaction-option mine" : "reaction-option",
        testid: "reaction-option",
        attrs: { type: "button", role: "menuitem", "aria-label": `React with ${emoji}`, title: emoji },
        on: {
          click: () => {
            picker.hidePopover();
            choose(emoji, !mine);
          },
        },
      },
      emoji,
    );
    option.dataset.emoji = emoji;
    picker.append(option);
  }
  picker.addEventListener("toggle", (event) => {
    if ((event as ToggleEvent).newState === "closed") picker.remove();
  });
  document.body.append(picker);
  picker.showPopover();
  // Above the button, right-aligned to it; below when there is no room above.
  const anchor = button.getBoundingClientRect();
  const box = picker.getBoundingClientRect();
  const margin = 8;
  const top = anchor.top - box.height - 6 < margin ? anchor.bottom + 6 : anchor.top - box.height - 6;
  picker.style.top = `${Math.round(top)}px`;
  picker.style.left = `${Math.round(Math.max(margin, Math.min(anchor.right - box.width, window.innerWidth - box.width - margin)))}px`;
  picker.querySelector("button")?.focus();
}
