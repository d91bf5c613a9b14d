// The client: one connection, the rooms this page knows, chat, media, the peer connections
// of video rooms, workshop hosting, and tables (going to one's table and back). Everything
// the UI shows is read from here; everything the person does is a call here. No DOM.

import { Blocks } from "./blocks";
import { Calls } from "./calls";
import { Chat } from "./chat";
import { Connection, RequestError } from "./connection";
import { Emitter } from "./emitter";
import { LocalMedia, type MediaFlags } from "./media";
import { Mentions } from "./mentions";
import { Moderation } from "./moderation";
import { Passkeys, signInWithPasskey } from "./passkeys";
import { People } from "./people";
import { Profiles } from "./profiles";
import { HOSTS, RoomState } from "./room";
import { Sessions } from "./sessions";
import { storage } from "./storage";
import { YourData } from "./yourdata";
import { Tables } from "./tables";
import type {
  ErrorInfo,
  MediaPlace,
  Member,
  Message,
  ModerationEvent,
  PresenceEvent,
  RemovedEvent,
  Room,
  RoomInfo,
  RoomKind,
  SessionEvent,
  User,
} from "./types";
import { Workshop } from "./workshop";

interface ClientEvents {
  /** Who this user is (after each connection). */
  me: User;
  /** The set of tabs, their titles or their order changed. */
  tabs: void;
  /** A room's status, members or flags changed. */
  room: string;
  /** Somebody joined or left some room: public member counts may have changed. */
  presence: string;
  /** A room's remote media changed (mesh peers, SFU session: tracks, state); the payload is `room`. */
  peers: string;
}

export interface NewRoom {
  title: string;
  kind: Exclude<RoomKind, "dm">;
  private: boolean;
  passcode: string | null;
}

const RETRY_JOIN_MS = 3_000;
const NOTHING_ON: MediaFlags = { camera: false, mic: false, screen: false };

export class Client extends Emitter<ClientEvents> {
  readonly connection = new Connection();
  readonly media = new LocalMedia();
  readonly sessions = new Sessions(this.connection);
  readonly passkeys = new Passkeys();
  readonly yourData = new YourData(this.connection);
  readonly rooms = new Map<string, RoomState>();
  readonly chat: Chat;
  readonly mentions: Mentions;
  readonly moderation: Moderation;
  readonly blocks: Blocks;
  readonly workshop: Workshop;
  readonly tables: Tables;
  readonly calls: Calls;
  readonly profiles: Profiles;
  readonly people: People;
  me: User | null = null;
  /** Rooms left on this page (not DMs): late events for them are dropped. */
  private readonly left = new Set<string>();
  /** Rooms with a `room:join` on its way. */
  private readonly joining = new Set<string>();
  /** The room whose join ack is being applied: going back to it from a table needs no new join. */
  private applyingJoin: string | null = null;
  /**
   * Camera and microphone as they were at the last table, while a sitting or series goes on:
   * they follow the person to their next table (never into the room itself).
   */
  private tableMedia: { camera: boolean; mic: boolean } | null = null;

  constructor() {
    super();
    this.chat = new Chat(this.connection, this.rooms, () => this.me?.id ?? null);
    this.mentions = new Mentions(this.connection);
    this.moderation = new Moderation(this.connection, this.rooms, () => this.me?.id ?? null);
    this.blocks = new Blocks(this.connection);
    this.profiles = new Profiles(this.connection);
    this.blocks.on("changed", () => this.emit("tabs", undefined));
    this.calls = new Calls(
      this.connection,
      this.media,
      () => this.me,
      (room) => this.emit("peers", room),
    );
    const connection = this.connection;
    connection.on("session", (session) => this.connected(session));
    connection.on("status", (status) => {
      if (status !== "online") this.disconnected();
    });
    connection.on("presence", (event) => this.presence(event));
    connection.on("message", (message) => this.chat.receive(message));
    connection.on("change", (message) => this.chat.changed(message));
    connection.on("typing", (event) => this.chat.typingReceived(event));
    connection.on("signal", (event) => {
      const state = this.rooms.get(event.room);
      // At a table, this page has no media in the room itself.
      if (state?.wanted && state.atTable === null) this.calls.signal(state, event);
    });
    connection.on("removed", (event) => this.removed(event));
    connection.on("admitted", ({ room }) => this.admitted(room));
    connection.on("media", (event) => {
      const state = this.rooms.get(event.room);
      // Back from a table, the room is joined again: its ack says where the media is then.
      if (state?.wanted && state.atTable === null) this.calls.moved(state, event.media);
    });
    connection.on("declined", ({ room }) => this.declined(room));
    this.chat.on("stranger", (message) => this.stranger(message));
    this.chat.on("unread", () => this.emit("tabs", undefined));
    this.media.on("change", () => this.publishMedia());
    this.workshop = new Workshop(connection, this.rooms, (state, event) => this.obey(state, event));
    this.workshop.on("changed", (room) => this.emit("room", room));
    this.tables = new Tables(connection, this.rooms, (state) => this.reseat(state));
    this.people = new People(connection);
  }

