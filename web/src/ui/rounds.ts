// Starting a speed-networking series: a dialog that says what will happen and asks for the
// table size, the round length, the number of rounds and the break between them, with the
// protocol's defaults (pairs, 5 minutes, 3 rounds, 30 seconds).

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import { h, sentence, uid } from "./elements";

function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = uid("rounds");
  control.id = id;
  return h(
    "label",
    { class: "field", attrs: { for: id } },
    h("span", {}, label),
    control,
    hint ? h("small", { class: "muted" }, hint) : null,
  );
}

function number(
  testid: string,
  value: number,
  min: number,
  max: number,
  step: number | "any",
): HTMLInputElement {
  return h("input", {
    testid,
    attrs: { type: "number", value, min, max, step, required: true, inputmode: "decimal" },
  });
}

/** Open the dialog; resolves once it is closed (started or cancelled). */
export function startRounds(client: Client, state: RoomState): Promise<void> {
  return new Promise((resolve) => {
    const size = h(
      "select",
      { testid: "rounds-size" },
      h("option", { attrs: { value: "2", selected: true } }, "2 (pairs)"),
      h("option", { attrs: { value: "3" } }, "3"),
      h("option", { attrs: { value: "4" } }, "4"),
    );
    const minutes = number("rounds-minutes", 5, 0.1, 60, "any");
    const count = number("rounds-count", 3, 1, 20, 1);
    const pause = number("rounds-break", 30, 5, 600, 1);
    const error = h("p", { class: "form-error", attrs: { role: "alert", hidden: true } });
    const submit = h(
      "button",
      { class: "button primary", testid: "rounds-submit", attrs: { type: "submit" } },
      "Start speed networking",
    );
    const form = h(
      "form",
      {
        class: "rounds-form",
        on: {
          submit: (event) => {
            event.preventDefault();
            submit.disabled = true;
            error.hidden = true;
            client.tables
              .startRounds(state.id, {
                size: Number(size.value),
                round_seconds: Math.round(Number(minutes.value) * 60),
                rounds: Number(count.value),
                break_seconds: Math.round(Number(pause.value)),
              })
              .then(() => dialog.close())
              .catch((failure: unknown) => {
                error.textContent =
                  failure instanceof Error ? sentence(failure.message) : "That did not work.";
                error.hidden = false;
                submit.disabled = false;
              });
          },
        },
      },
      h("h2", { class: "dialog-title" }, "Speed networking"),
      h(
        "p",
        { class: "muted" },
        "Everybody here is invited. Those who join meet at small tables with video and chat, a new table " +
          "each round, never the same person twice; everybody comes back here at the end.",
      ),
      h(
        "div",
        { class: "rounds-fields" },
        field("People per table", size),
        field("Minutes per round", minutes),
        field("Rounds", count),
        field("Break between rounds (seconds)", pause, "Also the time to join before round 1."),
      ),
      error,
      h(
        "div",
        { class: "form-actions" },
        h(
          "button",
          { class: "button quiet", attrs: { type: "button" }, on: { click: () => dialog.close() } },
          "Cancel",
        ),
        submit,
      ),
    );
    const dialog = h(
      "dialog",
      { class: "dialog rounds-dialog", testid: "rounds-dialog", attrs: { "aria-label": "Speed networking" } },
      form,
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    submit.focus();
  });
}
