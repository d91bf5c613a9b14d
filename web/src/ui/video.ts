// Video: tiles, the grid of a coffee morning, and the hidden audio elements that play
// everybody's microphone (a workshop's stage is in stage.ts).

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import type { Member } from "../protocol/types";
import { avatar, h, replace, srOnly, syncChildren } from "./elements";
import { icon } from "./icons";
import { byRank } from "./members";

/** What a tile shows: a member, and the stream to play (own preview or the peer's). */
interface TileSource {
  member: Member;
  stream: MediaStream | null;
  self: boolean;
  /** The peer connection is not (yet) connected. */
  connecting: boolean;
}

function flag(
  testid: string,
  on: boolean,
  onIcon: "mic" | "camera",
  offIcon: "micOff" | "cameraOff",
  label: string,
): HTMLElement {
  const element = h(
    "span",
    { class: on ? "flag on" : "flag off", testid },
    icon(on ? onIcon : offIcon),
    srOnly(`${label} ${on ? "on" : "off"}`),
  );
  element.dataset.on = String(on);
  return element;
}

export class Tile {
  readonly element: HTMLElement;
  private readonly video: HTMLVideoElement;
  private readonly placeholder: HTMLElement;
  private readonly label: HTMLElement;
  private readonly status: HTMLElement;
  private stream: MediaStream | null = null;

  constructor(readonly user: string) {
    this.video = h("video", { attrs: { autoplay: true, playsinline: true, muted: true } });
    // Tiles never play sound: audio goes through the room's audio elements, so a tile can
    // come and go with the camera without cutting anybody off.
    this.video.muted = true;
    this.placeholder = h("div", { class: "placeholder" });
    this.label = h("div", { class: "tile-label" });
    this.status = h("div", { class: "tile-status" });
    this.element = h(
      "div",
      { class: "tile", testid: "video-tile" },
      this.video,
      this.placeholder,
      this.status,
      this.label,
    );
    this.element.dataset.userId = user;
  }

  update(source: TileSource): void {
    const { member, stream, self } = source;
    const showsVideo = member.camera || member.screen;
    if (stream !== this.stream) {
      this.stream = stream;
      this.video.srcObject = stream;
      if (stream) this.video.play().catch(() => undefined);
    }
    this.element.classList.toggle("self", self);
    this.element.classList.toggle("mirrored", self && member.camera && !member.screen);
    this.element.classList.toggle("screen", member.screen);
    this.element.classList.toggle("no-video", !showsVideo);
    this.placeholder.replaceChildren(showsVideo ? "" : avatar(member, "l"));
    this.status.textContent = source.connecting ? "Connecting…" : "";
    replace(
      this.label,
      h("span", { testid: "tile-name", class: "tile-name" }, member.name),
      self ? h("span", { class: "you" }, "(you)") : null,
      member.role === "host" || member.role === "cohost"
        ? h("span", { class: "role" }, member.role === "host" ? "Host" : "Co-host")
        : null,
      member.screen ? h("span", { class: "role" }, "Screen") : null,
      flag("tile-mic", member.mic, "mic", "micOff", "microphone"),
      flag("tile-camera", member.camera, "camera", "cameraOff", "camera"),
    );
  }
}

/** The tiles of a room's members, kept across renders so their videos keep playing. */
export class Tiles {
  private readonly tiles = new Map<string, Tile>();
  private ownPreview: MediaStream | null = null;
  private ownTrack: MediaStreamTrack | null = null;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
  ) {}

  /** The member as shown: own flags come from this page, which knows them first. */
  member(member: Member): Member {
    if (member.id !== this.client.me?.id) return member;
    return { ...member, ...this.client.flagsIn(this.state) };
  }

  tile(member: Member): Tile {
    let tile = this.tiles.get(member.id);
    if (!tile) {
      tile = new Tile(member.id);
      this.tiles.set(member.id, tile);
    }
    tile.update(this.source(member));
    return tile;
  }

  /** Forget the tiles not in `shown`. */
  prune(shown: Set<string>): void {
    for (const id of this.tiles.keys()) if (!shown.has(id)) this.tiles.delete(id);
  }

  private source(member: Member): TileSource {
    const self = member.id === this.client.me?.id;
    if (self) return { member, stream: this.preview(), self, connecting: false };
    return { member, self, ...this.state.remote(member.id) };
  }

  private preview(): MediaStream | null {
    const track = this.client.media.videoTrack;
    if (track !== this.ownTrack) {
      this.ownTrack = track;
      this.ownPreview = track ? new MediaStream([track]) : null;
    }
    return this.ownPreview;
  }
}