  get name(): string | null {
    return storage.name;
  }

  /**
   * Sign in with a passkey attached elsewhere: its token is stored, so `start` connects as
   * that person (the same user id, rooms, DMs and contacts). Throws a RequestError with a plain
   * message if it did not work.
   */
  async signInWithPasskey(): Promise<User> {
    return (await signInWithPasskey()).user;
  }

  /** Connect as `name` (and remember it); with a new name, the server renames this user. */
  start(name: string): void {
    storage.name = name;
    if (this.connection.status === "idle") {
      // A reload: open again the rooms this tab had open.
      for (const id of storage.openRooms) if (!this.rooms.has(id)) this.open(id);
    }
    this.connection.start(name);
  }

  /**
   * The page is going away (`pagehide`): leave every room at once, on the page's connection
   * and on any media connection, rather than staying listed for the reconnect grace.
   */
  pageHidden(): void {
    for (const state of this.rooms.values()) state.call?.goodbye();
    this.connection.goodbye();
  }

  /**
   * The page is back from the back/forward cache: connect again; the rooms it had open are
   * joined again as after a lost connection (as a newcomer: it left them).
   */
  pageShown(): void {
    this.connection.resume();
  }

  /** The rooms and DMs shown as tabs, in the order they were opened; not DMs with people blocked. */
  tabs(): RoomState[] {
    return [...this.rooms.values()].filter(
      (state) => state.isTab && !(state.kind === "dm" && state.dmUser && this.blocks.has(state.dmUser.id)),
    );
  }

  async listRooms(): Promise<RoomInfo[]> {
    const { rooms } = await this.connection.request("room:list", {});
    return rooms;
  }

  /** Create a room; a workshop's host key is kept so that this browser joins as its host. */
  async createRoom(request: NewRoom): Promise<Room> {
    const answer = await this.connection.request("room:create", request);
    if (answer.host_key) storage.setHostKey(answer.room.id, answer.host_key);
    return answer.room;
  }

  /** Open a room: join it unless it is joined or being joined. */
  open(id: string, passcode?: string): RoomState {
    let state = this.rooms.get(id);
    if (!state) {
      state = new RoomState(id);
      this.rooms.set(id, state);
    }
    this.left.delete(id);
    state.wanted = true;
    // A room this tab has open was joined with its passcode: a reload joins with it again.
    if (passcode !== undefined) state.passcode = passcode;
    else state.passcode ??= storage.passcode(id);
    if (state.status !== "joining" && !(state.status === "joined" && state.live)) {
      void this.join(state);
    }
    return state;
  }

  async leave(id: string): Promise<void> {
    const state = this.rooms.get(id);
    if (!state) return;
    if (state.atTable !== null) {
      this.leaveTable(state.atTable);
      state.atTable = null;
      state.visiting = false;
    }
    state.wanted = false;
    storage.roomClosed(id);
    const wasLive = state.live;
    state.live = false;
    state.earlyPresence = [];
    this.calls.stop(state);
    this.chat.discard(id);
    if (state.kind === "dm") {
      state.status = "idle";
      state.everJoined = false;
    } else {
      this.rooms.delete(id);
      this.left.add(id);
    }
    this.emit("tabs", undefined);
    this.releaseMedia();
    if (wasLive) {
      try {
        await this.connection.request("room:leave", { room: id });
      } catch (error) {
        console.warn(`Client: room:leave ${id} failed`, error);
      }
    }
  }

