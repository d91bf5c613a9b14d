// The view of one joined room: its header (title, description, pinned messages), chat, people and, in video rooms, the video and
// the media controls; for those who look after it, its reports and settings (slow mode, the
// moderation log); in a workshop also the host's switches and queues; in a coffee room or
// workshop its tables (the countdown, the invitation to speed networking, the hosts' breakout
// panel). A table has a view of its own, shown in its room's place. One view per joined room,
// kept while it is open elsewhere, so videos keep playing and the chat keeps its scroll
// position.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import { BreakoutPanel } from "./breakout";
import { Care } from "./care";
import { ChatPanel } from "./chat";
import { MediaControls } from "./controls";
import { Conversation } from "./conversation";
import { h } from "./elements";
import { icon, kindIcon, kindLabels } from "./icons";
import { MemberList } from "./members";
import { Moderator, type Notify } from "./moderation";
import { PinsPanel } from "./pins";
import { HostQueues } from "./queues";
import { RecordingControls } from "./recording";
import { standing } from "./roles";
import { startRounds } from "./rounds";
import { Search } from "./search";
import { Stage } from "./stage";
import { HostSwitches } from "./switches";
import { names, TablesBar } from "./tables";
import { ThreadPanel } from "./thread";
import { AudioSinks, VideoGrid } from "./video";

export interface RoomActions {
  leave(room: string): void;
  openDm(user: string): void;
  /** Put the room's link on the clipboard; false when the browser would not. */
  copyLink(room: string): Promise<boolean>;
  /** The room's shareable address. */
  linkOf(room: string): string;
  /** Go to a room and show one of its messages (a search result). */
  openAt(room: string, seq: number): void;
  notify: Notify;
}

export class RoomView {
  readonly element: HTMLElement;
  readonly chat: ChatPanel;
  /** The thread open beside the room's chat, if any. */
  readonly thread: ThreadPanel;
  readonly controls: MediaControls | null = null;
  private readonly title: HTMLElement;
  /** What the room is for: one line under the title; a click shows all of it. */
  private readonly description: HTMLButtonElement;
  private readonly meta: HTMLElement;
  private readonly kindBadge: HTMLElement;
  private readonly members: MemberList;
  private readonly search: Search;
  private readonly video: VideoGrid | Stage | null = null;
  readonly audio: AudioSinks | null = null;
  private readonly peopleToggle: HTMLButtonElement;
  private readonly copyLink: () => Promise<boolean>;
  /** The panel with the room's link (shown to a new room's creator, or when copying failed). */
  private readonly share: { panel: HTMLElement; title: HTMLElement; url: HTMLInputElement } | null;
  private readonly side: HTMLElement;
  private readonly summaryCount = h("span", { class: "count" });
  private readonly summaryQueue = h("span", { class: "summary-queue" });
  /** A workshop's host tools (null elsewhere). */
  private readonly switches: HostSwitches | null = null;
  private readonly queues: HostQueues | null = null;
  private readonly end: HTMLButtonElement | null = null;
  /** A workshop's recording mark, and its hosts' start/stop button. */
  private readonly recording: RecordingControls | null = null;
  /** The room whose tables show here: this room, or the room a table belongs to. */
  private readonly home: RoomState | null;
  private readonly bar: TablesBar | null = null;
  private readonly breakout: BreakoutPanel | null = null;
  private readonly roundsButton: HTMLButtonElement | null = null;
  /** Reports and the room's settings, for those who look after it. */
  private readonly care: Care;
  private readonly pins: PinsPanel;
  private readonly tablesButton: HTMLButtonElement | null = null;
  /** At a table: back to the room (a host's visit). */
  private readonly back: HTMLButtonElement | null = null;
  /** In a workshop: audience, hand raised, on stage, co-host or host. */
  private readonly standing = h("span", {
    class: "stage-status",
    testid: "workshop-status",
    attrs: { hidden: true },
  });

