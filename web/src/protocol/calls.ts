// The video of the rooms this page is in: for each video room its mesh (mesh.ts) or its SFU
// call (call.ts), chosen by where the server says the room's media goes: `media` in the
// `room:join` ack, then the `media` event and `media` in `media:state` acks (a MediaPlace;
// one whose epoch differs from the one held is news, whether higher or lower: docs/protocol.md,
// "Where a room's media is"). A server without the SFU sends none of them: the mesh. No DOM.

import { Call } from "./call";
import type { Connection } from "./connection";
import type { LocalMedia } from "./media";
import { Mesh } from "./mesh";
import type { RoomState } from "./room";
import { type LocalSources, NO_SOURCES } from "./sfu";
import { storage } from "./storage";
import type { MediaPlace, Member, SignalEvent, User } from "./types";

export class Calls {
  constructor(
    private readonly connection: Connection,
    private readonly media: LocalMedia,
    private readonly me: () => User | null,
    /** A room's remote media or connections changed. */
    private readonly changed: (room: string) => void,
  ) {}

  /** After a (re)join of a video room: the mesh, or the SFU when the server says so. */
  start(state: RoomState, rejoin: boolean, place: MediaPlace | null): void {
    // A `media` event that came before the ack was sent after it was (the connection was in
    // the room already): it is the newer one.
    const chosen = state.earlyPlace ?? place;
    state.earlyPlace = null;
    state.place = chosen;
    if (chosen?.mode === "sfu") {
      this.startSfu(state).start();
      return;
    }
    // Back to the mesh, if the room's SFU claim ran out while this page was away.
    state.call?.close();
    state.call = null;
    this.startMesh(state, rejoin);
  }

  private startMesh(state: RoomState, rejoin: boolean): void {
    const me = this.me()?.id ?? "";
    const existed = state.mesh !== null;
    const mesh = state.mesh ?? this.makeMesh(state);
    state.mesh = mesh;
    mesh.start(me, state.iceServers, () => state.peersWanted(me), rejoin && existed);
  }

  /** `media` event, or `media` in a `media:state` ack: the room's media moved. */
  moved(state: RoomState, place: MediaPlace): void {
    if (!state.live) {
      state.earlyPlace = place; // the join ack is on its way
      return;
    }
    if (!state.isVideo || (state.place && place.epoch === state.place.epoch)) return;
    state.place = place;
    if (place.mode === "sfu") {
      if (state.call) {
        state.call.placed(place);
      } else {
        this.startSfu(state).start();
      }
    } else if (state.call) {
      // The room's claim ended (it reads `mesh` again): back to `signal`.
      this.backToMesh(state);
    }
    this.changed(state.id);
  }

  signal(state: RoomState, event: SignalEvent): void {
    // Late signals of a mesh the SFU has replaced; a workshop on the SFU never has a mesh.
    if (!state.mesh && (state.call || state.place?.mode === "sfu")) return;
    // A signal can overtake the join ack: the mesh holds it until the room is joined.
    state.mesh ??= this.makeMesh(state);
    state.mesh.receive(event);
  }

  /** `presence` join of another member (`before`: as known until now). */
  joined(state: RoomState, member: Member, before: Member | undefined): void {
    const mesh = state.mesh;
    if (!mesh || state.call || !state.wantsPeer(member)) return;
    // We were here first: we make the connection to the newcomer. A join for a member we
    // already have (presence re-created after a Redis restart) keeps a working connection.
    if (!before || mesh.peers.get(member.id)?.state !== "connected") mesh.connect(member.id);
  }

  left(state: RoomState, user: string): void {
    state.mesh?.remove(user);
  }

  /**
   * A workshop role changed. Mesh connections follow the stage: the others connect to a
   * member who came on stage, as to a newcomer, and connections between two guests close.
   * The SFU follows roles by itself; this page only starts or stops sending.
   */
  roleChanged(state: RoomState, member: Member): void {
    const mesh = state.mesh;
    if (member.id === this.me()?.id) {
      mesh?.reconcile();
      this.updateTracks(state);
      return;
    }
    if (!mesh) return;
    if (!state.wantsPeer(member)) mesh.remove(member.id);
    else if (!mesh.peers.has(member.id)) mesh.connect(member.id);
  }

  /** Local tracks changed, or whether this page may send them in the room. */
  updateTracks(state: RoomState): void {
    state.mesh?.updateTracks();
    state.call?.updateTracks();
  }

  /** The main connection dropped. */
  pause(state: RoomState): void {
    state.mesh?.pause();
    state.call?.pause();
  }

  /** The room is left (or its view reset): close its mesh and its SFU session. */
  stop(state: RoomState): void {
    this.dropMesh(state);
    state.call?.close();
    state.call = null;
    state.place = null;
    state.earlyPlace = null;
  }

  /** Use the SFU: make the room's call (from a working mesh: make before break). */
  private startSfu(state: RoomState): Call {
    if (state.call) return state.call;
    const meshLive = [...(state.mesh?.peers.values() ?? [])].some((peer) => peer.state === "connected");
    if (!meshLive) this.dropMesh(state);
    const call = this.makeCall(state, meshLive);
    state.call = call;
    return call;
  }

  /** A coffee room's SFU claim ended: its media goes peer to peer again. */
  private backToMesh(state: RoomState): void {
    console.info(`Calls(${state.id}) back to the mesh`);
    state.call?.close();
    state.call = null;
    this.startMesh(state, false);
  }

  private makeCall(state: RoomState, meshRunning: boolean): Call {
    const options = {
      room: state.id,
      main: this.connection,
      name: () => storage.name ?? this.me()?.name ?? "",
      sources: () => this.sourcesIn(state),
      meshPublishers: () => {
        const peers = [...(state.mesh?.peers.values() ?? [])].filter((peer) => peer.state === "connected");
        return peers
          .map((peer) => peer.them)
          .filter((user) => {
            const member = state.members.get(user);
            return member !== undefined && (member.camera || member.mic || member.screen);
          });
      },
      dropMesh: () => this.dropMesh(state),
      refused: () => {
        // "this room uses mesh": the claim ended and the room has few cameras again.
        if (state.kind !== "coffee" || state.call !== call) return;
        state.place = { mode: "mesh", url: null, epoch: 0 };
        this.backToMesh(state);
      },
      changed: () => this.changed(state.id),
    };
    const call = new Call(options, meshRunning);
    return call;
  }

  /** What this page sends through the SFU: each source on its own m-line. */
  private sourcesIn(state: RoomState): LocalSources {
    if (!state.canPublish) return NO_SOURCES;
    return { mic: this.media.mic, camera: this.media.camera, screen: this.media.screen };
  }

  private makeMesh(state: RoomState): Mesh {
    return new Mesh(
      state.id,
      this.media,
      (to, type, data) => {
        if (!state.live) return;
        this.connection.request("signal", { room: state.id, to, type, data }).catch((error) => {
          console.warn(`Mesh(${state.id}) signal ${type} to ${to} failed`, error);
        });
      },
      () => this.changed(state.id),
      () => state.canPublish,
    );
  }

  private dropMesh(state: RoomState): void {
    if (!state.mesh) return;
    state.mesh.close();
    state.mesh = null;
    this.changed(state.id);
  }
}
