// "Sessions": the browsers and devices signed in as this user, this browser first, each with
// when it was last used; sign one out, or every one but this browser. A dialog over the page,
// opened from "who you are" in the sidebar. Below them, the passkeys that sign this identity in
// elsewhere (./passkeys.ts).

import type { Client } from "../protocol/client";
import type { SessionInfo } from "../protocol/types";
import { h, sentence } from "./elements";
import { icon } from "./icons";
import { passkeysSection } from "./passkeys";

/** Open the sessions dialog; it loads the list and closes on Escape or "Close". */
export function showSessions(client: Client): void {
  const list = h("ul", {
    class: "sessions-list",
    testid: "sessions-list",
    attrs: { "aria-label": "Your sessions" },
  });
  const status = h("p", { class: "muted", testid: "sessions-status", attrs: { role: "status" } });
  const others = h(
    "button",
    {
      class: "button quiet",
      testid: "sessions-revoke-others",
      attrs: { type: "button" },
      on: {
        click: () =>
          act(async () => {
            const revoked = await client.sessions.revokeOthers();
            status.textContent = `Signed out ${revoked} other ${revoked === 1 ? "session" : "sessions"}.`;
          }),
      },
    },
    "Sign out everywhere else",
  );
  const passkeys = passkeysSection(client);
  const dialog = h(
    "dialog",
    { class: "dialog sessions-dialog", testid: "sessions-dialog", attrs: { "aria-label": "Sessions" } },
    h("h2", { class: "dialog-title" }, "Sessions"),
    h(
      "p",
      { class: "muted" },
      "The browsers and devices where you are signed in. Sign out any you do not recognise: " +
        "they are disconnected at once.",
    ),
    list,
    status,
    passkeys.element,
    h(
      "div",
      { class: "form-actions" },
      others,
      h(
        "button",
        {
          class: "button primary",
          testid: "sessions-close",
          attrs: { type: "button" },
          on: { click: () => dialog.close() },
        },
        "Close",
      ),
    ),
  );

  const act = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      status.textContent = error instanceof Error ? sentence(error.message) : "That did not work.";
    }
  };
  const render = () => {
    const sessions = client.sessions.list ?? [];
    list.replaceChildren(...sessions.map((session) => item(session, act, client)));
    others.disabled = !sessions.some((session) => !session.current);
  };
  const off = client.sessions.on("changed", render);
  dialog.addEventListener("close", () => {
    off();
    passkeys.close();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
  status.textContent = "Loading…";
  void act(async () => {
    await client.sessions.load();
    status.textContent = "";
  });
}

function item(
  session: SessionInfo,
  act: (work: () => Promise<void>) => Promise<void>,
  client: Client,
): HTMLLIElement {
  const name = session.label || "A browser";
  const seen = session.current ? "Active now" : `Last seen ${ago(session.last_seen)}`;
  const li = h(
    "li",
    { class: "session-item", testid: "session" },
    icon("device"),
    h(
      "div",
      { class: "session-text" },
      h(
        "span",
        { class: "session-name", testid: "session-name" },
        name,
        session.current ? h("span", { class: "session-this" }, "this browser") : null,
      ),
      h("span", { class: "muted small" }, `${seen} · signed in ${day(session.created)}`),
    ),
    session.current
      ? null
      : h(
          "button",
          {
            class: "button small danger",
            testid: "session-revoke",
            attrs: { type: "button", title: `Sign out ${name}` },
            on: { click: () => void act(() => client.sessions.revoke(session.id)) },
          },
          "Sign out",
        ),
  );
  li.dataset.sessionId = session.id;
  return li;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "5 minutes ago", "yesterday", "3 weeks ago". */
function ago(at: number): string {
  const seconds = (at - Date.now()) / 1000;
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["week", 604_800],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

function day(at: number): string {
  return new Date(at).toLocaleDateString(undefined, { dateStyle: "medium" });
}