  constructor(
    private readonly client: Client,
    readonly state: RoomState,
    actions: RoomActions,
    options: { created?: boolean } = {},
  ) {
    const kind = state.kind ?? "open";
    // What this user may do to others: block anybody; host a workshop; look after a room.
    const people = new Moderator(client, state, actions.notify);
    const moderator = kind === "workshop" ? people : null;
    this.care = new Care(client, state, people, actions.notify);
    const table = kind === "table";
    this.home =
      kind === "coffee" || kind === "workshop"
        ? state
        : table && state.parentId !== null
          ? (client.rooms.get(state.parentId) ?? null)
          : null;
    const home = this.home;
    if (home) this.bar = new TablesBar(client, home, actions.notify);
    if (!table && home) {
      this.roundsButton = h(
        "button",
        {
          class: "button quiet header-action",
          testid: "rounds-start-open",
          attrs: {
            type: "button",
            "aria-label": "Speed networking: meet the people here in timed rounds",
            title: "Meet the people here a few at a time, in timed rounds",
          },
          on: { click: () => void startRounds(client, state) },
        },
        icon("rounds"),
        h("span", { class: "caption" }, "Speed networking"),
      );
    }
    if (kind === "workshop") {
      // The header holds the Tables button; speed networking is one of the panel's choices.
      const panel = new BreakoutPanel(client, state, actions.notify, this.roundsButton);
      this.breakout = panel;
      this.tablesButton = h(
        "button",
        {
          class: "button quiet header-action",
          testid: "tables-open-panel",
          attrs: {
            type: "button",
            "aria-expanded": "false",
            "aria-label": "Tables: breakout tables",
            title: "Split the room into breakout tables",
          },
          on: {
            click: () => {
              panel.toggle();
              this.tablesButton?.setAttribute("aria-expanded", String(!panel.element.hidden));
            },
          },
        },
        icon("workshop"),
        h("span", { class: "caption" }, "Tables"),
      );
    }
    if (table && home) {
      this.back = h(
        "button",
        {
          class: "button quiet header-action",
          testid: "table-back",
          attrs: { type: "button", hidden: true },
          on: { click: () => client.visit(home.id, null) },
        },
        icon("leave"),
        h("span", { class: "caption" }, `Back to ${home.title}`),
      );
    }
    if (moderator) {
      this.switches = new HostSwitches(state, moderator);
      this.queues = new HostQueues(state, moderator);
      this.recording = new RecordingControls(state, moderator);
      this.end = h(
        "button",
        {
          class: "button danger-quiet end-workshop",
          testid: "end-workshop",
          attrs: { type: "button", title: "End the workshop for everyone", hidden: true },
          on: { click: () => void moderator.end() },
        },
        icon("close"),
        h("span", { class: "caption" }, "End workshop"),
        h("span", { class: "caption-short" }, "End"),
      );
    }
    const conversation = new Conversation(client, state, actions.notify);
    this.chat = new ChatPanel(client, state, conversation);
    this.pins = new PinsPanel(client, state, (seq) => this.openAt(seq));
    this.thread = new ThreadPanel(client, state, conversation, (open) =>
      this.element.querySelector(".room-body")?.classList.toggle("thread-open", open),
    );
    conversation.openThread = (seq) => this.thread.show(seq);
    conversation.edited = () => this.renderMessages();
    conversation.revealed = () => this.redrawMessages();
    this.members = new MemberList(
      state,
      (user) => actions.openDm(user),
      people,
      this.queues?.element,
      client.profiles,
    );
    this.search = new Search(client, state, (room, seq) => actions.openAt(room, seq));
    this.title = h("h1", { class: "room-title", testid: "room-title" });
    this.description = h("button", {
      class: "room-description",
      testid: "room-description",
      attrs: { type: "button", hidden: true, "aria-expanded": "false" },
      on: { click: () => this.expandDescription() },
    });
    this.meta = h("p", { class: "room-meta" });
    this.kindBadge = h("span", { class: "kind-icon" }, kindIcon(kind));

    const leave = h(
      "button",
      {
        class: "button danger-quiet leave",
        testid: "leave-room",
        attrs: { type: "button", title: "Leave this room" },
        // At a table, Leave leaves the room it belongs to (and so the table).
        on: { click: () => actions.leave(table && home ? home.id : state.id) },
      },
      icon("leave"),
      h("span", { class: "caption" }, "Leave"),
    );
    const sideId = `side-${state.id}`;
    this.peopleToggle = h(
      "button",
      {
        class: "icon-button people-toggle",
        attrs: {
          type: "button",
          "aria-label": "Show people",
          "aria-expanded": "false",
          "aria-controls": sideId,
        },
        on: { click: () => this.toggleSide() },
      },
      icon("people"),
    );
    const copy =
      kind === "dm"
        ? null
        : h(
            "button",
            {
              class: "button quiet invite",
              testid: "invite-button",
              attrs: {
                type: "button",
                "aria-label": "Invite: copy the room's link",
                title: "Copy the room's link to invite people",
              },
              on: { click: (event) => void this.invite(event.currentTarget as HTMLButtonElement) },
            },
            icon("link"),
            h("span", { class: "caption" }, "Invite"),
          );
    this.copyLink = () => actions.copyLink(state.id);
    this.share = kind === "dm" ? null : this.invitePanel(actions.linkOf(state.id));
    const video = state.isVideo;
    const header = h(
      "header",
      { class: "room-header" },
      this.kindBadge,
      h(
        "div",
        { class: "title-block" },
        h("div", { class: "title-line" }, this.title, this.standing, this.recording?.mark),
        this.description,
        this.meta,
      ),
      h(
        "div",
        { class: "room-actions" },
        this.search.field,
        this.back,
        kind === "workshop" ? null : this.roundsButton,
        this.tablesButton,
        this.pins.button,
        this.care.reportsButton,
        table ? null : copy,
        this.care.menu.button,
        this.care.menu.element,
        this.end,
        this.peopleToggle,
        video ? null : leave,
      ),
    );

    // Beside the chat in a text room; over it in a video room, whose chat is a side column.
    const chatColumn = h(
      "div",
      { class: "chat-column" },
      this.chat.element,
      this.search.panel,
      state.isVideo ? this.thread.element : null,
    );
    let body: HTMLElement;
    if (video) {
      this.video = kind === "workshop" ? new Stage(client, state) : new VideoGrid(client, state);
      this.audio = new AudioSinks(state);
      this.controls = new MediaControls(client, leave, state, moderator, this.recording?.button);
      const details = h(
        "details",
        // On a phone the chat gets the room; the people fold away.
        { class: "people-details", attrs: { open: !matchMedia("(max-width: 760px)").matches } },
        h("summary", {}, "People ", this.summaryCount, this.summaryQueue),
        this.members.element,
      );
      this.side = h(
        "aside",
        { class: "side", attrs: { id: sideId } },
        this.switches?.element,
        details,
        chatColumn,
      );
      body = h(
        "div",
        { class: `room-body video-room kind-${kind}` },
        h("div", { class: "media-column" }, this.video.element, this.controls.element),
        this.side,
      );
    } else {
      this.side = h("aside", { class: "side people-side", attrs: { id: sideId } }, this.members.element);
      body = h(
        "div",
        { class: `room-body text-room kind-${kind}` },
        chatColumn,
        this.thread.element,
        this.side,
      );
    }
    this.element = h(
      "section",
      { class: video ? "room-view video" : "room-view text", testid: "room-view" },
      header,
      this.care.panel,
      this.pins.panel,
      this.bar?.element,
      this.breakout?.element,
      body,
    );
    // The creator of a new room is shown its link and asked to share it, once.
    if (options.created) this.showInvite("Your room is ready. Share this link to invite people:");
    this.element.dataset.roomId = state.id;
    this.element.dataset.kind = kind;
    this.render();
  }

