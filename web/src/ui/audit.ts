// The moderation log (`audit:list`), for a room's owner (a workshop's host): what the room's
// moderators did, newest first, in plain words ("Mo removed Mem · 14:05"), in a dialog. A
// removal in an open room or coffee morning offers to let the person back in: the log is the
// only place such a room lists who was removed.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { AuditEntry } from "../protocol/types";
import { h, sentence } from "./elements";
import { shortTime } from "./message";
import type { Moderator } from "./moderation";

/** What a moderator did, in a sentence without its time. */
export function describe(entry: AuditEntry): string {
  const by = entry.by.name;
  const target = entry.target?.name ?? "somebody";
  switch (entry.action) {
    case "delete":
      return `${by} deleted a message by ${target}`;
    case "remove":
      return `${by} removed ${target}`;
    case "allow":
      return `${by} let ${target} back in`;
    case "moderator":
      return `${by} made ${target} a moderator`;
    case "moderator_off":
      return `${by} took away ${target}'s moderator role`;
    case "slow":
      return /^0\b/.test(entry.detail)
        ? `${by} turned slow mode off`
        : `${by} set slow mode to ${entry.detail}`;
    case "edit":
      return `${by} edited the room “${entry.detail}”`;
    case "pin":
      return `${by} pinned a message by ${target}`;
    case "unpin":
      return `${by} unpinned a message by ${target}`;
    case "report":
      if (entry.detail === "delete") return `${by} deleted a reported message by ${target}`;
      if (entry.detail === "ban") return `${by} removed ${target} after a report`;
      return `${by} dismissed a report about ${target}'s message`;
    default:
      return `${by}: ${String(entry.action)} ${target}`;
  }
}

/** Open the log of `state`'s room; it closes with its button, Escape or the backdrop. */
export async function showAudit(client: Client, state: RoomState, moderator: Moderator): Promise<void> {
  const list = h("ol", { class: "audit-list", testid: "audit-list" });
  const status = h("p", { class: "muted", attrs: { role: "status" } }, "Loading…");
  const dialog = h(
    "dialog",
    { class: "dialog audit-dialog", testid: "audit-dialog", attrs: { "aria-label": "Moderation log" } },
    h("h2", { class: "dialog-title" }, `Moderation log · ${state.title}`),
    status,
    list,
    h(
      "div",
      { class: "form-actions" },
      h(
        "button",
        {
          class: "button quiet",
          testid: "audit-close",
          attrs: { type: "button" },
          on: { click: () => dialog.close() },
        },
        "Close",
      ),
    ),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  let entries: AuditEntry[];
  try {
    entries = await client.moderation.audit(state.id);
  } catch (error) {
    status.textContent = error instanceof Error ? sentence(error.message) : "The log could not be read.";
    return;
  }
  status.textContent = entries.length ? "" : "Nothing yet: no moderator has acted here.";
  status.hidden = entries.length > 0;
  // Who is out now: removed after the latest time they were let back in.
  const out = new Set<string>();
  for (const entry of [...entries].reverse()) {
    const id = entry.target?.id;
    if (!id) continue;
    if (entry.action === "remove" || (entry.action === "report" && entry.detail === "ban")) out.add(id);
    if (entry.action === "allow") out.delete(id);
  }
  // Offered once per person, on their latest removal (a workshop's hosts have their list).
  const offered = new Set<string>();
  list.replaceChildren(
    ...entries.map((entry) => {
      const target = entry.target;
      const removal = entry.action === "remove" || (entry.action === "report" && entry.detail === "ban");
      const offer = removal && target && out.has(target.id) && !offered.has(target.id) && !state.isWorkshop;
      if (offer) offered.add(target.id);
      const allow =
        offer && target
          ? h(
              "button",
              {
                class: "button quiet small",
                testid: "audit-allow",
                attrs: { type: "button" },
                on: {
                  click: (event) => {
                    out.delete(target.id);
                    (event.currentTarget as HTMLButtonElement).remove();
                    moderator.allowBack(target);
                  },
                },
              },
              "Allow back",
            )
          : null;
      const line = h(
        "li",
        { class: "audit-entry", testid: "audit-entry" },
        h("span", { class: "audit-text" }, `${describe(entry)} · ${shortTime(entry.at)}`),
        allow,
      );
      line.dataset.action = entry.action;
      return line;
    }),
  );
}
