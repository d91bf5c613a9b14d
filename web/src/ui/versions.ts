// What an edited message said before, for the room's moderators (`chat:versions`): the
// "(edited)" marker opens a popover with each earlier text, oldest first, and when an edit
// replaced it. Who may is decided by the server; the marker only opens for those who look
// after the room, and not on a message of its owner (or a host) unless it is their own.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Message, Version } from "../protocol/types";
import { h, sentence } from "./elements";
import { messageText, shortTime } from "./message";

/** Whether this user may open the earlier versions of `message` here. */
export function mayReadVersions(state: RoomState, message: Message, me: string | null): boolean {
  if (!state.moderating || message.edited_at === null || message.deleted) return false;
  if (message.user.id === me) return true;
  const role = state.members.get(message.user.id)?.role;
  return role !== "owner" && role !== "host";
}

/** Open the popover under the marker and fill it once the server answers. */
export function showVersions(client: Client, state: RoomState, message: Message, marker: HTMLElement): void {
  const list = h("ol", { class: "versions-list", testid: "versions-list" });
  const status = h("p", { class: "muted versions-status", testid: "versions-status" }, "Loading…");
  const popover = h(
    "div",
    {
      class: "versions-popover",
      testid: "versions-popover",
      attrs: {
        popover: "auto",
        role: "dialog",
        "aria-label": `Earlier versions of ${message.user.name}'s message`,
      },
    },
    h("h3", { class: "versions-title" }, "Earlier versions"),
    h("p", { class: "muted versions-hint" }, "Only the people who look after this room see these."),
    status,
    list,
  );
  popover.addEventListener("toggle", (event) => {
    if ((event as ToggleEvent).newState === "closed") popover.remove();
  });
  document.body.append(popover);
  popover.showPopover();
  place(popover, marker);
  client.moderation.versions(state.id, message.seq).then(
    (versions) => {
      list.replaceChildren(
        ...versions.map((version) => item(version)),
        item({ text: message.text, replaced_at: null }, true),
      );
      status.hidden = versions.length > 0;
      status.textContent = "Only its mentions changed: the text is as it was.";
      place(popover, marker);
    },
    (error: unknown) => {
      status.textContent = error instanceof Error ? sentence(error.message) : "That did not work.";
      status.classList.add("versions-error");
    },
  );
}

function item(version: Version, now = false): HTMLLIElement {
  const when = now
    ? "Now"
    : version.replaced_at === null
      ? "Before an edit"
      : `Until ${shortTime(version.replaced_at)}`;
  return h(
    "li",
    { class: now ? "version version-now" : "version", testid: now ? "version-now" : "version" },
    h("span", { class: "version-when", testid: "version-when" }, when),
    messageText(version.text),
  );
}

/** Below the marker, left-aligned to it; above when there is no room below. */
function place(popover: HTMLElement, marker: HTMLElement): void {
  const anchor = marker.getBoundingClientRect();
  const box = popover.getBoundingClientRect();
  const margin = 8;
  const below = anchor.bottom + 6;
  const top = below + box.height > window.innerHeight - margin ? anchor.top - box.height - 6 : below;
  popover.style.top = `${Math.round(Math.max(margin, top))}px`;
  popover.style.left = `${Math.round(Math.max(margin, Math.min(anchor.left, window.innerWidth - box.width - margin)))}px`;
}