  /** Header, people, video: everything but the messages. */
  render(): void {
    const state = this.state;
    const me = this.client.me?.id;
    this.title.textContent = state.title;
    this.renderDescription();
    this.chat.setPlaceholder(`Message ${state.title}`);
    const kind = state.kind ?? "open";
    if (kind === "table") {
      this.renderTable();
      return;
    }
    const parts: string[] = [kindLabels[kind] ?? kind];
    if (kind !== "dm") {
      if (state.room?.private) parts.push("Private");
      if (state.room?.has_passcode) parts.push("Passcode");
    }
    if (state.workshop?.locked) parts.push("Locked");
    const count = state.members.size;
    parts.push(count === 1 ? "1 person here" : `${count} people here`);
    this.summaryCount.textContent = `· ${count}`;
    this.renderHosting();
    if (!state.live) parts.push("reconnecting…");
    this.meta.replaceChildren(state.room?.has_passcode ? icon("lock", "icon inline") : "", parts.join(" · "));
    this.members.render(me);
    this.care.render();
    this.chat.renderSlow();
    this.thread.renderRoom();
    this.renderTables();
    this.renderVideo();
  }

  /** The description's one line (all of it in its tooltip), or nothing when there is none. */
  private renderDescription(): void {
    const text = this.state.description;
    this.description.hidden = text === "";
    if (this.description.textContent === text) return;
    this.description.textContent = text;
    this.description.title = text;
    this.expandDescription(false);
  }