/** A coffee morning: everybody whose camera (or screen) is on. */
export class VideoGrid {
  readonly element: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly tiles: Tiles;

  private count = 0;

  constructor(
    client: Client,
    private readonly state: RoomState,
  ) {
    this.tiles = new Tiles(client, state);
    this.grid = h("div", { class: "video-grid", testid: "video-grid", attrs: { "aria-label": "Cameras" } });
    new ResizeObserver(() => this.layout()).observe(this.grid);
    this.empty = h(
      "div",
      { class: "video-empty" },
      icon("coffee", "icon big"),
      h("p", { class: "empty-title" }, "Nobody's camera is on yet"),
      h("p", {}, "Turn yours on to say hello face to face — or just chat."),
    );
    this.element = h("div", { class: "video-area" }, this.grid, this.empty);
  }

  render(me: string | undefined): void {
    const members = [...this.state.members.values()]
      .map((m) => this.tiles.member(m))
      .filter((m) => m.camera || m.screen);
    members.sort(byRank(me));
    const shown = new Set(members.map((m) => m.id));
    this.tiles.prune(shown);
    const elements = members.map((m) => this.tiles.tile(m).element);
    syncChildren(this.grid, elements);
    this.count = elements.length;
    this.grid.dataset.count = String(elements.length);
    this.empty.hidden = elements.length > 0;
    this.layout();
  }

  /** The biggest 16:9 tiles that fit: try every number of columns, keep the best. */
  private layout(): void {
    const n = this.count;
    const width = this.grid.clientWidth;
    const height = this.grid.clientHeight;
    if (n === 0 || width === 0 || height === 0) return;
    const gap = 10;
    let best = { columns: 1, w: 0, h: 0 };
    for (let columns = 1; columns <= n; columns++) {
      const rows = Math.ceil(n / columns);
      let w = (width - (columns - 1) * gap) / columns;
      let h = (w * 9) / 16;
      if (rows * h + (rows - 1) * gap > height) {
        h = (height - (rows - 1) * gap) / rows;
        w = (h * 16) / 9;
      }
      if (w * h > best.w * best.h) best = { columns, w, h };
    }
    this.grid.style.setProperty("--cols", String(best.columns));
    this.grid.style.setProperty("--tile-w", `${Math.floor(best.w)}px`);
    this.grid.style.setProperty("--tile-h", `${Math.floor(best.h)}px`);
  }
}

/** One hidden audio element per peer: everybody's microphone, whatever the tiles show. */
export class AudioSinks {
  readonly element = h("div", { class: "audio-sinks", attrs: { hidden: true } });
  private readonly sinks = new Map<string, HTMLAudioElement>();

  constructor(private readonly state: RoomState) {}

  render(): void {
    const streams = this.state.remoteStreams();
    for (const [user, sink] of this.sinks) {
      if (!streams.has(user)) {
        sink.srcObject = null;
        sink.remove();
        this.sinks.delete(user);
      }
    }
    for (const [user, stream] of streams) {
      let sink = this.sinks.get(user);
      if (!sink) {
        sink = h("audio", { attrs: { autoplay: true } });
        this.sinks.set(user, sink);
        this.element.append(sink);
      }
      if (sink.srcObject !== stream) {
        sink.srcObject = stream;
        sink.play().catch(() => undefined);
      }
    }
  }

  close(): void {
    for (const sink of this.sinks.values()) sink.srcObject = null;
    this.sinks.clear();
    this.element.replaceChildren();
  }
}
