// The page: the shell (sidebar, connection banner, main area), the route on screen, and the
// wiring from the client's events to the views that show them. A room whose user sits at one
// of its tables shows the table's view in its place.

import type { Client } from "../protocol/client";
import type { ConnectionStatus } from "../protocol/connection";
import type { RoomChange } from "../protocol/moderation";
import type { Report, Room } from "../protocol/types";
import { h, sentence } from "./elements";
import { gateView } from "./gate";
import { icon } from "./icons";
import { LobbyView } from "./lobby";
import { MentionsView, notifyMention } from "./mentions";
import { PeopleView } from "./people";
import { ProfileCards } from "./profile";
import { RoomView } from "./room";
import { type Route, Router, roomPath } from "./router";
import { Sidebar } from "./sidebar";
import { STOPPED } from "./recording";
import { Toasts } from "./toast";
import { welcomeView } from "./welcome";

export class App {
  private readonly router: Router;
  private readonly toasts = new Toasts();
  private readonly banner: HTMLElement;
  private readonly main: HTMLElement;
  private readonly topTitle: HTMLElement;
  private readonly menuButton: HTMLButtonElement;
  private readonly sidebar: Sidebar;
  private readonly lobby: LobbyView;
  private readonly people: PeopleView;
  private readonly mentions: MentionsView;
  /** The room view on screen (a room's, or its table's), for the countdown's ticks. */
  private shown: RoomView | null = null;
  /** A search result to show once its room is on screen (`openAt`). */
  private opening: { room: string; seq: number } | null = null;
  /** Rooms this page just created: their view opens with the invite panel. */
  private readonly justCreated = new Set<string>();
  private readonly views = new Map<string, RoomView>();
  private readonly shell: HTMLElement;
  /** Every room's audio elements: outside the views, so a call goes on while another view shows. */
  private readonly audio = h("div", { class: "audio-sinks", attrs: { hidden: true } });
  private gate: { key: string; element: HTMLElement } | null = null;
  private welcome: HTMLElement | null = null;
  private readonly menuBadge = h("span", { class: "menu-badge", attrs: { hidden: true } });
  /** An attempt at the connection being made failed: it is taking a while. */
  private slow = false;

  constructor(
    private readonly client: Client,
    private readonly root: HTMLElement,
  ) {
    this.router = new Router((route) => this.routeChanged(route));
    this.banner = h("div", {
      class: "banner",
      testid: "connection-banner",
      attrs: { role: "status", hidden: true },
    });
    this.main = h("main", { class: "main", attrs: { id: "main", tabindex: -1 } });
    this.topTitle = h(
      "span",
      { class: "topbar-title" },
      h("span", { class: "logo", attrs: { "aria-hidden": "true" } }, icon("coffee")),
      "Percolate",
    );
    this.menuButton = h(
      "button",
      {
        class: "icon-button menu-button",
        attrs: {
          type: "button",
          "aria-label": "Open the menu",
          "aria-expanded": "false",
          "aria-controls": "sidebar",
        },
        on: { click: () => this.setDrawer(!document.body.classList.contains("drawer-open")) },
      },
      icon("menu"),
      this.menuBadge,
    );
    this.sidebar = new Sidebar(client, this.router, () => this.setDrawer(false));
    this.lobby = new LobbyView(
      client,
      this.router,
      (room, passcode) => this.created(room, passcode),
      (user) => void this.openDm(user),
    );
    new ProfileCards(client, (user) => void this.openDm(user));
    this.people = new PeopleView(client, (user) => void this.openDm(user));
    this.mentions = new MentionsView(client, this.router);
    setInterval(() => this.shown?.tick(), TICK_MS);
    this.shell = h(
      "div",
      { class: "app" },
      h("a", { class: "skip-link", attrs: { href: "#main" } }, "Skip to content"),
      h("header", { class: "topbar" }, this.menuButton, this.topTitle),
      this.sidebar.element,
      h("div", { class: "scrim", on: { click: () => this.setDrawer(false) } }),
      h("div", { class: "main-wrap" }, this.banner, this.main),
      this.audio,
      this.toasts.element,
    );
    this.listen();
  }

  /** Show the page: ask for a name first if none is stored. */
  start(): void {
    const name = this.client.name;
    if (name) {
      this.showShell();
      this.client.start(name);
    } else {
      this.askName(null);
    }
  }