  /** Open the direct messages with another user; the DM room's id. */
  async openDm(user: string): Promise<string> {
    const answer = await this.connection.request("dm:open", { user });
    const state = this.rooms.get(answer.room.id) ?? new RoomState(answer.room.id);
    this.rooms.set(state.id, state);
    state.room = answer.room;
    state.dmUser = answer.user;
    this.open(state.id);
    this.emit("tabs", undefined);
    return state.id;
  }

  async setCamera(on: boolean): Promise<void> {
    await this.media.setCamera(on);
  }

  async setMic(on: boolean): Promise<void> {
    await this.media.setMic(on);
  }

  async setScreen(on: boolean): Promise<void> {
    await this.media.setScreen(on);
  }

  // The connection

  private connected(session: SessionEvent): void {
    const changedUser = this.me !== null && this.me.id !== session.user.id;
    this.me = session.user;
    this.emit("me", session.user);
    void this.refreshDms();
    // Who asked to stay in touch while this page was away (the People badge).
    this.people.load().catch(() => undefined);
    for (const state of this.rooms.values()) {
      if (changedUser) this.calls.stop(state);
      // A table is joined again once its room's join says this user still sits there.
      if (state.parentId !== null) continue;
      const knocking = state.status === "waiting";
      if (state.wanted && (state.everJoined || state.status === "joining" || knocking)) void this.join(state);
    }
  }

  private disconnected(): void {
    for (const state of this.rooms.values()) {
      state.live = false;
      this.calls.pause(state);
    }
    this.chat.connectionLost();
  }

  private async join(state: RoomState): Promise<void> {
    if (!state.everJoined) {
      state.status = "joining";
      state.error = null;
      this.emit("room", state.id);
    }
    if (!this.connection.connected) return; // joined once the session arrives
    if (this.joining.has(state.id)) return;
    this.joining.add(state.id);
    // Presence is kept from now until the ack (docs/protocol.md, room:join): what an earlier
    // join that failed kept is older than this one's member list.
    state.earlyPresence = [];
    const rejoin = state.everJoined;
    let answer;
    try {
      answer = await this.connection.request("room:join", {
        room: state.id,
        passcode: state.passcode,
        host_key: storage.hostKey(state.id),
      });
    } catch (error) {
      this.joinFailed(state, error);
      return;
    } finally {
      this.joining.delete(state.id);
    }
    if (!state.wanted) {
      // Left while the join was on its way.
      this.connection.request("room:leave", { room: state.id }).catch(() => undefined);
      return;
    }
    if (answer.waiting) {
      state.earlyPresence = [];
      this.waiting(state, answer.room);
      return;
    }
    state.room = answer.room;
    state.you = answer.you;
    state.members.clear();
    for (const member of answer.members) state.members.set(member.id, member);
    state.status = "joined";
    state.error = null;
    state.everJoined = true;
    state.live = true;
    // A table is not reopened by a reload: its room's join finds the seat.
    if (answer.room.kind !== "dm" && answer.room.kind !== "table")
      storage.roomOpened(state.id, state.passcode);
    if (answer.room.kind === "table") state.parentId ??= answer.room.parent ?? null;
    state.iceServers = answer.ice_servers;
    state.workshop = answer.workshop ?? null;
    state.hosts = answer.hosts ?? null;
    const early = state.earlyWorkshop;
    state.earlyWorkshop = null;
    if (early && state.workshop) state.workshop = early.state;
    if (answer.room.kind === "workshop") this.workshop.joined(state, answer.recording ?? null, rejoin);
    if (answer.room.kind === "dm" && !state.dmUser) {
      // Who the other one is, until dm:list says: present now, or the author of a message.
      const me = this.me?.id;
      const other =
        answer.members.find((m) => m.id !== me) ?? answer.history.find((m) => m.user.id !== me)?.user;
      if (other) state.dmUser = { id: other.id, name: other.name };
    }
    // Presence that overtook the ack may be newer than its member list: applied on top of it,
    // in the order it came (docs/protocol.md, room:join).
    for (const event of state.earlyPresence.splice(0)) this.applyPresence(state, event);
    this.emit("tabs", undefined);
    this.emit("room", state.id);
    this.chat.joined(state, answer.history, answer.rev ?? 0);
    this.moderation.joined(state, answer.slow_seconds ?? 0);
    this.applyingJoin = state.id;
    try {
      this.tables.joinedRoom(state, answer.tables);
    } finally {
      this.applyingJoin = null;
    }
    // At a table, the camera goes there, not to the room.
    if (state.isVideo && state.atTable === null) this.startVideo(state, rejoin, answer.media ?? null);
  }

