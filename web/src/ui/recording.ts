// A workshop's recording: the "● Recording" mark everybody sees beside the title while it
// runs, and for hosts and co-hosts the button among the media controls that starts or stops it (docs/web-client.md,
// "Recording").

import type { RoomState } from "../protocol/room";
import { h } from "./elements";
import type { Moderator } from "./moderation";

/** What a host is told when a recording stopped by itself (`recording:notice`). */
export const STOPPED: Record<string, string> = {
  max_length: "it reached the longest recording allowed",
  disk_low: "the server is running out of disk space",
  media_gone: "the workshop's video left the server recording it",
  shutdown: "the server is restarting",
};

export class RecordingControls {
  /** The mark beside the title, while it records. */
  readonly mark: HTMLElement;
  /** Start or stop: hosts and co-hosts only. */
  readonly button: HTMLButtonElement;
  /** A click is on its way: the button waits for the answer. */
  private busy = false;

  constructor(
    private readonly state: RoomState,
    private readonly moderator: Moderator,
  ) {
    this.mark = h(
      "span",
      { class: "recording-mark", testid: "recording-indicator", attrs: { hidden: true, role: "status" } },
      h("span", { class: "dot", attrs: { "aria-hidden": "true" } }, "●"),
      " Recording",
    );
    this.button = h("button", {
      class: "pill-toggle recording-toggle",
      testid: "recording-toggle",
      attrs: { type: "button", hidden: true },
      on: { click: () => this.toggle() },
    });
  }

  render(): void {
    const state = this.state;
    const on = state.recording?.on ?? false;
    this.mark.hidden = !on;
    const by = state.recording?.by;
    const since = state.recording?.started_at;
    this.mark.title =
      on && by && since
        ? `${by.name} started recording this workshop at ${new Date(since).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`
        : "";
    // Without `recording` in the join ack the server cannot record: no button.
    this.button.hidden = !state.hosting || state.recording === null;
    this.button.disabled = this.busy;
    if (this.button.dataset.on === String(on)) return;
    this.button.dataset.on = String(on);
    this.button.setAttribute("aria-pressed", String(on));
    const mark = h("span", { class: "dot", attrs: { "aria-hidden": "true" } }, on ? "■" : "●");
    this.button.replaceChildren(
      mark,
      h("span", { class: "caption" }, on ? "Stop recording" : "Start recording"),
    );
    this.button.title = on ? "Stop recording the stage" : "Record the stage: everybody here is told";
  }

  private toggle(): void {
    const room = this.state.id;
    const workshop = this.moderator.workshop;
    const on = this.state.recording?.on ?? false;
    this.busy = true;
    this.render();
    this.moderator.run(async () => {
      try {
        await (on ? workshop.stopRecording(room) : workshop.startRecording(room));
      } finally {
        this.busy = false;
        this.render();
      }
    });
  }
}
