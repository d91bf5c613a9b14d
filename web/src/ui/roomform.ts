// The room's title and description, as its owner and moderators (a workshop's hosts) change
// them from the room's "…" menu: a dialog with both fields, the description's characters
// counted against its limit, and the server's refusal shown in it (docs/protocol.md,
// room:edit). Everybody in the room then sees the change through `room:updated`.

import type { Client } from "../protocol/client";
import type { RoomState } from "../protocol/room";
import { codePoints, limits } from "../protocol/types";
import { h, sentence, uid } from "./elements";

/** What is wrong with a title and description before sending them, or null. */
export function problem(title: string, description: string): string | null {
  if (title === "") return "Give the room a name.";
  if (codePoints(title) > limits.title) return `A room's name can be at most ${limits.title} characters.`;
  if (codePoints(description) > limits.description) {
    return `A description can be at most ${limits.description} characters.`;
  }
  return null;
}

/** Open the dialog; resolves once it is closed (saved or cancelled). */
export function editRoom(client: Client, state: RoomState): Promise<void> {
  return new Promise((resolve) => {
    const titleId = uid("room-title");
    const descriptionId = uid("room-description");
    const countId = uid("room-count");
    const title = h("input", {
      testid: "room-edit-title",
      attrs: {
        id: titleId,
        value: state.room?.title ?? "",
        required: true,
        // Code points are counted below; a UTF-16 cap here would cut emoji short.
        maxlength: limits.title * 2,
        autocomplete: "off",
      },
    });
    const description = h("textarea", {
      class: "prompt-input",
      testid: "room-edit-description",
      attrs: {
        id: descriptionId,
        rows: 5,
        maxlength: limits.description * 2,
        placeholder: "What is this room for? Who is it for?",
        "aria-describedby": countId,
      },
    });
    description.value = state.description;
    const count = h("small", {
      class: "muted char-count",
      testid: "room-edit-count",
      attrs: { id: countId, "aria-live": "polite" },
    });
    const error = h("p", {
      class: "form-error",
      testid: "room-edit-error",
      attrs: { role: "alert", hidden: true },
    });
    const save = h(
      "button",
      { class: "button primary", testid: "room-edit-save", attrs: { type: "submit" } },
      "Save",
    );
    const counted = () => {
      const used = codePoints(description.value.trim());
      count.textContent = `${used}/${limits.description}`;
      count.classList.toggle("over", used > limits.description);
      save.disabled = problem(title.value.trim(), description.value.trim()) !== null;
    };
    title.addEventListener("input", counted);
    description.addEventListener("input", counted);
    counted();
    const form = h(
      "form",
      {
        on: {
          submit: (event) => {
            event.preventDefault();
            const newTitle = title.value.trim();
            const newDescription = description.value.trim();
            const wrong = problem(newTitle, newDescription);
            error.hidden = wrong === null;
            error.textContent = wrong ?? "";
            if (wrong) return;
            if (newTitle === state.room?.title && newDescription === state.description) {
              dialog.close();
              return;
            }
            save.disabled = true;
            client.moderation
              .edit(state.id, newTitle, newDescription)
              .then(() => dialog.close())
              .catch((failure: unknown) => {
                error.textContent =
                  failure instanceof Error ? sentence(failure.message) : "That did not work.";
                error.hidden = false;
                save.disabled = false;
              });
          },
        },
      },
      h("h2", { class: "dialog-title" }, "Edit room"),
      h(
        "p",
        { class: "muted" },
        "Everybody in the room sees the change at once; the description also shows in the list of rooms.",
      ),
      h("label", { class: "field", attrs: { for: titleId } }, h("span", {}, "Name"), title),
      h(
        "label",
        { class: "field", attrs: { for: descriptionId } },
        h("span", {}, "Description"),
        description,
        count,
      ),
      error,
      h(
        "div",
        { class: "form-actions" },
        h(
          "button",
          {
            class: "button quiet",
            testid: "room-edit-cancel",
            attrs: { type: "button" },
            on: { click: () => dialog.close() },
          },
          "Cancel",
        ),
        save,
      ),
    );
    const dialog = h(
      "dialog",
      { class: "dialog room-edit-dialog", testid: "room-edit-dialog", attrs: { "aria-label": "Edit room" } },
      form,
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    title.focus();
  });
}
