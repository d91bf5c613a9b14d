// The lobby: the public rooms with what each is for and how many people are in each, who is in
// them ("Who is here"), and the form to start a room.

import type { Client, NewRoom } from "../protocol/client";
import { RequestError } from "../protocol/connection";
import { codePoints, limits, type Room, type RoomInfo } from "../protocol/types";
import { h, sentence, uid } from "./elements";
import { HereList } from "./here";
import { icon, kindIcon, kindLabels } from "./icons";
import { roomPath, type Router } from "./router";

const REFRESH_MS = 10_000;

export class LobbyView {
  readonly element: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly listState: HTMLElement;
  private readonly form: HTMLFormElement;
  private readonly formError: HTMLElement;
  private readonly submit: HTMLButtonElement;
  private timer: ReturnType<typeof setInterval> | undefined;
  private soon: ReturnType<typeof setTimeout> | undefined;
  /** The rooms as last listed; null until `room:list` answered once. */
  private rooms: RoomInfo[] | null = null;
  private visible = false;
  private readonly here: HereList;

  constructor(
    private readonly client: Client,
    private readonly router: Router,
    private readonly created: (room: Room, passcode: string | null) => void,
    openDm: (user: string) => void,
  ) {
    this.here = new HereList(client, router, openDm);
    this.list = h("ul", { class: "room-list", testid: "room-list", attrs: { "aria-label": "Public rooms" } });
    this.listState = h(
      "div",
      { class: "list-state", attrs: { "aria-live": "polite" } },
      h("span", { class: "spinner" }),
      "Loading rooms…",
    );

    const titleId = uid("title");
    const kindId = uid("kind");
    const passId = uid("passcode");
    const title = h("input", {
      testid: "create-title",
      attrs: {
        id: titleId,
        required: true,
        maxlength: limits.title * 2,
        placeholder: "e.g. Friday coffee",
        autocomplete: "off",
      },
    });
    const kind = h(
      "select",
      { testid: "create-kind", attrs: { id: kindId } },
      h("option", { attrs: { value: "open" } }, "Open chat — text, for anyone"),
      h("option", { attrs: { value: "coffee" } }, "Coffee morning — video and chat"),
      h("option", { attrs: { value: "workshop" } }, "Workshop — a host presents"),
    );
    const privateBox = h("input", { testid: "create-private", attrs: { type: "checkbox" } });
    const passcode = h("input", {
      testid: "create-passcode",
      attrs: {
        id: passId,
        type: "text",
        maxlength: limits.passcode,
        placeholder: "Optional",
        autocomplete: "off",
        spellcheck: "false",
      },
    });
    this.formError = h("p", { class: "form-error", attrs: { role: "alert", hidden: true } });
    this.submit = h(
      "button",
      { class: "button primary", testid: "create-submit", attrs: { type: "submit" } },
      icon("plus"),
      "Create room",
    );
    this.form = h(
      "form",
      {
        class: "card create-form",
        attrs: { "aria-labelledby": `${titleId}-heading` },
        on: {
          submit: (event) => {
            event.preventDefault();
            void this.create({
              title: title.value.trim(),
              kind: kind.value as NewRoom["kind"],
              private: privateBox.checked,
              passcode: passcode.value === "" ? null : passcode.value,
            });
          },
        },
      },
      h("h2", { attrs: { id: `${titleId}-heading` } }, "Start a room"),
      h("label", { class: "field", attrs: { for: titleId } }, h("span", {}, "Name"), title),
      h("label", { class: "field", attrs: { for: kindId } }, h("span", {}, "Kind"), kind),
      h(
        "label",
        { class: "check" },
        privateBox,
        h(
          "span",
          {},
          h("strong", {}, "Private"),
          h("small", { class: "muted" }, "Not listed here; only people with the link can find it."),
        ),
      ),
      h(
        "label",
        { class: "field", attrs: { for: passId } },
        h("span", {}, "Passcode"),
        passcode,
        h("small", { class: "muted" }, "At least 4 characters. People with the link also need it."),
      ),
      this.formError,
      this.submit,
    );

    this.element = h(
      "section",
      { class: "lobby", testid: "lobby", attrs: { "aria-labelledby": "lobby-heading" } },
      h(
        "header",
        { class: "lobby-header" },
        h("h1", { attrs: { id: "lobby-heading" } }, "Rooms"),
        h("p", { class: "muted" }, "Drop into a public room, or start your own and share its link."),
      ),
      h(
        "div",
        { class: "lobby-grid" },
        h(
          "div",
          { class: "lobby-main" },
          h(
            "section",
            { class: "card rooms-card", attrs: { "aria-label": "Public rooms" } },
            h("h2", {}, "Public rooms"),
            this.listState,
            this.list,
          ),
          this.here.element,
        ),
        this.form,
      ),
    );
  }

