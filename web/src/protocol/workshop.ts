// Workshop hosting: the requests of hosts and guests (hands, the stage, moderation, the waiting
// room, the room's settings, ending), and the events that keep a workshop's state:
// `workshop` (everybody), `workshop:hosts` (hosts and co-hosts), `moderation` (what a host did
// to this user), `host:key` (this user became the host), `recording` (everybody) and
// `recording:notice` (hosts: a recording stopped by itself). No DOM.
//
// Obeying a host (turning a muted camera off, leaving the stage) touches the media and the
// peer connections: the client does it, told through `obey`.

import { type Connection, RequestError } from "./connection";
import { Emitter } from "./emitter";
import type { RoomState } from "./room";
import { storage } from "./storage";
import type {
  HostKeyEvent,
  HostsEvent,
  ModerationEvent,
  RecordingEvent,
  RecordingNoticeEvent,
  RecordingStop,
  RecordingView,
  WorkshopEvent,
  WorkshopView,
} from "./types";

interface WorkshopEvents {
  /** A workshop's state (or what its hosts see) changed; the payload is `room`. */
  changed: string;
  /** Somebody knocked on the waiting room of a workshop this user hosts. */
  knock: { room: string; name: string };
  /** A workshop this user just joined is being recorded: tell them. */
  onAir: string;
  /** A recording of a workshop this user hosts stopped by itself. */
  recordingStopped: { room: string; reason: RecordingStop };
}

/** What a host can turn off for a member. */
export interface MuteWhat {
  camera?: boolean;
  mic?: boolean;
  screen?: boolean;
}

export class Workshop extends Emitter<WorkshopEvents> {
  constructor(
    private readonly connection: Connection,
    private readonly rooms: Map<string, RoomState>,
    /** A host's action this page must carry out (media off, stage left). */
    private readonly obey: (state: RoomState, event: ModerationEvent) => void,
  ) {
    super();
    connection.on("workshop", (event) => this.received(event));
    connection.on("hosts", (event) => this.hostsReceived(event));
    connection.on("moderation", (event) => this.moderated(event));
    connection.on("hostKey", (event) => this.hostKey(event));
    connection.on("recording", (event) => this.recordingReceived(event));
    connection.on("recordingNotice", (event) => this.recordingNotice(event));
  }

  // Guests

  async raiseHand(room: string): Promise<void> {
    await this.connection.request("hand:raise", { room });
  }

  /** Lower own hand, or (hosts) somebody else's. */
  async lowerHand(room: string, user?: string): Promise<void> {
    await this.connection.request("hand:lower", user ? { room, user } : { room });
  }

  // The stage

  async invite(room: string, user: string): Promise<void> {
    await this.connection.request("stage:invite", { room, user });
  }

  /** Send a presenter back to the audience; without `user`, step down oneself. */
  async sendBack(room: string, user?: string): Promise<void> {
    await this.connection.request("stage:remove", user ? { room, user } : { room });
  }

  // Moderation

  async mute(room: string, user: string, what: MuteWhat): Promise<void> {
    await this.connection.request("member:mute", { room, user, ...what });
  }

  async remove(room: string, user: string): Promise<void> {
    await this.connection.request("member:remove", { room, user });
  }

  /** Let a removed user come back. */
  async allow(room: string, user: string): Promise<void> {
    await this.connection.request("member:allow", { room, user });
  }

  async setRole(room: string, user: string, role: "cohost" | "guest"): Promise<void> {
    await this.connection.request("member:role", { room, user, role });
  }

  /** Make somebody else the host; this user becomes a co-host and its host key is void. */
  async handOver(room: string, user: string): Promise<void> {
    await this.connection.request("host:handover", { room, user });
    storage.setHostKey(room, null);
  }

  // The room

  async lock(room: string, enabled: boolean): Promise<void> {
    this.apply(room, (await this.connection.request("room:lock", { room, enabled })).state);
  }

  async waitingRoom(room: string, enabled: boolean): Promise<void> {
    this.apply(room, (await this.connection.request("room:waiting", { room, enabled })).state);
  }

  async enableChat(room: string, enabled: boolean): Promise<void> {
    this.apply(room, (await this.connection.request("chat:enable", { room, enabled })).state);
  }

  async admit(room: string, user: string): Promise<void> {
    await this.connection.request("waiting:admit", { room, user });
  }

  async decline(room: string, user: string): Promise<void> {
    await this.connection.request("waiting:decline", { room, user });
  }

  async end(room: string): Promise<void> {
    await this.connection.request("workshop:end", { room });
  }

  // Recording

  async startRecording(room: string): Promise<void> {
    this.applyRecording(room, (await this.recordingRequest(room, "recording:start")).recording);
  }

  async stopRecording(room: string): Promise<void> {
    this.applyRecording(room, (await this.recordingRequest(room, "recording:stop")).recording);
  }

  /**
   * Only the server process holding the room's media records it; another answers `moved`
   * (docs/protocol.md, "Recordings"): ask again over the call's media connection to that one.
   */
  private async recordingRequest(room: string, event: "recording:start" | "recording:stop") {
    try {
      return await this.connection.request(event, { room });
    } catch (error) {
      const link = this.rooms.get(room)?.call?.mediaLink;
      if (!(error instanceof RequestError) || error.code !== "moved" || !link) throw error;
      return await link.request(event, { room });
    }
  }

  /** The join ack's `recording`; one running when the room was not joined before is news. */
  joined(state: RoomState, recording: RecordingView | null, rejoin: boolean): void {
    const early = state.earlyRecording;
    state.earlyRecording = null;
    const was = state.recording?.on ?? false;
    state.recording = early ?? recording;
    if (state.recording?.on && !(rejoin && was)) this.emit("onAir", state.id);
  }

  // Events

  private received(event: WorkshopEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || !state.wanted) return;
    if (!state.live) {
      // The join ack on its way may carry an older state: this one is applied after it.
      state.earlyWorkshop = event;
      return;
    }
    this.apply(event.room, event.state);
  }

  private apply(room: string, view: WorkshopView): void {
    const state = this.rooms.get(room);
    if (!state) return;
    state.workshop = view;
    this.emit("changed", room);
  }

  private hostsReceived(event: HostsEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || !state.wanted) return;
    const before = new Set(state.hosts?.knocking.map((u) => u.id) ?? []);
    state.hosts = event.state;
    this.emit("changed", event.room);
    for (const user of event.state.knocking) {
      if (!before.has(user.id)) this.emit("knock", { room: event.room, name: user.name });
    }
  }

  private moderated(event: ModerationEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || !state.live) return;
    state.moderation = { ...event, at: Date.now() };
    this.obey(state, event);
    this.emit("changed", event.room);
  }

  private recordingReceived(event: RecordingEvent): void {
    const state = this.rooms.get(event.room);
    if (!state || !state.wanted) return;
    const view: RecordingView = { on: event.on, by: event.by, started_at: event.started_at };
    if (!state.live) {
      state.earlyRecording = view; // the join ack on its way may be older
      return;
    }
    this.applyRecording(event.room, view);
  }

  private applyRecording(room: string, view: RecordingView): void {
    const state = this.rooms.get(room);
    if (!state) return;
    state.recording = view;
    this.emit("changed", room);
  }

  private recordingNotice(event: RecordingNoticeEvent): void {
    const state = this.rooms.get(event.room);
    if (!state?.wanted) return;
    this.emit("recordingStopped", { room: event.room, reason: event.reason });
  }

  private hostKey(event: HostKeyEvent): void {
    // How this user comes back as the host after a reload or a lost connection.
    storage.setHostKey(event.room, event.host_key);
  }
}
