// The hosts' panel of a workshop's breakout tables: open them (how many, or how many people
// each; seated at random, by hand, or guests choose; for how long), then see every table and
// who sits there, move anybody (late joiners too) to a table or back, visit a table, send a
// message to every table, and recall everybody.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Member, Sitting } from "../protocol/types";
import { avatar, h, sentence, uid } from "./elements";
import { icon } from "./icons";
import type { Notify } from "./moderation";
import { names } from "./tables";

export class BreakoutPanel {
  readonly element: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly running: HTMLElement;
  private readonly by: HTMLSelectElement;
  private readonly amount: HTMLInputElement;
  private readonly assign: HTMLSelectElement;
  private readonly minutes: HTMLInputElement;
  private readonly noticeInput: HTMLInputElement;
  private readonly roundsRow: HTMLElement | null;
  private signature = "";

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly notify: Notify,
    /** "Speed networking": in a workshop it lives here, beside opening tables. */
    rounds: HTMLElement | null = null,
  ) {
    this.by = h(
      "select",
      { testid: "tables-by", attrs: { "aria-label": "Split by" } },
      h("option", { attrs: { value: "tables", selected: true } }, "Number of tables"),
      h("option", { attrs: { value: "size" } }, "People per table"),
    );
    this.amount = h("input", {
      testid: "tables-number",
      attrs: { type: "number", min: 1, max: 50, value: 2, required: true, "aria-label": "How many" },
    });
    this.assign = h(
      "select",
      { testid: "tables-assign" },
      h("option", { attrs: { value: "random", selected: true } }, "At random"),
      h("option", { attrs: { value: "manual" } }, "I'll place people"),
      h("option", { attrs: { value: "choose" } }, "Guests choose"),
    );
    this.minutes = h("input", {
      testid: "tables-minutes",
      attrs: { type: "number", min: 1, max: 240, step: "any", placeholder: "No limit" },
    });
    const assignId = uid("assign");
    const minutesId = uid("minutes");
    this.assign.id = assignId;
    this.minutes.id = minutesId;
    this.form = h(
      "form",
      { class: "breakout-form", on: { submit: (event) => this.open(event) } },
      h("div", { class: "breakout-row" }, this.by, this.amount),
      h("label", { class: "field", attrs: { for: assignId } }, h("span", {}, "Seat people"), this.assign),
      h(
        "label",
        { class: "field", attrs: { for: minutesId } },
        h("span", {}, "Duration in minutes (optional)"),
        this.minutes,
      ),
      h(
        "button",
        { class: "button primary", testid: "tables-submit", attrs: { type: "submit" } },
        "Open tables",
      ),
    );
    this.noticeInput = h("input", {
      testid: "tables-notice-input",
      attrs: {
        maxlength: 500,
        placeholder: "A message to every table",
        "aria-label": "Message to every table",
      },
    });
    this.running = h("div", { class: "breakout-running" });
    this.roundsRow = rounds
      ? h("div", { class: "breakout-rounds" }, h("span", { class: "muted" }, "Or timed rounds:"), rounds)
      : null;
    this.element = h(
      "section",
      {
        class: "breakout-panel",
        testid: "tables-panel",
        attrs: { "aria-label": "Breakout tables", hidden: true },
      },
      h("h2", { class: "panel-title" }, icon("people"), "Breakout tables"),
      this.form,
      this.roundsRow,
      this.running,
    );
  }

  toggle(): void {
    this.element.hidden = !this.element.hidden;
    this.signature = "";
    this.render();
  }

  private run(action: () => Promise<void>): void {
    action().catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  private open(event: SubmitEvent): void {
    event.preventDefault();
    const amount = Number(this.amount.value);
    const minutes = this.minutes.value.trim() === "" ? null : Number(this.minutes.value);
    const bySize = this.by.value === "size";
    this.run(() =>
      this.client.tables.open(this.state.id, {
        tables: bySize ? null : amount,
        size: bySize ? amount : null,
        assign: this.assign.value as "random" | "manual" | "choose",
        seconds: minutes === null ? null : Math.round(minutes * 60),
      }),
    );
  }

  render(): void {
    if (this.element.hidden) return;
    const sitting = this.state.tables?.sitting ?? null;
    const breakout = sitting?.kind === "breakout" ? sitting : null;
    this.form.hidden = sitting !== null;
    const series = this.state.tables?.series;
    if (this.roundsRow) this.roundsRow.hidden = sitting !== null || (!!series && series.phase !== "done");
    const people = [...this.state.members.values()].filter((m) => m.role !== "host" && m.role !== "cohost");
    // Re-rendering drops a select's focus: skip when nothing changed.
    const signature = JSON.stringify([sitting, people.map((m) => [m.id, m.name]), this.state.atTable]);
    if (signature === this.signature) return;
    this.signature = signature;
    if (!sitting) {
      this.running.replaceChildren(
        h("p", { class: "muted" }, "Split the room into small tables with their own video and chat."),
      );
      return;
    }
    this.running.replaceChildren(
      h(
        "ul",
        { class: "table-cards" },
        ...sitting.tables.map((table) => {
          const here = this.state.atTable === table.id;
          const card = h(
            "li",
            { class: "table-card", testid: "table-card" },
            h(
              "div",
              { class: "table-card-head" },
              h("strong", { class: "table-name" }, table.name),
              h(
                "button",
                {
                  class: "button small quiet",
                  testid: "table-visit",
                  attrs: { type: "button", disabled: here, title: `Join ${table.name} for a while` },
                  on: { click: () => this.client.visit(this.state.id, table.id) },
                },
                here ? "You are here" : "Visit",
              ),
            ),
            table.seats.length
              ? h(
                  "ul",
                  { class: "seat-list" },
                  ...table.seats.map((user) => {
                    const seat = h(
                      "li",
                      { class: "seat", testid: "table-seat" },
                      avatar(user, "s"),
                      user.name,
                    );
                    seat.dataset.userId = user.id;
                    return seat;
                  }),
                )
              : h("p", { class: "muted" }, "Nobody yet"),
          );
          card.dataset.tableId = table.id;
          return card;
        }),
      ),
      this.movers(sitting, people),
      breakout ? this.noticeForm() : "",
      h(
        "button",
        {
          class: "button danger-quiet",
          testid: "tables-close",
          attrs: { type: "button" },
          on: {
            click: () =>
              this.run(() =>
                breakout
                  ? this.client.tables.close(this.state.id)
                  : this.client.tables.stopRounds(this.state.id),
              ),
          },
        },
        breakout ? "Recall everybody" : "Stop speed networking",
      ),
    );
  }

  /** Everybody who can be seated, with where they sit: pick a table to move them. */
  private movers(sitting: Sitting, people: Member[]): HTMLElement {
    const seatOf = new Map<string, string>();
    for (const table of sitting.tables) for (const user of table.seats) seatOf.set(user.id, table.id);
    const unseated = people.filter((m) => !seatOf.has(m.id));
    return h(
      "div",
      { class: "movers" },
      h(
        "p",
        { class: "muted" },
        unseated.length ? `In the main room: ${names(unseated)}.` : "Everybody is at a table.",
      ),
      h(
        "ul",
        { class: "mover-list" },
        ...people.map((member) => {
          const select = h(
            "select",
            {
              testid: "tables-move",
              attrs: { "aria-label": `Where ${member.name} sits` },
              on: {
                change: () =>
                  this.run(() => this.client.tables.move(this.state.id, member.id, select.value || null)),
              },
            },
            h("option", { attrs: { value: "" } }, "Main room"),
            ...sitting.tables.map((table) => h("option", { attrs: { value: table.id } }, table.name)),
          );
          select.value = seatOf.get(member.id) ?? "";
          select.dataset.userId = member.id;
          const item = h(
            "li",
            { class: "mover", testid: "tables-person" },
            avatar(member, "s"),
            h("span", {}, member.name),
            select,
          );
          item.dataset.userId = member.id;
          return item;
        }),
      ),
    );
  }

  private noticeForm(): HTMLElement {
    return h(
      "form",
      {
        class: "notice-form",
        on: {
          submit: (event) => {
            event.preventDefault();
            const text = this.noticeInput.value.trim();
            if (!text) return;
            this.run(async () => {
              await this.client.tables.notice(this.state.id, text);
              this.noticeInput.value = "";
            });
          },
        },
      },
      this.noticeInput,
      h(
        "button",
        { class: "button small primary", testid: "tables-notice-send", attrs: { type: "submit" } },
        "Send",
      ),
    );
  }
}
