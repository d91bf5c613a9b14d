// Own media: microphone, camera and screen toggles, and the device pickers. In a workshop also
// this user's standing (audience, hand raised, on stage, hosting), the raise-hand button, and
// what a host last did to them.

import type { Client } from "../protocol/client";
import type { Moderation, RoomState } from "../protocol/room";
import { h, uid } from "./elements";
import { icon, type IconName } from "./icons";
import type { Moderator } from "./moderation";

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
  private readonly notice: HTMLElement;
  private readonly noticeText: HTMLElement;
  private readonly hint: HTMLElement;
  private readonly devices: HTMLElement;
  private readonly toolbar: HTMLElement;
  private readonly hand: HTMLButtonElement;
  private readonly stepDown: HTMLButtonElement;
  /** The moderation notice the person closed (its `at`). */
  private dismissed = 0;
  private busy = false;

  constructor(
    private readonly client: Client,
    leave: HTMLElement,
    private readonly state: RoomState,
    moderator: Moderator | null,
    /** A workshop's hosts: start or stop recording (ui/recording.ts). */
    record: HTMLElement | null = null,
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
    this.noticeText = h("span", { class: "notice-text" });
    this.notice = h(
      "div",
      { class: "notice", testid: "moderation-notice", attrs: { role: "status", hidden: true } },
      icon("info"),
      this.noticeText,
      h(
        "button",
        {
          class: "icon-button notice-close",
          testid: "moderation-dismiss",
          attrs: { type: "button", "aria-label": "Dismiss", title: "Dismiss" },
          on: {
            click: () => {
              this.dismissed = this.state.moderation?.at ?? 0;
              this.render();
            },
          },
        },
        icon("close"),
      ),
    );
    this.hint = h("p", { class: "media-hint", attrs: { hidden: true } });
    this.hand = h("button", {
      class: "pill-toggle",
      testid: "raise-hand",
      attrs: { type: "button", "aria-pressed": "false", hidden: true },
      on: { click: () => moderator?.raiseHand(!this.handUp) },
    });
    this.stepDown = h(
      "button",
      {
        class: "pill-toggle",
        testid: "leave-stage",
        attrs: { type: "button", hidden: true, title: "Go back to the audience" },
        on: { click: () => moderator?.sendBack() },
      },
      icon("stageDown"),
      h("span", { class: "caption" }, "Leave stage"),
    );
    const cameraId = uid("camera");
    const micId = uid("mic");
    this.cameraSelect.id = cameraId;
    this.micSelect.id = micId;
    this.devices = h(
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
    );
    this.toolbar = h(
      "div",
      { class: "controls", attrs: { role: "toolbar", "aria-label": "Your microphone and camera" } },
      h("div", { class: "toggles" }, this.mic.button, this.camera.button, this.screen.button),
      this.hand,
      this.stepDown,
      record,
      this.devices,
      leave,
    );
    this.element = h("div", { class: "controls-wrap" }, this.notice, this.error, this.hint, this.toolbar);
    this.cameraSelect.setAttribute("aria-label", "Camera");
    this.micSelect.setAttribute("aria-label", "Microphone");
    this.render();
    this.renderDevices();
  }

  render(): void {
    const state = this.state;
    const flags = this.client.flagsIn(state);
    // A workshop's audience watches: camera, microphone and screen are for the stage.
    const audience = !state.canPublish;
    const why = audience ? "Only people on stage can use camera, microphone and screen" : null;
    this.set(this.mic, flags.mic, flags.mic ? "Mute" : "Unmute", why);
    this.set(this.camera, flags.camera, flags.camera ? "Stop video" : "Start video", why);
    const share = flags.screen ? "Stop sharing" : "Share screen";
    this.set(this.screen, flags.screen, flags.screen ? share : "Share", why, share);
    this.renderWorkshop(audience);
  }

  private get handUp(): boolean {
    const me = this.client.me?.id;
    return me !== undefined && this.state.handRaised(me);
  }

  private renderWorkshop(audience: boolean): void {
    const state = this.state;
    const role = state.isWorkshop ? (state.you?.role ?? null) : null;
    const up = this.handUp;
    this.hand.hidden = role !== "guest";
    this.hand.setAttribute("aria-pressed", String(up));
    const caption = up ? "Lower hand" : "Raise hand";
    if (this.hand.dataset.caption !== caption) {
      this.hand.dataset.caption = caption;
      this.hand.replaceChildren(icon("hand"), h("span", { class: "caption" }, caption));
      this.hand.title = up ? "Lower your hand" : "Raise your hand to ask to speak";
    }
    this.stepDown.hidden = role !== "presenter";
    // Nothing to pick for who cannot publish; a presenter's extra button needs the room.
    this.devices.hidden = audience;
    this.toolbar.classList.toggle("crowded", role === "presenter");

    this.hint.hidden = !(role && audience);
    this.hint.textContent = up
      ? "Your hand is up. A host can bring you on stage to speak."
      : "Camera and microphone are for the people on stage. Raise your hand to ask to speak.";

    const moderation = state.moderation;
    const show = moderation !== null && moderation.at !== this.dismissed;
    this.notice.hidden = !show;
    if (show) {
      this.notice.dataset.action = moderation.action;
      this.noticeText.textContent = describe(moderation);
    }
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
            this.render();
          });
        },
      },
    });
    return { button, caption, on, off };
  }

  private set(
    toggle: Toggle,
    pressed: boolean,
    caption: string,
    locked: string | null,
    title = caption,
  ): void {
    toggle.button.setAttribute("aria-pressed", String(pressed));
    toggle.button.replaceChildren(icon(pressed ? toggle.on : toggle.off), toggle.caption);
    toggle.caption.textContent = caption;
    toggle.button.title = locked ?? title;
    toggle.button.disabled = this.busy || locked !== null;
  }

  private async choose(kind: "camera" | "mic"): Promise<void> {
    showChoice(kind === "camera" ? this.cameraSelect : this.micSelect);
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
    ? devices.map((d, i) => {
        const label = d.label || `${fallback} ${i + 1}`;
        return h("option", { attrs: { value: d.deviceId, title: label } }, label);
      })
    : [h("option", { attrs: { value: "" } }, fallback)];
  const signature = options.map((o) => `${o.value}|${o.textContent}`).join("\n");
  if (select.dataset.signature !== signature) {
    select.replaceChildren(...options);
    select.dataset.signature = signature;
  }
  if (chosen && devices.some((d) => d.deviceId === chosen)) select.value = chosen;
  showChoice(select);
}

/** A long device name is cut short in the picker: the whole of it is its tooltip. */
function showChoice(select: HTMLSelectElement): void {
  select.title = select.selectedOptions[0]?.textContent ?? "";
}

/** What a host did, as the person it was done to reads it. */
function describe(moderation: Moderation): string {
  const by = moderation.by.name;
  switch (moderation.action) {
    case "stage_invited":
      return `${by} brought you on stage. You can turn on your camera and microphone now.`;
    case "stage_removed":
      return `${by} moved you back to the audience.`;
    case "muted": {
      const what = [
        moderation.camera ? "camera" : null,
        moderation.mic ? "microphone" : null,
        moderation.screen ? "screen share" : null,
      ].filter((w): w is string => w !== null);
      const list =
        what.length > 1 ? `${what.slice(0, -1).join(", ")} and ${what.at(-1)}` : (what[0] ?? "media");
      return `${by} turned off your ${list}.`;
    }
  }
}
