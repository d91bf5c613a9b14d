// A room's pinned messages: the header's "Pinned" button and the panel listing them, the latest
// pinned first (`chat:pins`); a click opens the room at that message, among its neighbours.
// While open, the list follows the room: a message pinned, unpinned or edited meanwhile (a
// `chat:change`) has it asked for again.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Message } from "../protocol/types";
import { panelHead } from "./care";
import { avatar, h } from "./elements";
import { icon } from "./icons";
import { messageText, shortTime } from "./message";

export class PinsPanel {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;
  private readonly list = h("ul", { class: "pin-list", testid: "pins-list" });
  /** What the list shows, by message id. */
  private shown = new Map<string, Message>();
  private asked = 0;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    /** Show one of the room's messages among those around it. */
    private readonly open: (seq: number) => void,
  ) {
    this.button = h(
      "button",
      {
        class: "button quiet header-action pins-open",
        testid: "pins-open",
        attrs: {
          type: "button",
          "aria-expanded": "false",
          "aria-label": "Pinned messages",
          title: "Messages pinned for everybody here",
          hidden: state.kind === "table",
        },
        on: { click: () => this.toggle() },
      },
      icon("pin"),
      h("span", { class: "caption" }, "Pinned"),
    );
    this.panel = h(
      "section",
      {
        class: "reports-panel pins-panel",
        testid: "pins-panel",
        attrs: { hidden: true, "aria-label": "Pinned" },
      },
      panelHead("pin", "Pinned messages", "pins-close", "Close pinned messages", () => this.toggle(false)),
      this.list,
    );
  }

  /** The room's messages changed: ask again if one was pinned, unpinned or edited. */
  update(): void {
    if (this.panel.hidden) return;
    for (const message of this.state.timeline.messages) {
      const listed = this.shown.get(message.id);
      const pinned = message.pinned_at !== null;
      if (pinned !== (listed !== undefined) || (listed !== undefined && listed.rev < message.rev)) {
        void this.load();
        return;
      }
    }
  }

  private toggle(open = this.panel.hidden): void {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    if (open) void this.load();
  }

  private async load(): Promise<void> {
    const asked = ++this.asked;
    let pins: Message[];
    try {
      pins = await this.client.chat.pins(this.state.id);
    } catch {
      if (asked === this.asked) this.render(null);
      return;
    }
    if (asked === this.asked) this.render(pins);
  }

  private render(pins: Message[] | null): void {
    this.shown = new Map((pins ?? []).map((m) => [m.id, m]));
    if (pins === null || pins.length === 0) {
      const text =
        pins === null
          ? "The pinned messages could not be loaded."
          : "Nothing is pinned here yet. Those who look after the room pin what everybody should find.";
      this.list.replaceChildren(h("li", { class: "muted report-empty", testid: "pins-empty" }, text));
      return;
    }
    this.list.replaceChildren(...pins.map((message) => this.item(message)));
  }

  private item(message: Message): HTMLLIElement {
    const by = message.pinned_by ? `Pinned by ${message.pinned_by.name}` : "Pinned";
    const when = message.pinned_at !== null ? ` · ${shortTime(message.pinned_at)}` : "";
    const element = h(
      "li",
      { class: "pin-item", testid: "pin-item" },
      h(
        "button",
        {
          class: "pin-open",
          testid: "pin-open",
          attrs: { type: "button", title: "Show it in the chat" },
          on: {
            click: () => {
              this.toggle(false);
              this.open(message.seq);
            },
          },
        },
        avatar(message.user, "s"),
        h(
          "div",
          { class: "report-body" },
          h(
            "span",
            { class: "author" },
            message.user.name,
            h("span", { class: "muted" }, ` · ${shortTime(message.ts)}`),
          ),
          messageText(message.text),
          h("span", { class: "pin-by", testid: "pin-by" }, `${by}${when}`),
        ),
      ),
    );
    element.dataset.seq = String(message.seq);
    return element;
  }
}
