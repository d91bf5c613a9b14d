// Looking after a room, as its owner and moderators (a workshop's hosts and co-hosts) see it:
// the header's "Reports" button, with the count of open reports, and the panel that answers
// them (dismiss, delete the message, remove its author); the room's "…" menu with the room's
// title and description, slow mode and, for the owner (a workshop's host), the moderation log.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Report, ReportOutcome } from "../protocol/types";
import { showAudit } from "./audit";
import { ask } from "./dialog";
import { avatar, h, sentence } from "./elements";
import { icon, type IconName } from "./icons";
import { Menu, type MenuItem } from "./menu";
import { messageText, shortTime } from "./message";
import type { Moderator, Notify } from "./moderation";
import { editRoom } from "./roomform";

/** The intervals offered for slow mode (seconds; 0 is off). */
export const SLOW_CHOICES = [0, 10, 30, 60, 300] as const;

/** "30 s", "1 min", "5 min". */
export function interval(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** Slow mode's notice above a message box (the room's or a thread's); hidden while it is off. */
export function slowNotice(testid: string): HTMLElement {
  return h("p", { class: "slow-notice", testid, attrs: { role: "status", hidden: true } });
}

/** "Slow mode: one message every 30 s"; moderators are told it does not slow them. */
export function renderSlowNotice(notice: HTMLElement, state: RoomState): void {
  const seconds = state.slowSeconds;
  notice.hidden = seconds <= 0;
  const text =
    seconds <= 0
      ? ""
      : `Slow mode: one message every ${interval(seconds)}${state.moderating ? " (moderators are not slowed)" : ""}`;
  if (notice.textContent !== text) notice.textContent = text;
  notice.dataset.seconds = String(seconds);
}

/** The title of a panel under the room's header (reports, pins) and its close button. */
export function panelHead(
  name: IconName,
  title: string,
  testid: string,
  label: string,
  close: () => void,
): HTMLElement {
  return h(
    "div",
    { class: "reports-head" },
    h("h2", { class: "panel-title" }, icon(name), title),
    h(
      "button",
      {
        class: "icon-button",
        testid,
        attrs: { type: "button", "aria-label": label, title: "Close" },
        on: { click: close },
      },
      icon("close"),
    ),
  );
}

export class Care {
  readonly reportsButton: HTMLButtonElement;
  readonly panel: HTMLElement;
  readonly menu: Menu;
  private readonly badge = h("span", {
    class: "count-badge",
    testid: "reports-badge",
    attrs: { hidden: true },
  });
  private readonly list = h("ul", { class: "report-list", testid: "report-list" });
  private signature = "";

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly moderator: Moderator,
    private readonly notify: Notify,
  ) {
    this.reportsButton = h(
      "button",
      {
        class: "button quiet header-action reports-open",
        testid: "reports-open",
        attrs: {
          type: "button",
          hidden: true,
          "aria-expanded": "false",
          "aria-label": "Reports: messages people reported",
          title: "Messages people reported to the moderators",
        },
        on: { click: () => this.toggle() },
      },
      icon("flag"),
      h("span", { class: "caption" }, "Reports"),
      this.badge,
    );
    this.panel = h(
      "section",
      { class: "reports-panel", testid: "reports-panel", attrs: { hidden: true, "aria-label": "Reports" } },
      panelHead("flag", "Reported messages", "reports-close", "Close reports", () => this.toggle(false)),
      this.list,
    );
    this.menu = new Menu("Room settings", { button: "room-menu", menu: "room-menu-items" }, () =>
      this.items(),
    );
    this.menu.button.hidden = true;
    this.render();
  }

  /** The button, its count and the panel, as this user's role and the open reports say. */
  render(): void {
    const state = this.state;
    const keeps = state.moderating && state.kind !== "dm" && state.kind !== "table";
    this.reportsButton.hidden = !keeps;
    this.menu.button.hidden = !keeps;
    if (!keeps) {
      this.menu.close();
      this.toggle(false);
    }
    const count = state.reports.size;
    this.badge.hidden = count === 0;
    this.badge.textContent = String(count);
    this.reportsButton.setAttribute(
      "aria-label",
      count ? `Reports: ${count} open` : "Reports: messages people reported",
    );
    const signature = JSON.stringify([...state.reports.values()]);
    if (signature === this.signature) return;
    this.signature = signature;
    const reports = [...state.reports.values()].sort((a, b) => a.at - b.at);
    this.list.replaceChildren(
      ...(reports.length
        ? reports.map((report) => this.item(report))
        : [
            h(
              "li",
              { class: "muted report-empty" },
              "No open reports. Thank you for looking after this room.",
            ),
          ]),
    );
    this.menu.refresh();
  }

  private toggle(open = this.panel.hidden): void {
    this.panel.hidden = !open;
    this.reportsButton.setAttribute("aria-expanded", String(open));
    // Reports may have come while this page was away: ask again on opening.
    if (open) void this.client.moderation.loadReports(this.state);
  }

  private item(report: Report): HTMLLIElement {
    const message = report.message;
    const owner = this.state.members.get(message.user.id)?.role === "owner";
    const element = h(
      "li",
      { class: "report-item", testid: "report-item" },
      h(
        "div",
        { class: "report-message" },
        avatar(message.user, "s"),
        h(
          "div",
          { class: "report-body" },
          h("span", { class: "author", testid: "report-author" }, message.user.name),
          message.deleted
            ? h("div", { class: "tombstone", testid: "message-deleted" }, "This message was deleted")
            : messageText(message.text),
        ),
      ),
      h(
        "p",
        { class: "report-by", testid: "report-by" },
        `Reported by ${report.reporter.name} · ${shortTime(report.at)}`,
      ),
      h("p", { class: "report-reason", testid: "report-reason" }, report.reason),
      h(
        "div",
        { class: "report-actions" },
        this.button("report-dismiss", "Dismiss", "button quiet small", () => this.resolve(report, "dismiss")),
        owner || message.deleted
          ? null
          : this.button("report-delete", "Delete message", "button danger-quiet small", () =>
              this.resolve(report, "delete"),
            ),
        owner
          ? null
          : this.button(
              "report-ban",
              "Remove author",
              "button danger-quiet small",
              () => void this.ban(report),
            ),
      ),
    );
    element.dataset.reportId = report.id;
    element.dataset.seq = String(message.seq);
    return element;
  }

  private button(testid: string, label: string, className: string, act: () => void): HTMLButtonElement {
    return h("button", { class: className, testid, attrs: { type: "button" }, on: { click: act } }, label);
  }

  private async ban(report: Report): Promise<void> {
    const name = report.message.user.name;
    const yes = await ask({
      title: `Remove ${name}?`,
      text: `${name} leaves ${this.state.title} and cannot come back unless a moderator allows it again. Their message stays.`,
      confirm: "Remove",
      danger: true,
    });
    if (yes) this.resolve(report, "ban");
  }

  private resolve(report: Report, action: ReportOutcome): void {
    this.client.moderation.resolve(this.state.id, report.id, action).catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  /**
   * The room menu: its title and description, slow mode's intervals (the current one marked),
   * the log for the owner.
   */
  private items(): MenuItem[] {
    const now = this.state.slowSeconds;
    const edit: MenuItem = {
      testid: "room-edit-open",
      label: "Edit room…",
      icon: "edit",
      act: () => void editRoom(this.client, this.state),
    };
    const items: MenuItem[] = SLOW_CHOICES.map((seconds) => ({
      testid: `slow-${seconds}`,
      label: seconds === 0 ? "Slow mode off" : `Slow mode: ${interval(seconds)}`,
      icon: seconds === now ? "check" : "clock",
      disabled: seconds === now,
      title: seconds === now ? "As it is now" : undefined,
      act: () => this.moderator.setSlow(seconds),
    }));
    items.unshift(edit);
    if (this.state.owning) {
      items.push({
        testid: "audit-open",
        label: "Moderation log",
        icon: "log",
        act: () => void showAudit(this.client, this.state, this.moderator),
      });
    }
    return items;
  }
}
