// What one does with a room's messages, shared by the room's chat and its thread panel:
// reply (open the thread), react, edit in place, delete (after a question), pin, report (with
// a reason); which messages are hidden (from people this user blocks, unless shown once); and
// who the room's messages can name: the people to offer after `@`, and the names of those
// mentioned.

import type { Client } from "../protocol/client";
import { named } from "../protocol/mentions";
import type { RoomState } from "../protocol/room";
import type { Emoji, Message, User } from "../protocol/types";
import { REASON_MAX } from "../protocol/moderation";
import { ask, askText } from "./dialog";
import { h, sentence } from "./elements";
import type { MessageActions, MessageView } from "./message";
import type { Notify } from "./moderation";
import { mayReadVersions, showVersions } from "./versions";

export class Conversation {
  /** Messages being edited: their elements are not rebuilt meanwhile. */
  readonly editing = new Set<string>();
  /** Open a thread's panel (set by the room's view). */
  openThread: (seq: number) => void = () => undefined;
  /** An edit ended: the chat shows the message as it is now. */
  edited: () => void = () => undefined;
  /** A hidden message is to be shown: the chat draws its messages anew. */
  revealed: () => void = () => undefined;
  /** Messages of blocked people the person chose to see (by id). */
  private readonly shown = new Set<string>();
  readonly actions: MessageActions;

  constructor(
    private readonly client: Client,
    private readonly state: RoomState,
    private readonly notify: Notify,
  ) {
    this.actions = {
      get moderates() {
        return state.moderating;
      },
      thread: (seq) => this.openThread(seq),
      react: (message, emoji, on) => this.react(message, emoji, on),
      edit: (element, message) => this.edit(element, message),
      remove: (message) => void this.remove(message),
      // Offered where the room has pins; the list shows it to those who pin (`can-pin`).
      pin: state.kind === "table" ? undefined : (message) => this.pin(message),
      report: (message) => void this.report(message),
      versions: {
        may: (message) => mayReadVersions(state, message, this.client.me?.id ?? null),
        show: (message, marker) => showVersions(client, state, message, marker),
      },
    };
  }

  /** How messages of this room are shown to this user. */
  view(inThread = false): MessageView {
    return {
      me: this.client.me?.id ?? null,
      nameOf: this.nameOf,
      actions: this.actions,
      inThread,
      hidden: (message) => this.client.blocks.has(message.user.id) && !this.shown.has(message.id),
      reveal: (message) => {
        this.shown.add(message.id);
        this.revealed();
      },
    };
  }

  /** The people to offer after `@`: those here, the other one of a DM; not oneself. */
  readonly candidates = (): User[] => {
    const me = this.client.me?.id;
    const people = new Map<string, User>();
    for (const member of this.state.members.values()) people.set(member.id, member);
    if (this.state.dmUser) people.set(this.state.dmUser.id, this.state.dmUser);
    if (me) people.delete(me);
    return [...people.values()].sort((a, b) => a.name.localeCompare(b.name));
  };

  /** A user's name as this page knows it: here now, oneself, or the author of a message held. */
  readonly nameOf = (id: string): string | null => {
    if (id === this.client.me?.id) return this.client.me.name;
    const member = this.state.members.get(id) ?? (this.state.dmUser?.id === id ? this.state.dmUser : null);
    if (member) return member.name;
    const messages = this.state.timeline.messages;
    for (let i = messages.length - 1; i >= 0; i--) {
      if (messages[i]!.user.id === id) return messages[i]!.user.name;
    }
    return null;
  };

  private run(action: () => Promise<void>): Promise<void> {
    return action().catch((error: unknown) => {
      this.notify(error instanceof Error ? sentence(error.message) : "That did not work.", "error");
    });
  }

  private react(message: Message, emoji: Emoji, on: boolean): void {
    void this.run(() => this.client.chat.react(this.state, message.seq, emoji, on));
  }

  private edit(element: HTMLLIElement, message: Message): void {
    this.editing.add(message.id);
    editInPlace(
      element,
      message,
      (text) => {
        // The people it named and who is here now: whoever's `@Name` the new text holds.
        const known = new Map<string, User>();
        for (const id of message.mentions) {
          const name = this.nameOf(id);
          if (name) known.set(id, { id, name });
        }
        for (const user of this.candidates()) known.set(user.id, user);
        return this.client.chat.edit(this.state, message.seq, text, named(text, known.values()));
      },
      () => {
        this.editing.delete(message.id);
        this.edited();
      },
    );
  }

  private pin(message: Message): void {
    const on = message.pinned_at === null;
    void this.run(async () => {
      await this.client.chat.pin(this.state, message.seq, on);
      this.notify(on ? "Pinned for everyone here" : "Unpinned");
    });
  }

  private async report(message: Message): Promise<void> {
    const reason = await askText({
      title: "Report this message?",
      text: `The people who look after this room will see ${message.user.name}'s message, and that you reported it.`,
      label: "Why are you reporting it?",
      confirm: "Report",
      max: REASON_MAX,
    });
    if (reason === null) return;
    await this.run(async () => {
      await this.client.moderation.report(this.state.id, message.seq, reason);
      this.notify("Reported to the moderators");
    });
  }

  private async remove(message: Message): Promise<void> {
    const mine = message.user.id === this.client.me?.id;
    const yes = await ask({
      title: "Delete message?",
      text: mine
        ? "Everybody here will see that a message was deleted, not what it said."
        : `${message.user.name}'s message goes for everybody here. They will see it was deleted.`,
      confirm: "Delete",
      danger: true,
    });
    if (yes) await this.run(() => this.client.chat.remove(this.state, message.seq));
  }
}

/**
 * Edit a message in place: its text becomes a box; Enter saves (`save` resolves once stored,
 * or throws with the reason), Escape cancels. `done` runs once either way.
 */
function editInPlace(
  element: HTMLLIElement,
  message: Message,
  save: (text: string) => Promise<void>,
  done: () => void,
): void {
  const line = element.querySelector<HTMLElement>(".line");
  if (!line || element.classList.contains("editing")) return;
  element.classList.add("editing");
  const box = h("textarea", {
    class: "edit-input",
    testid: "edit-input",
    attrs: { rows: 1, "aria-label": "Edit message" },
  });
  box.value = message.text;
  const problem = h("p", { class: "chat-error", attrs: { role: "alert", hidden: true } });
  const finish = () => {
    editor.replaceWith(line);
    element.classList.remove("editing");
    done();
  };
  const submit = async () => {
    const text = box.value;
    if (text.trim() === "" || text === message.text) return finish();
    box.disabled = true;
    try {
      await save(text);
      finish();
    } catch (error) {
      box.disabled = false;
      problem.hidden = false;
      problem.textContent = error instanceof Error ? error.message : String(error);
      box.focus();
    }
  };
  const editor = h(
    "div",
    { class: "editor" },
    box,
    h("p", { class: "edit-hint" }, "Enter to save · Escape to cancel"),
    problem,
  );
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      void submit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      finish();
    }
  });
  const fit = () => {
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 240)}px`;
  };
  box.addEventListener("input", fit);
  line.replaceWith(editor);
  fit();
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
}
