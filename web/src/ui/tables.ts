// What everybody sees of a room's tables, in the room and at its tables: the countdown (a round,
// a break, tables with a duration), "30 seconds left", a host's notice, the invitation to a
// speed-networking series (join or not now), leaving it, "Stay in touch" with the people of
// one's last table, and, where guests choose, the tables to sit at.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Series, Sitting, Table, User } from "../protocol/types";
import { avatar, h, sentence } from "./elements";
import { icon } from "./icons";
import type { Notify } from "./moderation";

/** Series this page said "Not now" to: the invitation stays away, the countdown stays. */
const declined = new Set<string>();

/** m:ss of a number of milliseconds (never below 0:00). */
export function clock(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** "2 rounds of 5 min in pairs" */
export function describeSeries(series: Series): string {
  const minutes = series.round_seconds / 60;
  const length = Number.isInteger(minutes) ? `${minutes} min` : `${series.round_seconds} s`;
  const groups = series.size === 2 ? "in pairs" : `at tables of ${series.size}`;
  return `${series.rounds} ${series.rounds === 1 ? "round" : "rounds"} of ${length} ${groups}`;
}

/** Names as a sentence: "Ann", "Ann and Bob", "Ann, Bob and Cleo". */
export function names(users: User[]): string {
  const list = users.map((u) => u.name);
  if (list.length <= 1) return list.join("");
  return `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
}

export class TablesBar {
  readonly element: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly countdown: HTMLElement;
  private readonly countdownText: HTMLElement;
  private readonly countdownTime: HTMLElement;
  private readonly countdownActions: HTMLElement;
  private readonly warning: HTMLElement;
  private readonly invite: HTMLElement;
  private readonly inviteText: HTMLElement;
  private readonly stay: HTMLElement;
  private readonly choose: HTMLElement;
  /** The notice the person closed (its `at`). */
  private dismissedNotice = 0;
  private signature = "";

  constructor(
    private readonly client: Client,
    /** The coffee room or workshop whose tables these are. */
    private readonly home: RoomState,
    private readonly notify: Notify,
  ) {
    this.notice = h("div", { class: "tables-notice", testid: "tables-notice", attrs: { role: "status" } });
    this.countdownText = h("span", { class: "countdown-text" });
    this.countdownTime = h("span", { class: "countdown-time", testid: "tables-countdown-time" });
    this.countdownActions = h("span", { class: "countdown-actions" });
    this.countdown = h(
      "div",
      { class: "tables-countdown", testid: "tables-countdown", attrs: { role: "timer", "aria-live": "off" } },
      icon("clock"),
      this.countdownText,
      this.countdownTime,
      this.countdownActions,
    );
    this.warning = h(
      "div",
      { class: "tables-warning", testid: "tables-warning", attrs: { role: "alert" } },
      icon("clock"),
      h("span", {}),
    );
    this.inviteText = h("div", { class: "invite-copy" });
    this.invite = h(
      "section",
      { class: "rounds-invite", testid: "rounds-invite", attrs: { "aria-label": "Speed networking" } },
      icon("rounds", "icon invite-icon"),
      this.inviteText,
      h(
        "div",
        { class: "invite-actions" },
        h(
          "button",
          {
            class: "button primary",
            testid: "rounds-join",
            attrs: { type: "button" },
            on: { click: () => this.run(() => this.client.tables.joinRounds(this.home.id)) },
          },
          "Join speed networking",
        ),
        h(
          "button",
          {
            class: "button quiet",
            testid: "rounds-decline",
            attrs: { type: "button", title: "Stay in the room; you still see the countdown" },
            on: { click: () => this.decline() },
          },
          "Not now",
        ),
      ),
    );
    this.stay = h("section", { class: "stay-panel", attrs: { "aria-label": "Stay in touch" } });
    this.choose = h("section", { class: "choose-panel", attrs: { "aria-label": "Choose a table" } });
    this.element = h(
      "div",
      { class: "tables-bar" },
      this.notice,
      this.invite,
      this.countdown,
      this.warning,
      this.stay,
      this.choose,
    );
    this.render();
  }

  private get me(): string | undefined {
    return this.client.me?.id;
  }

  private run(action: () => Promise<void>): void {
    action().catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  private decline(): void {
    const series = this.home.tables?.series;
    if (series) declined.add(series.id);
    this.render();
  }

  render(): void {
    const view = this.home.tables;
    const series = view?.series ?? null;
    const sitting = view?.sitting ?? null;
    const me = this.me;
    const joined = this.client.tables.joined(series, me);
    const running = series !== null && series.phase !== "done";

    const notice = this.home.notice;
    this.notice.hidden = !notice || notice.at === this.dismissedNotice || (!sitting && !running);
    if (notice && !this.notice.hidden && this.notice.dataset.at !== String(notice.at)) {
      this.notice.dataset.at = String(notice.at);
      this.notice.replaceChildren(
        icon("info"),
        h("span", { class: "notice-text" }, h("strong", {}, `${notice.by.name}: `), notice.text),
        h(
          "button",
          {
            class: "icon-button notice-close",
            attrs: { type: "button", "aria-label": "Dismiss", title: "Dismiss" },
            on: {
              click: () => {
                this.dismissedNotice = notice.at;
                this.render();
              },
            },
          },
          icon("close"),
        ),
      );
    }

    this.invite.hidden = !running || joined || declined.has(series.id);
    if (running && !this.invite.hidden) {
      const starter = series.by.id === me ? "You" : series.by.name;
      this.inviteText.replaceChildren(
        h("strong", {}, `${starter} started speed networking`),
        h("span", {}, ` · ${describeSeries(series)}. Meet the people here a few at a time; nobody twice.`),
      );
    }
    this.renderActions(series, sitting, joined, running);
    this.renderStay(series);
    this.renderChoose(sitting);
    this.tick();
  }

  /** Leave the series, stop it, or join it after saying "Not now". */
  private renderActions(
    series: Series | null,
    sitting: Sitting | null,
    joined: boolean,
    running: boolean,
  ): void {
    const me = this.me;
    const mayStop =
      running && series !== null && (series.by.id === me || (this.home.isWorkshop && this.home.hosting));
    const signature = JSON.stringify([
      series?.id,
      joined,
      running,
      mayStop,
      sitting?.id,
      declined.has(series?.id ?? ""),
    ]);
    if (signature === this.signature) return;
    this.signature = signature;
    const buttons: HTMLElement[] = [];
    if (running && joined) {
      buttons.push(
        button("rounds-leave", "Leave speed networking", "button small quiet", () =>
          this.run(() => this.client.tables.leaveRounds(this.home.id)),
        ),
      );
    } else if (running && series && declined.has(series.id)) {
      buttons.push(
        button("rounds-join", "Join", "button small primary", () =>
          this.run(() => this.client.tables.joinRounds(this.home.id)),
        ),
      );
    }
    if (mayStop) {
      buttons.push(
        button("rounds-stop", "Stop for everyone", "button small danger-quiet", () =>
          this.run(() => this.client.tables.stopRounds(this.home.id)),
        ),
      );
    }
    this.countdownActions.replaceChildren(...buttons);
  }

  /** "Stay in touch" with each person of this user's last table, in a break and after the last round. */
  private renderStay(series: Series | null): void {
    const me = this.me;
    const table =
      series && (series.phase === "break" || series.phase === "done") && me
        ? series.last.find((t) => t.seats.some((u) => u.id === me))
        : undefined;
    const others = table?.seats.filter((u) => u.id !== me) ?? [];
    this.stay.hidden = others.length === 0;
    if (!others.length) {
      this.stay.replaceChildren();
      return;
    }
    this.stay.replaceChildren(
      h(
        "p",
        { class: "stay-title" },
        h("strong", {}, `You just met ${names(others)}.`),
        " Would you like to stay in touch? They are asked; when they say yes, you find each other under People.",
      ),
      h(
        "ul",
        { class: "stay-list" },
        ...others.map((user) => {
          const standing = this.client.people.standing(user.id);
          const asked = standing === "asking";
          const both = standing === "met";
          const stay = h(
            "button",
            {
              class: asked || both ? "button small" : "button small primary",
              testid: "stay-in-touch",
              attrs: {
                type: "button",
                disabled: asked || both,
                "aria-pressed": String(asked || both),
                title: asked ? "You asked. When they say yes, you find each other under People." : null,
              },
              on: {
                click: () =>
                  this.run(async () => {
                    await this.client.people.stay(user.id, user.name);
                    this.render();
                  }),
              },
            },
            both ? icon("check") : null,
            both ? "In touch" : asked ? "Asked" : "Stay in touch",
          );
          stay.dataset.userId = user.id;
          return h(
            "li",
            { class: "stay-item" },
            avatar(user, "s"),
            h("span", { class: "stay-name" }, user.name),
            stay,
          );
        }),
      ),
    );
  }

  /** Where guests choose their table: each table, who sits there, and "Sit here". */
  private renderChoose(sitting: Sitting | null): void {
    const me = this.me;
    const show =
      sitting !== null && sitting.assign === "choose" && !this.home.hosting && this.home.atTable === null;
    this.choose.hidden = !show;
    if (!show) {
      this.choose.replaceChildren();
      return;
    }
    const full = (table: Table) => sitting.size !== null && table.seats.length >= sitting.size;
    this.choose.replaceChildren(
      h("p", { class: "stay-title" }, h("strong", {}, "Pick a table to join.")),
      h(
        "ul",
        { class: "choose-list" },
        ...sitting.tables.map((table) => {
          const card = h(
            "li",
            { class: "table-card", testid: "choose-card" },
            h("span", { class: "table-name" }, table.name),
            h("span", { class: "table-seats muted" }, table.seats.length ? names(table.seats) : "Nobody yet"),
            h(
              "button",
              {
                class: "button small primary",
                testid: "table-choose",
                attrs: { type: "button", disabled: full(table) || table.seats.some((u) => u.id === me) },
                on: { click: () => this.run(() => this.client.tables.choose(this.home.id, table.id)) },
              },
              full(table) ? "Full" : "Sit here",
            ),
          );
          card.dataset.tableId = table.id;
          return card;
        }),
      ),
    );
  }

  /** The countdown and the warning, every half second while anything runs. */
  tick(): void {
    const view = this.home.tables;
    const series = view?.series ?? null;
    const sitting = view?.sitting ?? null;
    const now = this.client.tables.serverNow();
    let phase: string | null = null;
    let text = "";
    let endsAt: number | null = null;
    if (series) {
      phase = series.phase;
      endsAt = series.phase_ends_at;
      if (series.phase === "gathering") text = "Speed networking starts in";
      else if (series.phase === "round") text = `Round ${series.round} of ${series.rounds} · time left`;
      else if (series.phase === "break") text = `Break · round ${series.round + 1} of ${series.rounds} in`;
      else text = "Speed networking is over. Thanks for taking part!";
    } else if (sitting) {
      phase = "breakout";
      endsAt = sitting.ends_at;
      text = endsAt === null ? "Breakout tables are open" : "Breakout tables · time left";
    }
    this.countdown.hidden = phase === null;
    if (phase !== null) {
      this.countdown.dataset.phase = phase;
      if (this.countdownText.textContent !== text) this.countdownText.textContent = text;
      const time = endsAt === null ? "" : clock(endsAt - now);
      if (this.countdownTime.textContent !== time) this.countdownTime.textContent = time;
      this.countdownTime.hidden = time === "";
    }
    const warnEnds = this.home.warningEndsAt;
    const warn = warnEnds !== null && warnEnds > now && (sitting !== null || series?.phase === "round");
    this.warning.hidden = !warn;
    if (warn) {
      const seconds = Math.max(0, Math.ceil((warnEnds - now) / 1000));
      const what = series?.phase === "round" ? "this round" : "the tables";
      const caption = seconds >= 60 ? `About a minute left in ${what}` : `${seconds} seconds left in ${what}`;
      const span = this.warning.lastElementChild;
      if (span && span.textContent !== caption) span.textContent = caption;
    }
  }
}

function button(testid: string, caption: string, className: string, act: () => void): HTMLButtonElement {
  return h("button", { class: className, testid, attrs: { type: "button" }, on: { click: act } }, caption);
}
