// Roles as this client shows them (a workshop's, and who looks after an open room): a member's role badge, this user's own
// standing, and the mark of a raised hand.

import type { RoomState } from "../protocol/room";
import type { Role } from "../protocol/types";
import { h, srOnly } from "./elements";
import { icon } from "./icons";

const roleLabels: Record<Role, string> = {
  host: "Host",
  cohost: "Co-host",
  presenter: "On stage",
  guest: "Guest",
  member: "",
  owner: "Owner",
  moderator: "Moderator",
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
