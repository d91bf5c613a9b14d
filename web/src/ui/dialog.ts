// A modal question before an action that cannot be taken back (removing somebody, handing the
// host role on, ending a workshop), and one asking for a short text (why a message is
// reported): the browser's <dialog>, so focus, Escape and the backdrop work as people expect.

import { h } from "./elements";

export interface Question {
  title: string;
  text: string;
  /** The confirming button's caption, e.g. "End workshop". */
  confirm: string;
  danger?: boolean;
}

/** Ask; true when the person confirmed. */
export function ask(question: Question): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const close = (yes: boolean) => {
      answer = yes;
      dialog.close();
    };
    const ok = h(
      "button",
      {
        class: question.danger ? "button danger" : "button primary",
        testid: "confirm-ok",
        attrs: { type: "button" },
        on: { click: () => close(true) },
      },
      question.confirm,
    );
    const dialog = h(
      "dialog",
      { class: "dialog", testid: "confirm-dialog", attrs: { "aria-label": question.title } },
      h("h2", { class: "dialog-title" }, question.title),
      h("p", { class: "muted" }, question.text),
      h(
        "div",
        { class: "form-actions" },
        h(
          "button",
          {
            class: "button quiet",
            testid: "confirm-cancel",
            attrs: { type: "button" },
            on: { click: () => close(false) },
          },
          "Cancel",
        ),
        ok,
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    ok.focus();
  });
}

export interface TextQuestion {
  title: string;
  text: string;
  /** The box's label, e.g. "Why are you reporting it?". */
  label: string;
  confirm: string;
  /** Most characters the answer may hold. */
  max: number;
}

/** Ask for a short text (why a message is reported); null when the person cancelled. */
export function askText(question: TextQuestion): Promise<string | null> {
  return new Promise((resolve) => {
    let answer: string | null = null;
    const box = h("textarea", {
      class: "prompt-input",
      testid: "prompt-input",
      attrs: { rows: 3, maxlength: question.max, required: true, "aria-label": question.label },
    });
    const ok = h(
      "button",
      { class: "button primary", testid: "prompt-ok", attrs: { type: "submit", disabled: true } },
      question.confirm,
    );
    box.addEventListener("input", () => (ok.disabled = box.value.trim() === ""));
    const form = h(
      "form",
      {
        on: {
          submit: (event) => {
            event.preventDefault();
            if (box.value.trim() === "") return;
            answer = box.value.trim();
            dialog.close();
          },
        },
      },
      h("h2", { class: "dialog-title" }, question.title),
      h("p", { class: "muted" }, question.text),
      h("label", { class: "prompt-label" }, question.label, box),
      h(
        "div",
        { class: "form-actions" },
        h(
          "button",
          {
            class: "button quiet",
            testid: "prompt-cancel",
            attrs: { type: "button" },
            on: { click: () => dialog.close() },
          },
          "Cancel",
        ),
        ok,
      ),
    );
    const dialog = h(
      "dialog",
      { class: "dialog", testid: "prompt-dialog", attrs: { "aria-label": question.title } },
      form,
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    box.focus();
  });
}