  private joinFailed(state: RoomState, error: unknown): void {
    state.earlyPresence = [];
    const info: ErrorInfo =
      error instanceof RequestError
        ? { code: error.code, message: error.message }
        : { code: "internal", message: String(error) };
    if (!state.wanted) return;
    if (info.code === "forbidden" && info.message === "wrong host key" && storage.hostKey(state.id)) {
      // The key was handed on from another page (or the room is someone else's now): join
      // without it, as whatever role the room gives.
      storage.setHostKey(state.id, null);
      void this.join(state);
      return;
    }
    if (["offline", "timeout", "unavailable", "internal"].includes(info.code)) {
      // Not the room's answer: try again (a lost connection rejoins on its own).
      if (info.code !== "offline") setTimeout(() => state.wanted && void this.join(state), RETRY_JOIN_MS);
      return;
    }
    const parent = state.parentId !== null ? this.rooms.get(state.parentId) : undefined;
    if (parent) {
      // Not (or no longer) this user's table: back to the room rather than nowhere.
      state.live = false;
      this.leaveTable(state.id);
      if (parent.atTable === state.id) this.goTo(parent, null, false);
      return;
    }
    state.live = false;
    state.everJoined = false;
    this.calls.stop(state);
    storage.roomClosed(state.id);
    if (info.code === "forbidden" && info.message.includes("passcode")) {
      state.status = "passcode";
      // The first prompt is no error; a wrong passcode is.
      state.error = state.passcode === null ? null : info;
    } else {
      state.status = "error";
      state.error = info;
    }
    this.emit("tabs", undefined);
    this.emit("room", state.id);
  }

  // Presence

  private presence(event: PresenceEvent): void {
    const state = this.rooms.get(event.room);
    if (!state) return;
    if (!state.live) {
      if (state.wanted) state.earlyPresence.push(event);
      return;
    }
    const wasModerating = state.moderating;
    this.applyPresence(state, event);
    if (state.moderating !== wasModerating) this.moderation.roleChanged(state);
    this.emit("room", state.id);
    this.emit("presence", state.id);
  }

  private applyPresence(state: RoomState, event: PresenceEvent): void {
    const member = event.member;
    const me = this.me?.id;
    if (event.event === "leave") {
      state.members.delete(member.id);
      state.typing.delete(member.id);
      this.calls.left(state, member.id);
      return;
    }
    const before = state.members.get(member.id);
    state.members.set(member.id, member);
    if (member.id === me) state.you = member;
    if (before && before.role !== member.role) this.roleChanged(state, member);
    if (event.event === "join" && member.id !== me) this.calls.joined(state, member, before);
  }

  /**
   * A workshop role changed (brought on stage, sent back, made co-host or host). Connections
   * follow the stage: the others connect to a member who came on stage, as to a newcomer, and
   * connections between two guests close.
   */
  private roleChanged(state: RoomState, member: Member): void {
    this.calls.roleChanged(state, member);
    if (member.id === this.me?.id) {
      if (!state.you || !HOSTS.has(state.you.role)) state.hosts = null;
      if (!state.canPublish) {
        this.releaseMedia();
        // "You can turn on your camera now" is no longer true.
        if (state.moderation?.action === "stage_invited") state.moderation = null;
      }
    }
  }

  // Workshops: the waiting room, removal, a host's orders

