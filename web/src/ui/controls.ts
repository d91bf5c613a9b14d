// Own media: microphone, camera and screen toggles, and the device pickers.

import type { Client } from "../protocol/client";
import { h, uid } from "./elements";
import { icon, type IconName } from "./icons";

interface Toggle {
  button: HTMLButtonElement;
  caption: HTMLElement;
  on: IconName;
  off: IconName;
}

export class MediaControls {
  readonly element: HTMLElement;
  private readonly mic: Toggle;
  private readonly camera: Toggle;
  private readonly screen: Toggle;
  private readonly cameraSelect: HTMLSelectElement;
  private readonly micSelect: HTMLSelectElement;
  private readonly error: HTMLElement;
  private busy = false;

  constructor(
    private readonly client: Client,
    leave: HTMLElement,
  ) {
    const media = client.media;
    this.mic = this.toggle("toggle-mic", "Microphone", "mic", "micOff", () =>
      client.setMic(!media.flags.mic),
    );
    this.camera = this.toggle("toggle-camera", "Camera", "camera", "cameraOff", () =>
      client.setCamera(!media.flags.camera),
    );
    this.screen = this.toggle("toggle-screen", "Share screen", "screen", "screen", () =>
      client.setScreen(!media.flags.screen),
    );
    this.screen.button.hidden = !media.canShareScreen;
    this.cameraSelect = h("select", {
      testid: "device-camera",
      on: { change: () => void this.choose("camera") },
    });
    this.micSelect = h("select", { testid: "device-mic", on: { change: () => void this.choose("mic") } });
    this.error = h("p", { class: "media-error", attrs: { role: "alert", hidden: true } });
    const cameraId = uid("camera");
    const micId = uid("mic");
    this.cameraSelect.id = cameraId;
    this.micSelect.id = micId;
    this.element = h(
      "div",
      { class: "controls-wrap" },
      this.error,
      h(
        "div",
        { class: "controls", attrs: { role: "toolbar", "aria-label": "Your microphone and camera" } },
        h("div", { class: "toggles" }, this.mic.button, this.camera.button, this.screen.button),
        h(
          "div",
          { class: "devices" },
          h(
            "label",
            { class: "device" },
            h("span", { class: "sr-only" }, "Camera"),
            icon("camera"),
            this.cameraSelect,
          ),
          h(
            "label",
            { class: "device" },
            h("span", { class: "sr-only" }, "Microphone"),
            icon("mic"),
            this.micSelect,
          ),
        ),
        leave,
      ),
    );
    this.cameraSelect.setAttribute("aria-label", "Camera");
    this.micSelect.setAttribute("aria-label", "Microphone");
    this.render();
    this.renderDevices();
  }

  render(): void {
    const flags = this.client.media.flags;
    this.set(this.mic, flags.mic, flags.mic ? "Mute" : "Unmute");
    this.set(this.camera, flags.camera, flags.camera ? "Stop video" : "Start video");
    this.set(this.screen, flags.screen, flags.screen ? "Stop sharing" : "Share screen");
  }

  renderDevices(): void {
    const media = this.client.media;
    fill(
      this.cameraSelect,
      media.cameras,
      media.cameraId ?? media.camera?.getSettings().deviceId ?? null,
      "Default camera",
    );
    fill(
      this.micSelect,
      media.mics,
      media.micId ?? media.mic?.getSettings().deviceId ?? null,
      "Default microphone",
    );
  }

  showError(text: string | null): void {
    this.error.hidden = text === null;
    this.error.textContent = text ?? "";
  }

  private toggle(
    testid: string,
    label: string,
    on: IconName,
    off: IconName,
    act: () => Promise<void>,
  ): Toggle {
    const caption = h("span", { class: "caption" });
    const button = h("button", {
      class: "toggle",
      testid,
      attrs: { type: "button", "aria-label": label, "aria-pressed": "false" },
      on: {
        click: () => {
          if (this.busy) return;
          this.busy = true;
          this.showError(null);
          for (const t of [this.mic, this.camera, this.screen]) t.button.disabled = true;
          act().finally(() => {
            this.busy = false;
            for (const t of [this.mic, this.camera, this.screen]) t.button.disabled = false;
            this.render();
          });
        },
      },
    });
    return { button, caption, on, off };
  }

  private set(toggle: Toggle, pressed: boolean, caption: string): void {
    toggle.button.setAttribute("aria-pressed", String(pressed));
    toggle.button.replaceChildren(icon(pressed ? toggle.on : toggle.off), toggle.caption);
    toggle.caption.textContent = caption;
    toggle.button.title = caption;
  }

  private async choose(kind: "camera" | "mic"): Promise<void> {
    const media = this.client.media;
    if (kind === "camera") await media.useCamera(this.cameraSelect.value);
    else await media.useMic(this.micSelect.value);
  }
}

function fill(
  select: HTMLSelectElement,
  devices: MediaDeviceInfo[],
  chosen: string | null,
  fallback: string,
): void {
  const options = devices.length
    ? devices.map((d, i) => h("option", { attrs: { value: d.deviceId } }, d.label || `${fallback} ${i + 1}`))
    : [h("option", { attrs: { value: "" } }, fallback)];
  const signature = options.map((o) => `${o.value}|${o.textContent}`).join("\n");
  if (select.dataset.signature !== signature) {
    select.replaceChildren(...options);
    select.dataset.signature = signature;
  }
  if (chosen && devices.some((d) => d.deviceId === chosen)) select.value = chosen;
}
