// "Your data": download everything Percolate keeps of you as a JSON file, or erase yourself
// (docs/security.md, "Your data"). A dialog opened from "who you are" in the sidebar, beside
// Sessions. Erasing asks for your name, typed; the server then signs this browser out, and
// the page asks for a name again as for any signed-out browser.

import type { Client } from "../protocol/client";
import { h, sentence, uid } from "./elements";

/** Open the "Your data" dialog; it closes on Escape or "Close". */
export function showYourData(client: Client): void {
  const name = client.me?.name ?? "";
  const status = h("p", { class: "muted", testid: "yourdata-status", attrs: { role: "status" } });
  const act = async (work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      status.textContent = error instanceof Error ? sentence(error.message) : "That did not work.";
    }
  };
  const download = h(
    "button",
    {
      class: "button primary",
      testid: "yourdata-download",
      attrs: { type: "button" },
      on: {
        click: () =>
          void act(async () => {
            download.disabled = true;
            status.textContent = "Preparing your file…";
            try {
              save(await client.yourData.download());
              status.textContent = "Downloaded.";
            } finally {
              download.disabled = false;
            }
          }),
      },
    },
    "Download my data",
  );
  const confirmId = uid("erase-confirm");
  const confirm = h("input", {
    testid: "yourdata-erase-confirm",
    attrs: { id: confirmId, type: "text", autocomplete: "off", spellcheck: "false" },
  });
  const erase = h(
    "button",
    {
      class: "button danger",
      testid: "yourdata-erase",
      attrs: { type: "submit", disabled: true },
    },
    "Erase me",
  );
  confirm.addEventListener("input", () => {
    erase.disabled = confirm.value.trim() !== name;
  });
  const form = h(
    "form",
    { class: "erase-form" },
    h("h3", { class: "dialog-subtitle" }, "Erase me"),
    h(
      "p",
      { class: "muted" },
      "Your profile, contacts, sessions and the people you met are deleted, and every " +
        "browser of yours is signed out. Your messages are deleted or kept without your " +
        "name, as this server is set up to do. This cannot be undone.",
    ),
    h(
      "label",
      { class: "field", attrs: { for: confirmId } },
      h("span", {}, `Type your name, ${name}, to confirm`),
      confirm,
    ),
    h("div", { class: "form-actions" }, erase),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void act(async () => {
      erase.disabled = true;
      await client.yourData.erase(confirm.value.trim());
      status.textContent = "Erased. Signing out…";
    });
  });
  const dialog = h(
    "dialog",
    { class: "dialog yourdata-dialog", testid: "yourdata-dialog", attrs: { "aria-label": "Your data" } },
    h("h2", { class: "dialog-title" }, "Your data"),
    h(
      "p",
      { class: "muted" },
      "A file of your profile, your messages and conversations, contacts, the people you " +
        "met and your sessions.",
    ),
    h("div", { class: "form-actions" }, download),
    form,
    status,
    h(
      "div",
      { class: "form-actions" },
      h(
        "button",
        {
          class: "button quiet",
          testid: "yourdata-close",
          attrs: { type: "button" },
          on: { click: () => dialog.close() },
        },
        "Close",
      ),
    ),
  );
  // Signed out after an erase (or elsewhere): the page starts afresh, without this dialog.
  const off = client.connection.on("refused", () => dialog.close());
  dialog.addEventListener("close", () => {
    off();
    dialog.remove();
  });
  document.body.append(dialog);
  dialog.showModal();
}

/** Hand the file to the browser as a download. */
function save({ blob, filename }: { blob: Blob; filename: string }): void {
  const url = URL.createObjectURL(blob);
  const link = h("a", { attrs: { href: url, download: filename, hidden: true } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
