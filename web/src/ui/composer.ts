// The message box of a room or a thread: Enter sends, Shift+Enter is a new line, and `@`
// followed by letters offers the room's people to mention. A chosen name is written as
// `@Name ` and remembered; the message names (`mentions`) those remembered whose `@Name` is
// still in the text when it is sent.

import { named } from "../protocol/mentions";
import type { User } from "../protocol/types";
import { avatar, h, uid } from "./elements";
import { icon } from "./icons";

/** `@` at the start or after a space, then what is typed so far, up to the caret. */
const QUERY = /(?:^|\s)@([^\s@]{0,40})$/u;
const SHOWN = 6;

export interface ComposerOptions {
  testids: { input: string; send: string };
  label: string;
  placeholder: string;
  /** Who may be mentioned (the room's people, without this user). */
  candidates: () => User[];
  /** Send; true when the text was taken (the box empties). */
  submit: (text: string, mentions: string[]) => boolean;
  /** Something was typed. */
  typed?: () => void;
}

export class Composer {
  readonly element: HTMLFormElement;
  readonly input: HTMLTextAreaElement;
  readonly send: HTMLButtonElement;
  private readonly list: HTMLUListElement;
  private readonly remembered = new Map<string, User>();
  private options: User[] = [];
  private active = 0;
  /** Where the `@` of the query being completed is. */
  private at = -1;

  constructor(private readonly config: ComposerOptions) {
    const inputId = uid("composer");
    const listId = uid("mentions");
    this.input = h("textarea", {
      testid: config.testids.input,
      attrs: {
        id: inputId,
        rows: 1,
        placeholder: config.placeholder,
        autocomplete: "off",
        enterkeyhint: "send",
        "aria-autocomplete": "list",
        "aria-controls": listId,
      },
      on: {
        keydown: (event) => this.key(event),
        input: () => {
          this.autosize();
          this.complete();
          config.typed?.();
        },
        click: () => this.complete(),
        blur: () => setTimeout(() => this.close(), 150),
      },
    });
    this.send = h(
      "button",
      {
        class: "send",
        testid: config.testids.send,
        attrs: { type: "submit", "aria-label": "Send message", title: "Send (Enter)" },
      },
      icon("send"),
    );
    this.list = h("ul", {
      class: "mention-suggestions",
      testid: "mention-suggestions",
      attrs: { id: listId, role: "listbox", "aria-label": "People to mention", hidden: true },
    });
    this.element = h(
      "form",
      {
        class: "composer",
        on: {
          submit: (event) => {
            event.preventDefault();
            this.submit();
          },
        },
      },
      h("label", { class: "sr-only", attrs: { for: inputId } }, config.label),
      this.list,
      this.input,
      this.send,
    );
  }

  get value(): string {
    return this.input.value;
  }

  /** Put text back (a message the server refused), only into an empty box. */
  restore(text: string): void {
    if (this.input.value !== "") return;
    this.input.value = text;
    this.autosize();
  }

  setDisabled(disabled: boolean, placeholder: string): void {
    this.input.disabled = disabled;
    this.send.disabled = disabled;
    this.input.placeholder = placeholder;
  }

  focus(): void {
    this.input.focus({ preventScroll: true });
  }

  private submit(): void {
    const text = this.input.value;
    if (text.trim() === "") return;
    if (!this.config.submit(text, named(text, this.remembered.values()))) return;
    this.input.value = "";
    this.remembered.clear();
    this.close();
    this.autosize();
  }

  private key(event: KeyboardEvent): void {
    if (event.isComposing) return;
    if (!this.list.hidden && this.options.length > 0) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const step = event.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + this.options.length) % this.options.length;
        this.render();
        return;
      }
      if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        this.choose(this.options[this.active]!);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      this.submit();
    }
  }

  /** Offer the people whose name starts with what follows the `@` before the caret. */
  private complete(): void {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const match = QUERY.exec(this.input.value.slice(0, caret));
    if (!match) return this.close();
    const query = (match[1] ?? "").toLocaleLowerCase();
    this.at = caret - query.length - 1;
    const people = this.config.candidates();
    const starts = people.filter((u) => u.name.toLocaleLowerCase().startsWith(query));
    const words = people.filter(
      (u) =>
        !starts.includes(u) &&
        u.name
          .toLocaleLowerCase()
          .split(/\s+/)
          .some((w) => w.startsWith(query)),
    );
    this.options = [...starts, ...words].slice(0, SHOWN);
    if (this.options.length === 0) return this.close();
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  private render(): void {
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.list.replaceChildren(
      ...this.options.map((user, index) => {
        const option = h(
          "li",
          {
            class: index === this.active ? "mention-option active" : "mention-option",
            testid: "mention-option",
            attrs: {
              role: "option",
              "aria-selected": String(index === this.active),
              id: `${this.list.id}-${index}`,
            },
            on: {
              // Before the box loses focus: the choice must not close the list first.
              mousedown: (event) => {
                event.preventDefault();
                this.choose(user);
              },
            },
          },
          avatar(user, "s"),
          h("span", { class: "mention-name" }, user.name),
        );
        option.dataset.userId = user.id;
        return option;
      }),
    );
    this.input.setAttribute("aria-activedescendant", `${this.list.id}-${this.active}`);
  }

  private choose(user: User): void {
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const before = value.slice(0, this.at);
    const inserted = `@${user.name} `;
    this.input.value = before + inserted + value.slice(caret);
    const position = before.length + inserted.length;
    this.input.setSelectionRange(position, position);
    this.remembered.set(user.id, user);
    this.close();
    this.autosize();
    this.input.focus();
  }

  private close(): void {
    this.list.hidden = true;
    this.options = [];
    this.active = 0;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }
}