  private askName(problem: string | null): void {
    this.shell.remove();
    this.welcome?.remove();
    this.welcome = welcomeView(
      (name) => {
        this.welcome?.remove();
        this.welcome = null;
        this.showShell();
        this.client.start(name);
      },
      problem,
      this.client.name ?? "",
      async () => {
        const user = await this.client.signInWithPasskey();
        this.welcome?.remove();
        this.welcome = null;
        this.showShell();
        this.client.start(user.name);
      },
    );
    this.root.append(this.welcome);
  }

  private showShell(): void {
    this.root.append(this.shell);
    this.sidebar.renderMe();
    this.routeChanged(this.router.route);
  }

  private listen(): void {
    const client = this.client;
    // Browsers block sound until the person interacts with the page (after a reload into a
    // call, say): start any audio that could not start, at the first click or key.
    const resume = () => {
      for (const audio of this.audio.querySelectorAll("audio")) {
        if (audio.paused && audio.srcObject) audio.play().catch(() => undefined);
      }
    };
    document.addEventListener("pointerdown", resume, true);
    document.addEventListener("keydown", resume, true);
    client.connection.on("status", (status) => this.statusChanged(status));
    client.connection.on("retrying", () => {
      this.slow = true;
      this.renderBanner();
    });
    client.connection.on("refused", (error) => {
      this.askName(
        error.code === "unauthorized"
          ? `${signedOut(error.message)} Enter a name to continue as somebody new.`
          : `The server did not accept this name: ${sentence(error.message)}`,
      );
    });
    client.on("me", () => {
      this.sidebar.renderMe();
      for (const view of this.views.values()) {
        view.render();
        view.redrawMessages();
      }
    });
    client.on("tabs", () => {
      this.sidebar.render();
      this.updateTitle();
    });
    client.on("room", (room) => {
      this.views.get(room)?.render();
      const route = this.router.route;
      const state = client.rooms.get(room);
      const routed = route.view === "room" ? client.rooms.get(route.room) : undefined;
      if (route.view === "room" && (route.room === room || routed?.atTable === room)) {
        if (!state) this.closeView(room);
        this.renderRoute();
      } else if (!state) this.closeView(room);
      else if (state.status === "removed" && this.views.has(room)) {
        // Removed (or the workshop ended) while another view was on screen.
        this.closeView(room);
        this.toasts.show(
          state.removed === "ended"
            ? `${state.title} has ended.`
            : `${state.isWorkshop ? "A host" : "A moderator"} removed you from ${state.title}.`,
        );
      }
    });
    client.tables.on("changed", (room) => {
      this.views.get(room)?.render();
      const table = client.rooms.get(room)?.atTable;
      if (table) this.views.get(table)?.render();
    });
    client.people.on("changed", () => {
      for (const view of this.views.values()) view.render();
      this.sidebar.render();
    });
    client.people.on("asked", (person) =>
      this.toasts.show(`${person.user.name} would like to stay in touch: see People.`),
    );
    client.moderation.on("changed", (room) => this.views.get(room)?.render());
    client.moderation.on("answered", (report) => this.toasts.show(answered(report)));
    client.moderation.on("updated", (change) => {
      this.lobby.updated(change.room);
      this.sidebar.render();
      this.updateTitle();
      const told = changed(change);
      if (told && change.by.id !== client.me?.id) this.toasts.show(told);
    });
    client.blocks.on("changed", () => {
      for (const view of this.views.values()) {
        view.render();
        view.redrawMessages();
        view.chat.renderTyping();
      }
    });
    client.workshop.on("knock", ({ room, name }) => {
      const title = client.rooms.get(room)?.title ?? "the workshop";
      this.toasts.show(`${name} is waiting to join ${title}.`);
    });
    client.workshop.on("onAir", (room) => {
      const title = client.rooms.get(room)?.title ?? "This workshop";
      this.toasts.show(`${title} is being recorded: what is said and shown on stage is saved.`);
    });
    client.workshop.on("recordingStopped", ({ room, reason }) => {
      const title = client.rooms.get(room)?.title ?? "the workshop";
      const why = STOPPED[reason] ?? "it could not go on";
      this.toasts.show(`The recording of ${title} stopped: ${why}. The workshop goes on.`, "error");
    });
    client.on("presence", () => this.lobby.refreshSoon());
    client.profiles.on("headlines", () => {
      for (const view of this.views.values()) view.render();
    });
    client.on("peers", (room) => this.views.get(room)?.renderVideo());
    client.chat.on("messages", ({ room }) => this.views.get(room)?.renderMessages());
    client.chat.on("typing", (room) => this.views.get(room)?.chat.renderTyping());
    client.mentions.on("arrived", (mention) =>
      notifyMention(mention, () => this.router.go(roomPath(mention.room.id))),
    );
    client.chat.on("refused", ({ room, text, message }) =>
      this.views.get(room)?.chat.refused(text, sentence(message)),
    );
    client.media.on("change", () => {
      for (const view of this.views.values()) {
        view.controls?.render();
        view.renderVideo();
      }
    });
    client.media.on("devices", () => {
      for (const view of this.views.values()) view.controls?.renderDevices();
    });
    client.media.on("error", (text) => {
      const route = this.router.route;
      const view = route.view === "room" ? this.views.get(route.room) : undefined;
      if (view?.controls) view.controls.showError(text);
      else this.toasts.show(text, "error");
    });
  }