  /** Show the whole description, its new lines kept, or fold it back to one line. */
  private expandDescription(open = this.description.getAttribute("aria-expanded") !== "true"): void {
    this.description.setAttribute("aria-expanded", String(open));
  }

  /** A table: "Table 2", who sits there, and the room it belongs to. */
  private renderTable(): void {
    const state = this.state;
    const me = this.client.me?.id;
    const home = this.home;
    const table = home ? this.client.tables.table(home, state.id) : null;
    const name = table?.name ?? state.room?.title ?? "Table";
    this.title.textContent = name;
    this.chat.setPlaceholder(`Message ${name}`);
    const others = [...state.members.values()].filter((m) => m.id !== me);
    const parts = [others.length ? `With ${names(others)}` : "Waiting for the others"];
    if (home) parts.push(`in ${home.title}`);
    if (!state.live) parts.push("reconnecting…");
    this.meta.textContent = parts.join(" · ");
    this.summaryCount.textContent = `· ${state.members.size}`;
    if (this.back) this.back.hidden = !home?.visiting;
    this.members.render(me);
    this.bar?.render();
    this.renderVideo();
  }

  /** The countdown, the invitation, the hosts' buttons and panel. */
  private renderTables(): void {
    const home = this.home;
    if (!home) return;
    const view = home.tables;
    const busy = view?.sitting != null || (view?.series != null && view.series.phase !== "done");
    if (this.roundsButton) {
      this.roundsButton.hidden = (home.isWorkshop && !home.hosting) || busy;
    }
    if (this.tablesButton) this.tablesButton.hidden = !home.hosting;
    if (this.breakout && !home.hosting && !this.breakout.element.hidden) this.breakout.toggle();
    this.breakout?.render();
    this.bar?.render();
  }

  /** Every half second: the countdown, and how long slow mode still holds a message back. */
  tick(): void {
    this.bar?.tick();
    this.chat.tick();
  }

  /** A workshop's switches, queues and chat rules, as this user's role allows. */
  private renderHosting(): void {
    const state = this.state;
    if (!state.isWorkshop) return;
    this.switches?.render();
    this.queues?.render();
    this.chat.renderWorkshop();
    this.thread.renderWorkshop();
    this.controls?.render();
    if (this.end) this.end.hidden = state.you?.role !== "host";
    this.recording?.render();
    const badge = standing(state, this.client.me?.id);
    this.standing.hidden = badge === null;
    if (badge && this.standing.dataset.state !== badge.state) {
      this.standing.dataset.state = badge.state;
      this.standing.textContent = badge.text;
    }
    // On a phone the people fold away: the summary says what waits for a host.
    const waiting = state.hosting ? (state.hosts?.knocking.length ?? 0) : 0;
    const hands = state.hosting ? (state.workshop?.hands.length ?? 0) : 0;
    const queue = [
      waiting ? `${waiting} waiting` : "",
      hands ? `${hands} ${hands === 1 ? "hand" : "hands"} up` : "",
    ]
      .filter(Boolean)
      .join(" · ");
    this.summaryQueue.textContent = queue ? ` · ${queue}` : "";
  }

