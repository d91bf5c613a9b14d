// A small action menu that opens from a "…" button: a popover in the browser's top layer, so
// a scrolling list cannot clip it; light dismiss and Escape come with the Popover API. Its
// items are built each time it opens, from the state of that moment.

import { h, uid } from "./elements";
import { icon, type IconName } from "./icons";

export interface MenuItem {
  testid: string;
  label: string;
  icon: IconName;
  act: () => void;
  danger?: boolean;
  disabled?: boolean;
  /** Why it is disabled, as its tooltip. */
  title?: string;
}

export class Menu {
  readonly button: HTMLButtonElement;
  readonly element: HTMLElement;

  constructor(
    label: string,
    testids: { button: string; menu: string },
    private readonly items: () => MenuItem[],
  ) {
    const id = uid("menu");
    this.element = h("div", {
      class: "menu",
      testid: testids.menu,
      attrs: { id, popover: "auto", role: "menu", "aria-label": label },
    });
    this.button = h(
      "button",
      {
        class: "icon-button menu-more",
        testid: testids.button,
        attrs: {
          type: "button",
          "aria-label": label,
          title: label,
          "aria-haspopup": "menu",
          "aria-expanded": "false",
          "aria-controls": id,
        },
      },
      icon("more"),
    );
    this.button.popoverTargetElement = this.element;
    this.element.addEventListener("beforetoggle", (event) => {
      if ((event as ToggleEvent).newState !== "open") return;
      this.fill();
      this.place();
    });
    this.element.addEventListener("toggle", (event) => {
      const open = (event as ToggleEvent).newState === "open";
      this.button.setAttribute("aria-expanded", String(open));
      if (open) {
        this.place(); // now that its size is known
        this.element.querySelector<HTMLButtonElement>("button:not(:disabled)")?.focus();
      }
    });
    this.element.addEventListener("keydown", (event) => this.key(event));
  }

  get open(): boolean {
    return this.element.matches(":popover-open");
  }

  /** Rebuild the items of an open menu (what it acts on changed). */
  refresh(): void {
    if (this.open) this.fill();
  }

  close(): void {
    if (this.open) this.element.hidePopover();
  }

  private fill(): void {
    this.element.replaceChildren(
      ...this.items().map((item) =>
        h(
          "button",
          {
            class: item.danger ? "menu-item danger" : "menu-item",
            testid: item.testid,
            attrs: { type: "button", role: "menuitem", disabled: item.disabled, title: item.title },
            on: {
              click: () => {
                this.close();
                item.act();
              },
            },
          },
          icon(item.icon),
          h("span", {}, item.label),
        ),
      ),
    );
  }

  /** Below the button, right-aligned to it; above it when there is no room below. */
  private place(): void {
    const anchor = this.button.getBoundingClientRect();
    const margin = 8;
    const style = this.element.style;
    style.right = `${Math.max(margin, Math.round(window.innerWidth - anchor.right))}px`;
    style.top = `${Math.round(anchor.bottom + 4)}px`;
    const menu = this.element.getBoundingClientRect();
    if (menu.bottom > window.innerHeight - margin) {
      style.top = `${Math.max(margin, Math.round(anchor.top - menu.height - 4))}px`;
    }
  }

  private key(event: KeyboardEvent): void {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    event.preventDefault();
    const items = [...this.element.querySelectorAll<HTMLButtonElement>("button:not(:disabled)")];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const next = event.key === "ArrowDown" ? at + 1 : at - 1;
    items[(next + items.length) % items.length]?.focus();
  }
}