  private statusChanged(status: ConnectionStatus): void {
    this.slow = false;
    this.renderBanner();
    document.body.classList.toggle("offline", status === "lost");
    if (status === "online") void this.lobby.refresh();
    for (const view of this.views.values()) view.render();
  }

  /**
   * The banner: a lost connection, and a connection still being made once an attempt failed.
   * Never "offline" for one being made (a click meanwhile waits for it: `Connection.request`).
   */
  private renderBanner(): void {
    const status = this.client.connection.status;
    const connecting = status === "connecting" && this.slow;
    this.banner.hidden = status !== "lost" && !connecting;
    this.banner.dataset.status = status;
    this.banner.replaceChildren(
      h("span", { class: "spinner small", attrs: { "aria-hidden": "true" } }),
      connecting
        ? "Connecting to the server…"
        : navigator.onLine === false
          ? "You are offline. Messages you write will be sent when the connection is back."
          : "Connection lost. Reconnecting…",
    );
  }

  private routeChanged(route: Route): void {
    this.sidebar.setRoute(route);
    if (route.view === "room") this.client.open(route.room);
    this.renderRoute();
    this.main.scrollTop = 0;
  }

  /** Put the current route's view on screen. */
  private renderRoute(): void {
    const route = this.router.route;
    this.shown = null;
    if (route.view !== "room") {
      this.setGate(null);
      for (const view of this.views.values()) view.hide();
      if (route.view !== "lobby") this.lobby.hide();
      if (route.view !== "people") this.people.element.remove();
      if (route.view !== "mentions") this.mentions.hide();
      if (route.view === "lobby") {
        this.main.append(this.lobby.element);
        this.lobby.show();
      } else if (route.view === "people") {
        this.main.append(this.people.element);
        this.people.show();
      } else {
        this.main.append(this.mentions.element);
        this.mentions.show();
      }
      this.client.chat.setActive(null);
      this.updateTitle();
      return;
    }
    this.lobby.hide();
    this.people.element.remove();
    this.mentions.hide();
    const routed = this.client.rooms.get(route.room);
    // At a table: the table's view in the room's place (until it is joined, the room's).
    const table = routed?.atTable ? this.client.rooms.get(routed.atTable) : undefined;
    const state = routed?.status === "joined" && table?.status === "joined" ? table : routed;
    for (const [id, view] of this.views) if (id !== state?.id) view.hide();
    if (state && state.status === "joined") {
      this.setGate(null);
      let view = this.views.get(state.id);
      if (!view) {
        view = new RoomView(
          this.client,
          state,
          {
            leave: (room) => void this.leave(room),
            openDm: (user) => void this.openDm(user),
            copyLink: (room) => this.copyLink(room),
            linkOf: (room) => this.linkOf(room),
            openAt: (room, seq) => this.openAt(room, seq),
            notify: (text, kind) => this.toasts.show(text, kind),
          },
          { created: this.justCreated.delete(state.id) },
        );
        this.views.set(state.id, view);
        if (view.audio) this.audio.append(view.audio.element);
        view.renderMessages();
        view.chat.renderTyping();
      }
      this.main.append(view.element);
      view.show();
      this.shown = view;
      if (this.opening?.room === state.id) {
        view.openAt(this.opening.seq);
        this.opening = null;
      }
      this.client.chat.setActive(state.id);
    } else {
      // Out of a workshop for good: its view (videos, sound) goes; otherwise it waits for a rejoin.
      if (state?.status === "removed") this.closeView(route.room);
      else this.views.get(route.room)?.hide();
      this.client.chat.setActive(null);
      if (state) {
        const key = `${state.id}|${state.status}|${state.error?.message ?? ""}|${state.removed ?? ""}`;
        if (this.gate?.key !== key) this.setGate({ key, element: gateView(state, this.gateActions) });
      }
    }
    this.updateTitle();
  }