  renderVideo(): void {
    this.video?.render(this.client.me?.id);
    this.audio?.render();
  }

  /** Show one of the room's messages among those around it, highlighted (a search result). */
  openAt(seq: number): void {
    void this.search.openAt(seq);
  }

  renderMessages(): void {
    this.chat.renderMessages();
    this.thread.update();
    this.pins.update();
  }

  /** Draw every message anew (who this user is changed). */
  redrawMessages(): void {
    this.chat.redraw();
    this.thread.update();
  }

  /** Put on the page (by the app) again: restore what leaving the page lost. */
  show(): void {
    this.chat.shown();
    this.render();
    // Media elements pause when they leave the page.
    for (const video of this.element.querySelectorAll("video")) video.play().catch(() => undefined);
  }

  /** Taken off the page, not hidden: the page holds one room view at a time. */
  hide(): void {
    if (!this.element.isConnected) return;
    this.chat.hidden();
    this.element.remove();
  }

  close(): void {
    this.thread.dispose();
    this.audio?.close();
    this.audio?.element.remove();
    this.element.remove();
  }

  /** The header's Invite: copy the link, or show it to be copied by hand. */
  private async invite(button: HTMLButtonElement): Promise<void> {
    if (await this.copyLink()) flash(button, "Link copied");
    else this.showInvite("Copy this link to invite people:");
  }

  private showInvite(title: string): void {
    if (!this.share) return;
    this.share.title.textContent = title;
    this.element.querySelector(".room-header")?.after(this.share.panel);
  }

  private invitePanel(url: string): NonNullable<RoomView["share"]> {
    const state = this.state;
    const inputId = `invite-url-${state.id}`;
    const title = h("label", { class: "invite-title", attrs: { for: inputId } });
    const input = h("input", {
      class: "invite-url",
      testid: "invite-url",
      attrs: { id: inputId, value: url, readonly: true, spellcheck: "false" },
      on: { focus: () => input.select() },
    });
    const copy: HTMLButtonElement = h(
      "button",
      {
        class: "button primary small",
        testid: "invite-copy",
        attrs: { type: "button" },
        on: {
          click: () =>
            void this.copyLink().then((copied) => {
              if (copied) flash(copy, "Link copied");
              else input.select();
            }),
        },
      },
      h("span", { class: "caption" }, "Copy link"),
    );
    const panel: HTMLElement = h(
      "section",
      { class: "invite-panel", testid: "invite-panel", attrs: { "aria-label": "Invite people" } },
      icon("link", "icon invite-icon"),
      h(
        "div",
        { class: "invite-body" },
        title,
        h("div", { class: "invite-row" }, input, copy),
        state.room?.has_passcode
          ? h("p", { class: "invite-note" }, "They will also need the passcode you chose.")
          : null,
      ),
      h(
        "button",
        {
          class: "icon-button invite-close",
          testid: "invite-dismiss",
          attrs: { type: "button", "aria-label": "Close", title: "Close" },
          on: { click: () => panel.remove() },
        },
        icon("close"),
      ),
    );
    return { panel, title, url: input };
  }

  private toggleSide(): void {
    const open = this.side.classList.toggle("open");
    this.peopleToggle.setAttribute("aria-expanded", String(open));
    this.peopleToggle.setAttribute("aria-label", open ? "Hide people" : "Show people");
  }
}

/** Say on the button itself that it worked ("Link copied"), for a moment: covers nothing. */
function flash(button: HTMLButtonElement, text: string): void {
  const caption = button.querySelector(".caption");
  if (!caption) return;
  const before = button.dataset.caption ?? caption.textContent ?? "";
  button.dataset.caption = before;
  button.dataset.done = "true";
  caption.textContent = text;
  clearTimeout(Number(button.dataset.timer));
  button.dataset.timer = String(
    setTimeout(() => {
      caption.textContent = before;
      delete button.dataset.done;
      delete button.dataset.caption;
    }, COPIED_MS),
  );
}

const COPIED_MS = 2_500;