  private waiting(state: RoomState, room: Room): void {
    state.room = room;
    state.status = "waiting";
    state.error = null;
    state.live = false;
    state.everJoined = false;
    this.calls.stop(state);
    this.emit("tabs", undefined);
    this.emit("room", state.id);
  }

  private admitted(room: string): void {
    const state = this.rooms.get(room);
    if (state?.wanted && state.status === "waiting") void this.join(state);
  }

  private declined(room: string): void {
    const state = this.rooms.get(room);
    if (!state?.wanted || state.status !== "waiting") return;
    state.status = "declined";
    this.emit("room", room);
  }

  /** A host removed this user, or the workshop ended: out for good, no rejoining by itself. */
  private removed(event: RemovedEvent): void {
    const state = this.rooms.get(event.room);
    if (!state) return;
    if (state.parentId !== null || state.kind === "table") {
      // The seat moved or the tables closed: the `tables` view that follows says where to go.
      state.live = false;
      this.leaveTable(state.id);
      return;
    }
    if (state.atTable !== null) {
      this.leaveTable(state.atTable);
      state.atTable = null;
      state.visiting = false;
    }
    state.status = "removed";
    state.removed = event.reason === "ended" ? "ended" : "removed";
    state.error = null;
    state.wanted = false;
    state.live = false;
    state.everJoined = false;
    state.hosts = null;
    state.moderation = null;
    this.calls.stop(state);
    this.left.add(state.id);
    this.chat.discard(state.id);
    storage.roomClosed(state.id);
    this.releaseMedia();
    this.emit("tabs", undefined);
    this.emit("room", state.id);
  }

  /** Carry out what a host did: turn off what they muted; leave the stage they sent us off. */
  private obey(state: RoomState, event: ModerationEvent): void {
    if (event.action === "muted") {
      if (event.camera) void this.media.setCamera(false);
      if (event.mic) void this.media.setMic(false);
      if (event.screen) void this.media.setScreen(false);
    } else if (event.action === "stage_removed") {
      this.calls.updateTracks(state);
      this.releaseMedia();
    }
  }

  /** Stop camera, microphone and screen unless a room this page is in may still use them. */
  private releaseMedia(): void {
    if (![...this.rooms.values()].some((s) => s.live && s.isVideo && s.canPublish)) {
      void this.media.stopAll();
    }
  }

  /** Own media as a room sees it: nothing for a workshop's audience. */
  flagsIn(state: RoomState): MediaFlags {
    return state.canPublish ? this.media.flags : NOTHING_ON;
  }

  // Tables

  /**
   * A room's tables changed: go to the table this user sits at (leaving the one they sat at),
   * or back to the room. A host's visit lasts while its table runs.
   */
  private reseat(state: RoomState): void {
    const seat = this.tables.seatOf(state, this.me?.id);
    let target = seat?.id ?? null;
    const visit = state.visiting && state.atTable !== null ? this.tables.table(state, state.atTable) : null;
    if (!seat && visit) target = visit.id;
    this.goTo(state, target, target !== null && !seat);
    const view = state.tables;
    if (!view?.sitting && (!view?.series || view.series.phase === "done")) this.tableMedia = null;
  }

  /** A host or co-host looks in on a table of a workshop (null: back to the room). */
  visit(room: string, table: string | null): void {
    const state = this.rooms.get(room);
    if (!state?.live) return;
    if (table !== null && !this.tables.table(state, table)) return;
    this.goTo(state, table, table !== null);
  }

  private goTo(state: RoomState, target: string | null, visiting: boolean): void {
    const current = state.atTable;
    const wasVisiting = state.visiting;
    state.visiting = visiting;
    if (current === target) {
      if (target !== null) this.openTable(state, target); // again after a lost connection
      return;
    }
    if (current !== null) this.leaveTable(current);
    if (target !== null) {
      state.atTable = target;
      if (current === null) {
        // The camera goes to the table: nothing of this page's in the room meanwhile.
        this.calls.stop(state);
        if (state.live && (state.you?.camera || state.you?.mic || state.you?.screen)) {
          void this.sendMediaState(state);
        }
        // From one round's table to the next, through the room: as at the last table.
        const before = this.tableMedia;
        this.tableMedia = null;
        if (before?.camera && !this.media.flags.camera) void this.media.setCamera(true);
        if (before?.mic && !this.media.flags.mic) void this.media.setMic(true);
      }
      this.openTable(state, target);
    } else {
      state.atTable = null;
      // Back in the room nothing starts by itself: camera and microphone are off until turned
      // on (the next table of a series gets them back).
      if (!wasVisiting) this.tableMedia = { camera: this.media.flags.camera, mic: this.media.flags.mic };
      void this.media.stopAll();
      // Joined again for the room's media and members as they are now.
      if (state.live && this.applyingJoin !== state.id) void this.join(state);
    }
    this.emit("tabs", undefined);
    this.emit("room", state.id);
  }

