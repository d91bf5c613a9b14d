// What shows instead of a room until it is joined: joining, the passcode prompt, or why the
// room cannot be opened.

import type { RoomState } from "../protocol/room";
import { h, sentence, uid } from "./elements";
import { icon } from "./icons";

export interface GateActions {
  submitPasscode(room: string, passcode: string): void;
  lobby(): void;
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
