// This browser's own camera, microphone and screen share. One set of tracks for the page; every
// peer connection sends them (mesh.ts swaps them in with RTCRtpSender.replaceTrack).

import { Emitter } from "./emitter";
import { storage } from "./storage";

export interface MediaFlags {
  camera: boolean;
  mic: boolean;
  screen: boolean;
}

interface MediaEvents {
  /** Tracks or flags changed. */
  change: MediaFlags;
  /** The device lists changed. */
  devices: void;
  /** Something the person should read, e.g. permission denied. */
  error: string;
}

function explain(error: unknown, what: string): string {
  const name = error instanceof DOMException ? error.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") {
    return `The browser did not allow the ${what}. Allow it in the site settings and try again.`;
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") return `No ${what} was found.`;
  if (name === "NotReadableError") return `The ${what} is in use by another application.`;
  if (name === "AbortError") return `The ${what} did not start.`;
  return `The ${what} could not be started.`;
}

export class LocalMedia extends Emitter<MediaEvents> {
  camera: MediaStreamTrack | null = null;
  mic: MediaStreamTrack | null = null;
  screen: MediaStreamTrack | null = null;
  cameras: MediaDeviceInfo[] = [];
  mics: MediaDeviceInfo[] = [];
  cameraId: string | null = storage.device("camera");
  micId: string | null = storage.device("mic");
  /** Media changes run one after another: a second click waits for the first to finish. */
  private queue: Promise<void> = Promise.resolve();

  constructor() {
    super();
    navigator.mediaDevices?.addEventListener?.("devicechange", () => void this.refreshDevices());
  }

  get supported(): boolean {
    return typeof navigator.mediaDevices?.getUserMedia === "function";
  }

  get canShareScreen(): boolean {
    return typeof navigator.mediaDevices?.getDisplayMedia === "function";
  }

  get flags(): MediaFlags {
    return { camera: this.camera !== null, mic: this.mic !== null, screen: this.screen !== null };
  }

  /** What goes out as video: the screen while sharing, else the camera. */
  get videoTrack(): MediaStreamTrack | null {
    return this.screen ?? this.camera;
  }

  get audioTrack(): MediaStreamTrack | null {
    return this.mic;
  }

  setCamera(on: boolean): Promise<void> {
    return this.run(async () => {
      if (on === (this.camera !== null)) return;
      if (!on) {
        this.camera?.stop();
        this.camera = null;
        return;
      }
      this.camera = await this.capture("video", this.cameraId, "camera");
    });
  }

  setMic(on: boolean): Promise<void> {
    return this.run(async () => {
      if (on === (this.mic !== null)) return;
      if (!on) {
        this.mic?.stop();
        this.mic = null;
        return;
      }
      this.mic = await this.capture("audio", this.micId, "microphone");
    });
  }

  setScreen(on: boolean): Promise<void> {
    return this.run(async () => {
      if (on === (this.screen !== null)) return;
      if (!on) {
        this.screen?.stop();
        this.screen = null;
        return;
      }
      try {
        const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
        const track = stream.getVideoTracks()[0] ?? null;
        if (track) {
          // The browser's own "Stop sharing" button ends the track.
          track.addEventListener("ended", () => {
            if (this.screen === track) void this.setScreen(false);
          });
          track.contentHint = "detail";
        }
        this.screen = track;
      } catch (error) {
        // Cancelling the browser's picker is not an error worth showing.
        if (!(error instanceof DOMException && error.name === "NotAllowedError")) {
          this.emit("error", explain(error, "screen share"));
        }
      }
    });
  }

  /** Switch to another camera; a running camera moves over at once. */
  useCamera(deviceId: string): Promise<void> {
    this.cameraId = deviceId || null;
    storage.setDevice("camera", this.cameraId);
    return this.run(async () => {
      if (!this.camera) return;
      const track = await this.capture("video", this.cameraId, "camera");
      if (!track) return;
      this.camera.stop();
      this.camera = track;
    });
  }

  useMic(deviceId: string): Promise<void> {
    this.micId = deviceId || null;
    storage.setDevice("mic", this.micId);
    return this.run(async () => {
      if (!this.mic) return;
      const track = await this.capture("audio", this.micId, "microphone");
      if (!track) return;
      this.mic.stop();
      this.mic = track;
    });
  }

  /** Turn everything off (leaving the last video room). */
  stopAll(): Promise<void> {
    return this.run(async () => {
      for (const track of [this.camera, this.mic, this.screen]) track?.stop();
      this.camera = this.mic = this.screen = null;
    });
  }

  async refreshDevices(): Promise<void> {
    if (typeof navigator.mediaDevices?.enumerateDevices !== "function") return;
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      // Without permission the browser lists devices with empty ids: nothing to choose yet.
      this.cameras = devices.filter((d) => d.kind === "videoinput" && d.deviceId);
      this.mics = devices.filter((d) => d.kind === "audioinput" && d.deviceId);
      this.emit("devices", undefined);
    } catch (error) {
      console.warn("LocalMedia: enumerateDevices failed", error);
    }
  }

  private async capture(
    kind: "audio" | "video",
    deviceId: string | null,
    what: string,
  ): Promise<MediaStreamTrack | null> {
    if (!this.supported) {
      this.emit("error", `This browser cannot use a ${what} here (it needs HTTPS).`);
      return null;
    }
    const exact: MediaTrackConstraints = deviceId ? { deviceId: { exact: deviceId } } : {};
    const video: MediaTrackConstraints = { width: { ideal: 640 }, height: { ideal: 360 }, ...exact };
    const constraints: MediaStreamConstraints =
      kind === "video" ? { video } : { audio: { echoCancellation: true, noiseSuppression: true, ...exact } };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      if (deviceId && error instanceof DOMException && error.name === "OverconstrainedError") {
        // The stored device is gone: fall back to the default one.
        if (kind === "video") this.cameraId = null;
        else this.micId = null;
        return this.capture(kind, null, what);
      }
      this.emit("error", explain(error, what));
      return null;
    }
    void this.refreshDevices(); // labels and ids are readable once permission is given
    return (kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks())[0] ?? null;
  }

  private run(change: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(async () => {
      const before = { ...this.flags, video: this.videoTrack, audio: this.audioTrack };
      try {
        await change();
      } catch (error) {
        console.error("LocalMedia: change failed", error);
      }
      const after = this.flags;
      const changed =
        after.camera !== before.camera ||
        after.mic !== before.mic ||
        after.screen !== before.screen ||
        this.videoTrack !== before.video ||
        this.audioTrack !== before.audio;
      if (changed) this.emit("change", after);
    });
    return this.queue;
  }
}
