// The first screen when no name is stored: what should people call you? Or, for somebody who
// attached a passkey elsewhere, "Sign in with a passkey" to be that person here.

import { passkeysSupported } from "../protocol/passkeys";
import { codePoints, limits } from "../protocol/types";
import { h, sentence, uid } from "./elements";
import { icon } from "./icons";

/** Control and format characters the server refuses in a name (ZWJ is allowed). */
const FORBIDDEN = /[\p{Cc}\p{Cf}]/u;

export function checkName(name: string): string | null {
  if (name === "") return "Type the name people will see.";
  if (codePoints(name) > limits.name) return `A name can be at most ${limits.name} characters.`;
  if (FORBIDDEN.test(name.replace(/\u200d/g, ""))) return "A name cannot contain control characters.";
  return null;
}

export function welcomeView(
  submit: (name: string) => void,
  problem: string | null,
  value = "",
  signIn: (() => Promise<void>) | null = null,
): HTMLElement {
  const id = uid("name");
  const input = h("input", {
    testid: "name-input",
    attrs: {
      id,
      value,
      required: true,
      maxlength: limits.name * 2,
      autocomplete: "nickname",
      placeholder: "e.g. Ann from the bakery",
    },
  });
  const error = h(
    "p",
    { class: "form-error", attrs: { role: "alert", hidden: problem === null } },
    problem ?? "",
  );
  const form = h(
    "form",
    {
      class: "card welcome-card",
      on: {
        submit: (event) => {
          event.preventDefault();
          const name = input.value.trim();
          const wrong = checkName(name);
          error.hidden = wrong === null;
          error.textContent = wrong ?? "";
          if (!wrong) submit(name);
        },
      },
    },
    h("div", { class: "welcome-logo", attrs: { "aria-hidden": "true" } }, icon("coffee", "icon big")),
    h("h1", {}, "Welcome to Percolate"),
    h(
      "p",
      { class: "muted" },
      "Chat rooms, coffee mornings and workshops for people who work for themselves.",
    ),
    h("label", { class: "field", attrs: { for: id } }, h("span", {}, "What should people call you?"), input),
    error,
    h(
      "button",
      { class: "button primary wide", testid: "name-submit", attrs: { type: "submit" } },
      "Continue",
    ),
    h(
      "p",
      { class: "fine-print" },
      "No account needed. Your name is remembered in this browser; you can change it later.",
    ),
    signIn && passkeysSupported() ? passkeyButton(signIn, error) : null,
  );
  setTimeout(() => input.focus(), 0);
  return h("main", { class: "welcome" }, form);
}

function passkeyButton(signIn: () => Promise<void>, error: HTMLElement): HTMLElement {
  const button = h(
    "button",
    {
      class: "button wide",
      testid: "passkey-signin",
      attrs: { type: "button" },
      on: {
        click: () => {
          button.disabled = true;
          error.hidden = true;
          signIn()
            .catch((failure: unknown) => {
              error.hidden = false;
              error.textContent =
                failure instanceof Error ? sentence(failure.message) : "The passkey did not work.";
            })
            .finally(() => {
              button.disabled = false;
            });
        },
      },
    },
    icon("key"),
    "Sign in with a passkey",
  );
  return h(
    "div",
    { class: "welcome-passkey" },
    h("p", { class: "muted welcome-or" }, "Been here before on another device?"),
    button,
  );
}
