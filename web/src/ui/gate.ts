// What shows instead of a room until it is joined: joining, the passcode prompt, why the room
// cannot be opened, a workshop's waiting room (and a host's "no"), and the end of a workshop
// for this user (removed by a host, or ended).

import type { RoomState } from "../protocol/room";
import { h, sentence, uid } from "./elements";
import { icon, type IconName } from "./icons";

export interface GateActions {
  submitPasscode(room: string, passcode: string): void;
  lobby(): void;
  /** Stop waiting in a workshop's waiting room. */
  leave(room: string): void;
  /** Knock on the waiting room again after a host declined. */
  knock(room: string): void;
}

function friendly(code: string | undefined, message: string | undefined): string {
  switch (code) {
    case "not_found":
      return "There is no room at this address. Check the link, or ask for a new one.";
    case "forbidden":
      return message ? sentence(message) : "You cannot join this room.";
    default:
      return message ?? "The room could not be opened.";
  }
}

export function gateView(state: RoomState, actions: GateActions): HTMLElement {
  const back = h(
    "button",
    { class: "button quiet", attrs: { type: "button" }, on: { click: () => actions.lobby() } },
    "Back to the lobby",
  );
  if (state.status === "passcode") {
    const id = uid("passcode");
    const input = h("input", {
      testid: "passcode-input",
      attrs: { id, type: "password", autocomplete: "off", required: true, minlength: 4, maxlength: 128 },
    });
    const error = state.error
      ? h(
          "p",
          { class: "form-error", testid: "join-error", attrs: { role: "alert" } },
          friendly(state.error.code, state.error.message),
        )
      : null;
    const form = h(
      "form",
      {
        class: "card gate-card",
        on: {
          submit: (event) => {
            event.preventDefault();
            if (input.value.length > 0) actions.submitPasscode(state.id, input.value);
          },
        },
      },
      h("span", { class: "gate-icon" }, icon("lock", "icon big")),
      h("h1", {}, "This room needs a passcode"),
      h("p", { class: "muted" }, "Ask the person who shared the link for it."),
      h("label", { class: "field", attrs: { for: id } }, h("span", {}, "Passcode"), input),
      error,
      h(
        "div",
        { class: "form-actions" },
        back,
        h(
          "button",
          { class: "button primary", testid: "passcode-submit", attrs: { type: "submit" } },
          "Join room",
        ),
      ),
    );
    setTimeout(() => input.focus(), 0);
    return h("section", { class: "gate" }, form);
  }
  if (state.status === "waiting") {
    return screen(
      "waiting-screen",
      "clock",
      "Waiting for the host to let you in",
      [
        h(
          "p",
          { class: "muted" },
          `${state.title} has a waiting room. You will join as soon as a host admits you.`,
        ),
        h(
          "p",
          { class: "waiting-line", attrs: { role: "status" } },
          h("span", { class: "spinner small", attrs: { "aria-hidden": "true" } }),
          "Waiting…",
        ),
      ],
      [
        h(
          "button",
          { class: "button quiet", attrs: { type: "button" }, on: { click: () => actions.leave(state.id) } },
          "Leave",
        ),
      ],
    );
  }
  if (state.status === "declined") {
    return screen(
      "declined-screen",
      "close",
      "The host did not let you in",
      [h("p", { class: "muted" }, `A host of ${state.title} declined your request to join.`)],
      [
        back,
        h(
          "button",
          {
            class: "button primary",
            attrs: { type: "button" },
            on: { click: () => actions.knock(state.id) },
          },
          "Ask again",
        ),
      ],
    );
  }
  if (state.status === "removed") {
    const ended = state.removed === "ended";
    // An open room or coffee morning is looked after by moderators, a workshop by hosts.
    const who = state.isWorkshop ? "host" : "moderator";
    const element = screen(
      "removed-screen",
      ended ? "workshop" : "userX",
      ended
        ? "The workshop has ended"
        : `A ${who} removed you from this ${state.isWorkshop ? "workshop" : "room"}`,
      [
        h(
          "p",
          { class: "muted" },
          ended
            ? `${state.title} is over. Thank you for joining.`
            : `You cannot join ${state.title} again unless a ${who} allows it.`,
        ),
      ],
      [back],
    );
    const card = element.querySelector<HTMLElement>('[data-testid="removed-screen"]');
    if (card) card.dataset.reason = state.removed ?? "removed";
    return element;
  }
  if (state.status === "error") {
    return h(
      "section",
      { class: "gate" },
      h(
        "div",
        { class: "card gate-card" },
        h("span", { class: "gate-icon" }, icon("close", "icon big")),
        h("h1", {}, "This room cannot be opened"),
        h(
          "p",
          { class: "form-error", testid: "join-error", attrs: { role: "alert" } },
          friendly(state.error?.code, state.error?.message),
        ),
        h("div", { class: "form-actions" }, back),
      ),
    );
  }
  return h(
    "section",
    { class: "gate", attrs: { "aria-busy": "true" } },
    h(
      "div",
      { class: "loading-block" },
      h("span", { class: "spinner", attrs: { "aria-hidden": "true" } }),
      h("p", {}, "Joining the room…"),
    ),
  );
}

/** A card with an icon, a title, some text and actions; `testid` on the card. */
function screen(
  testid: string,
  iconName: IconName,
  title: string,
  body: HTMLElement[],
  buttons: HTMLElement[],
): HTMLElement {
  return h(
    "section",
    { class: "gate" },
    h(
      "div",
      { class: "card gate-card", testid, attrs: { role: "region", "aria-label": title } },
      h("span", { class: "gate-icon" }, icon(iconName, "icon big")),
      h("h1", {}, title),
      ...body,
      h("div", { class: "form-actions" }, ...buttons),
    ),
  );
}