  private openTable(parent: RoomState, id: string): void {
    let table = this.rooms.get(id);
    if (!table) {
      table = new RoomState(id);
      this.rooms.set(id, table);
    }
    table.parentId = parent.id;
    table.wanted = true;
    this.left.delete(id);
    if (table.status !== "joining" && !(table.status === "joined" && table.live)) void this.join(table);
  }

  /** Out of a table's room (left, moved, closed): its media and chat go. */
  private leaveTable(id: string): void {
    const table = this.rooms.get(id);
    if (!table) return;
    const wasLive = table.live;
    table.wanted = false;
    table.live = false;
    this.calls.stop(table);
    this.chat.discard(id);
    this.rooms.delete(id);
    this.left.add(id);
    this.emit("room", id);
    if (wasLive) {
      this.connection.request("room:leave", { room: id }).catch((error) => {
        console.warn(`Client: room:leave of table ${id} failed`, error);
      });
    }
  }

  // Direct messages

  private async refreshDms(): Promise<void> {
    try {
      const { dms } = await this.connection.request("dm:list", {});
      for (const dm of dms) {
        let state = this.rooms.get(dm.room.id);
        if (!state) {
          state = new RoomState(dm.room.id);
          this.rooms.set(state.id, state);
        }
        state.room ??= dm.room;
        const renamed = state.dmUser?.name !== dm.user.name;
        state.dmUser = dm.user;
        state.dmOnline = dm.online;
        if (renamed) this.emit("room", state.id);
      }
      this.emit("tabs", undefined);
    } catch (error) {
      console.warn("Client: dm:list failed", error);
    }
  }

  /** A message for a room this page does not hold: a DM it has not opened. */
  private stranger(message: Message): void {
    if (this.left.has(message.room)) return;
    const state = new RoomState(message.room);
    if (message.user.id !== this.me?.id) state.dmUser = message.user;
    this.rooms.set(state.id, state);
    this.chat.receive(message);
    this.emit("tabs", undefined);
    void this.refreshDms(); // the other user's name when the message was our own
  }

  // Video

  /** After a (re)join: the mesh or the SFU; tell the room what this page sends. */
  private startVideo(state: RoomState, rejoin: boolean, place: MediaPlace | null): void {
    this.calls.start(state, rejoin, place);
    const flags = this.flagsIn(state);
    const you = state.you;
    if (you && (you.camera !== flags.camera || you.mic !== flags.mic || you.screen !== flags.screen)) {
      void this.sendMediaState(state);
    }
  }

  private publishMedia(): void {
    for (const state of this.rooms.values()) {
      if (!state.isVideo || (!state.mesh && !state.call) || state.atTable !== null) continue;
      this.calls.updateTracks(state);
      // The audience of a workshop publishes nothing: there is nothing to tell.
      const silent = !state.canPublish && !state.you?.camera && !state.you?.mic && !state.you?.screen;
      if (state.live && !silent) void this.sendMediaState(state);
      this.emit("peers", state.id);
    }
  }

  private async sendMediaState(state: RoomState): Promise<void> {
    try {
      const { member, media } = await this.connection.request("media:state", {
        room: state.id,
        ...this.flagsIn(state),
      });
      state.you = member;
      state.members.set(member.id, member);
      this.emit("room", state.id);
      // Turning a camera on may have moved a coffee room to the SFU.
      if (media) this.calls.moved(state, media);
    } catch (error) {
      console.warn(`Client: media:state in ${state.id} failed`, error);
    }
  }
}
