// A modal question before an action that cannot be taken back (removing somebody, handing the
// host role on, ending a workshop): the browser's <dialog>, so focus, Escape and the backdrop
// work as people expect.

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