  show(): void {
    this.visible = true;
    void this.refresh(true);
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
  }

  /** Taken off the page (not just hidden): the page holds one view at a time. */
  hide(): void {
    this.visible = false;
    this.element.remove();
    clearInterval(this.timer);
  }

  /** Somebody joined or left a room: counts changed (batched, they come in bursts). */
  refreshSoon(): void {
    if (!this.visible) return;
    clearTimeout(this.soon);
    this.soon = setTimeout(() => void this.refresh(), 300);
  }

  async refresh(all = false): Promise<void> {
    if (!this.visible || !this.client.connection.connected) return;
    try {
      this.rooms = await this.client.listRooms();
      this.renderRooms(this.rooms);
      await this.here.refresh(all);
    } catch (error) {
      if (this.rooms === null) this.listState.replaceChildren("The rooms could not be loaded. Retrying…");
      console.warn("Lobby: room:list failed", error);
    }
  }

  /** A room's moderators gave it a new title or description (`room:updated`): show it now. */
  updated(room: Room): void {
    const listed = this.rooms?.find((r) => r.id === room.id);
    if (!listed || !this.rooms) return;
    listed.title = room.title;
    listed.description = room.description;
    this.renderRooms(this.rooms);
  }

  private renderRooms(rooms: RoomInfo[]): void {
    this.listState.hidden = rooms.length > 0;
    this.listState.replaceChildren(
      h("p", { class: "empty-title" }, "No public rooms yet"),
      h("p", { class: "muted" }, "Start the first one with the form."),
    );
    const focused =
      document.activeElement instanceof HTMLElement ? document.activeElement.dataset.roomId : undefined;
    this.list.replaceChildren(...rooms.map((room) => this.item(room)));
    if (focused) this.list.querySelector<HTMLElement>(`[data-room-id="${CSS.escape(focused)}"]`)?.focus();
  }

  private item(room: RoomInfo): HTMLLIElement {
    const count = h(
      "span",
      { class: "count", testid: "room-members", attrs: { "aria-label": `${room.members} here` } },
      String(room.members),
    );
    const link = this.router.link(
      h(
        "a",
        { class: "room-item", testid: "room-item", attrs: { href: roomPath(room.id) } },
        h("span", { class: `kind-icon kind-${room.kind}` }, kindIcon(room.kind)),
        h(
          "span",
          { class: "room-text" },
          h(
            "span",
            { class: "room-name" },
            room.title,
            room.has_passcode ? icon("lock", "icon inline") : null,
          ),
          room.description
            ? h(
                "span",
                {
                  class: "muted room-summary",
                  testid: "room-item-description",
                  attrs: { title: room.description },
                },
                room.description,
              )
            : null,
          h("span", { class: "muted" }, kindLabels[room.kind] ?? room.kind),
        ),
        h("span", { class: room.members > 0 ? "presence active" : "presence" }, icon("people"), count),
      ),
    );
    link.dataset.roomId = room.id;
    return h("li", {}, link);
  }

  private async create(request: NewRoom): Promise<void> {
    const problem = check(request);
    this.formError.hidden = problem === null;
    this.formError.textContent = problem ?? "";
    if (problem) return;
    this.submit.disabled = true;
    try {
      const room = await this.client.createRoom(request);
      this.form.reset();
      this.created(room, request.passcode);
    } catch (error) {
      this.formError.hidden = false;
      this.formError.textContent =
        error instanceof RequestError && error.code === "offline"
          ? navigator.onLine === false
            ? "You are offline. Try again once the connection is back."
            : "The connection to the server is lost. Try again once it is back."
          : error instanceof Error
            ? sentence(error.message)
            : "The room could not be created.";
    } finally {
      this.submit.disabled = false;
    }
  }
}

function check(request: NewRoom): string | null {
  if (request.title === "") return "Give the room a name.";
  if (codePoints(request.title) > limits.title)
    return `A room's name can be at most ${limits.title} characters.`;
  if (request.passcode !== null && codePoints(request.passcode) < limits.passcodeMin) {
    return `A passcode needs at least ${limits.passcodeMin} characters.`;
  }
  return null;
}