  private readonly gateActions = {
    submitPasscode: (room: string, passcode: string) => this.client.open(room, passcode),
    lobby: () => this.router.go("/"),
    leave: (room: string) => {
      void this.client.leave(room);
      this.router.go("/");
    },
    knock: (room: string) => this.client.open(room),
  };

  private setGate(gate: { key: string; element: HTMLElement } | null): void {
    this.gate?.element.remove();
    this.gate = gate;
    if (gate) this.main.append(gate.element);
  }

  private created(room: Room, passcode: string | null): void {
    this.justCreated.add(room.id);
    this.client.open(room.id, passcode ?? undefined);
    this.router.go(roomPath(room.id));
  }

  private async leave(room: string): Promise<void> {
    await this.client.leave(room);
    this.closeView(room);
    this.router.go("/");
    this.toasts.show("You left the room.");
  }

  private closeView(room: string): void {
    const view = this.views.get(room);
    if (!view) return;
    view.close();
    this.views.delete(room);
  }

  private async openDm(user: string): Promise<void> {
    try {
      const room = await this.client.openDm(user);
      this.router.go(roomPath(room));
    } catch (error) {
      this.toasts.show(
        error instanceof Error ? sentence(error.message) : "The conversation could not be opened.",
        "error",
      );
    }
  }

  /** Go to a room and show a message there, once the room is joined and on screen. */
  private openAt(room: string, seq: number): void {
    this.opening = { room, seq };
    const route = this.router.route;
    if (route.view === "room" && route.room === room) this.renderRoute();
    else this.router.go(roomPath(room));
  }

  private linkOf(room: string): string {
    return `${location.origin}${roomPath(room)}`;
  }

  private async copyLink(room: string): Promise<boolean> {
    try {
      await navigator.clipboard.writeText(this.linkOf(room));
      return true;
    } catch {
      return false; // no clipboard here (or not allowed): the room shows the link instead
    }
  }

  private setDrawer(open: boolean): void {
    document.body.classList.toggle("drawer-open", open);
    this.menuButton.setAttribute("aria-expanded", String(open));
    this.updateTitle();
  }

  private updateTitle(): void {
    const route = this.router.route;
    const state = route.view === "room" ? this.client.rooms.get(route.room) : undefined;
    const title =
      state?.status === "joined"
        ? state.title
        : route.view === "room"
          ? "Room"
          : route.view === "people"
            ? "People"
            : route.view === "mentions"
              ? "Mentions"
              : "Home";
    const unread = this.client.tabs().reduce((sum, tab) => sum + tab.unread, 0);
    document.title = `${unread > 0 ? `(${unread}) ` : ""}${title} · Percolate`;
    this.menuBadge.hidden = unread === 0;
    this.menuBadge.textContent = unread > 99 ? "99+" : String(unread);
    this.menuButton.setAttribute(
      "aria-label",
      `${document.body.classList.contains("drawer-open") ? "Close" : "Open"} the menu${unread ? ` (${unread} unread)` : ""}`,
    );
  }
}

/** What the reporter is told when a moderator answered their report. */
function answered(report: Report): string {
  switch (report.outcome) {
    case "delete":
      return "A moderator deleted the message you reported.";
    case "ban":
      return `A moderator removed ${report.message.user.name}, whose message you reported.`;
    default:
      return "A moderator looked at the message you reported and left it up.";
  }
}

/** What the others are told when a moderator renamed a room or changed its description. */
function changed({ by, renamed, described, room }: RoomChange): string | null {
  if (renamed && described)
    return `${by.name} renamed the room to “${room.title}” and changed its description.`;
  if (renamed) return `${by.name} renamed the room to “${room.title}”.`;
  if (described) return `${by.name} changed the room's description.`;
  return null;
}

/** How often the countdown on screen is redrawn (ms). */
const TICK_MS = 500;

/** Why this browser is no longer who it was (a refused token: docs/protocol.md, "Refusal"). */
function signedOut(message: string): string {
  return message === "this session expired"
    ? "This browser was not used for a long time, so it was signed out."
    : "This browser was signed out.";
}
