// Short notes at the top of the screen ("You left the room.", an action that failed), where
// they cover neither the media buttons nor the chat box.

import { h } from "./elements";

const SHOWN_MS = 4_000;

export class Toasts {
  readonly element = h("div", { class: "toasts", attrs: { role: "status", "aria-live": "polite" } });

  show(text: string, kind: "info" | "error" = "info"): void {
    const toast = h("div", { class: `toast ${kind}`, testid: "toast" }, text);
    this.element.append(toast);
    setTimeout(() => {
      toast.classList.add("leaving");
      setTimeout(() => toast.remove(), 300);
    }, SHOWN_MS);
  }
}
