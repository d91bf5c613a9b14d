// Short notes at the bottom of the screen ("Link copied", an action that failed).

import { h } from "./elements";

const SHOWN_MS = 4_000;

export class Toasts {
  readonly element = h("div", { class: "toasts", attrs: { role: "status", "aria-live": "polite" } });

  show(text: string, kind: "info" | "error" = "info"): void {
    const toast = h("div", { class: `toast ${kind}` }, text);
    this.element.append(toast);
    setTimeout(() => {
      toast.classList.add("leaving");
      setTimeout(() => toast.remove(), 300);
    }, SHOWN_MS);
  }
}
