// "Passkeys": the part of the Sessions dialog where a person attaches a passkey to this
// identity (so they can sign in as themselves from another browser or device) and sees,
// renames or removes the ones attached; and the welcome screen's "Sign in with a passkey".

import type { Client } from "../protocol/client";
import { type PasskeyInfo, passkeysSupported } from "../protocol/passkeys";
import { h, sentence } from "./elements";
import { icon } from "./icons";

/** The passkeys part of the Sessions dialog; it loads the list when made. */
export function passkeysSection(client: Client): { element: HTMLElement; close(): void } {
  const passkeys = client.passkeys;
  const list = h("ul", {
    class: "sessions-list",
    testid: "passkeys-list",
    attrs: { "aria-label": "Your passkeys" },
  });
  const status = h("p", { class: "muted", testid: "passkeys-status", attrs: { role: "status" } });
  const act = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      status.textContent = error instanceof Error ? sentence(error.message) : "That did not work.";
    }
  };
  const add = h(
    "button",
    {
      class: "button",
      testid: "passkey-add",
      attrs: { type: "button" },
      on: {
        click: () =>
          act(async () => {
            status.textContent = "Follow your browser's prompt…";
            const made = await passkeys.add();
            status.textContent = `Added “${made.name}”. Use it to sign in as yourself on another device.`;
          }),
      },
    },
    icon("key"),
    "Add a passkey",
  );
  const supported = passkeysSupported();
  add.disabled = !supported;
  const render = () => {
    const items = passkeys.list ?? [];
    list.replaceChildren(...items.map((passkey) => item(passkey, act, client)));
    if (passkeys.list && items.length === 0) {
      list.append(h("li", { class: "muted passkeys-empty" }, "No passkeys yet."));
    }
  };
  const off = passkeys.on("changed", render);
  const element = h(
    "section",
    { class: "passkeys", testid: "passkeys", attrs: { "aria-label": "Passkeys" } },
    h("h3", { class: "passkeys-title" }, "Passkeys"),
    h(
      "p",
      { class: "muted" },
      supported
        ? "A passkey lets you sign in as yourself from another browser or device: same name, rooms and messages. No password."
        : "This browser cannot make passkeys.",
    ),
    list,
    status,
    h("div", { class: "passkeys-actions" }, add),
  );
  void act(async () => {
    await passkeys.load();
  });
  return { element, close: off };
}

function item(
  passkey: PasskeyInfo,
  act: (work: () => Promise<void>) => Promise<void>,
  client: Client,
): HTMLLIElement {
  const used = passkey.last_used === null ? "never used to sign in" : `last used ${day(passkey.last_used)}`;
  const li = h(
    "li",
    { class: "session-item", testid: "passkey" },
    icon("key"),
    h(
      "div",
      { class: "session-text" },
      h("span", { class: "session-name", testid: "passkey-name" }, passkey.name),
      h("span", { class: "muted small" }, `Added ${day(passkey.created)} · ${used}`),
    ),
    h(
      "button",
      {
        class: "button small quiet",
        testid: "passkey-rename",
        attrs: { type: "button", title: `Rename ${passkey.name}` },
        on: {
          click: () => {
            const name = window.prompt("Call this passkey", passkey.name)?.trim();
            if (name && name !== passkey.name) void act(() => client.passkeys.rename(passkey.id, name));
          },
        },
      },
      "Rename",
    ),
    h(
      "button",
      {
        class: "button small danger",
        testid: "passkey-remove",
        attrs: { type: "button", title: `Remove ${passkey.name}` },
        on: { click: () => void act(() => client.passkeys.remove(passkey.id)) },
      },
      "Remove",
    ),
  );
  li.dataset.passkeyId = passkey.id;
  return li;
}

function day(at: number): string {
  return new Date(at).toLocaleDateString(undefined, { dateStyle: "medium" });
}
