// Contact cards on the People page (docs/protocol.md, "Contact cards"): the editor of this
// user's own card (e-mail, phone, a link, and which of them new contacts see), a contact's
// shared fields as mailto:, tel: and http(s) links only, and the toggles that choose what one
// contact sees. Nothing here parses HTML; a link that is not http(s) is shown as nothing.

import type { Client } from "../protocol/client";
import { CARD_FIELDS, type Card, type CardField, type OwnCard } from "../protocol/types";
import { h, sentence, uid } from "./elements";
import { safeLink } from "./profile";

export const LABELS: Record<CardField, string> = { email: "E-mail", phone: "Phone", link: "Link" };
const HINTS: Record<CardField, string> = {
  email: "ann@example.org",
  phone: "+44 20 7946 0958",
  link: "https://",
};
const MAX: Record<CardField, number> = { email: 254, phone: 32, link: 200 };
const EMAIL = /^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/;
const PHONE = /^\+?[0-9 ().\-/]+$/;

/** What is wrong with the card's values, as the person reads it; null when nothing. */
export function cardProblem(values: Card): string | null {
  for (const field of CARD_FIELDS) {
    if (values[field].length > MAX[field]) return `${LABELS[field]} can be at most ${MAX[field]} characters.`;
  }
  if (values.email && !EMAIL.test(values.email))
    return "The e-mail address looks wrong, e.g. ann@example.org.";
  const digits = values.phone.replace(/\D/g, "").length;
  if (values.phone && (!PHONE.test(values.phone) || digits < 3 || digits > 20)) {
    return "A phone number has digits, spaces and + ( ) - . / only.";
  }
  if (values.link && safeLink(values.link) === null) return "The link must start with https:// or http://.";
  return null;
}

/** "My contact card": fill it in, choose what new contacts see, save. */
export class CardEditor {
  readonly element: HTMLElement;
  private readonly inputs = new Map<CardField, HTMLInputElement>();
  private readonly shares = new Map<CardField, HTMLInputElement>();
  private readonly error = h("p", { class: "form-error", attrs: { role: "alert", hidden: true } });
  private readonly status = h("span", {
    class: "muted card-status",
    testid: "card-status",
    attrs: { role: "status" },
  });
  private readonly save = h(
    "button",
    { class: "button primary small", testid: "card-save", attrs: { type: "submit" } },
    "Save card",
  );
  /** Typed in and not saved: a list update must not overwrite it. */
  private dirty = false;

  constructor(private readonly client: Client) {
    const rows = CARD_FIELDS.map((field) => {
      const id = uid(`card-${field}`);
      const input = h("input", {
        testid: `card-${field}`,
        attrs: {
          id,
          type: field === "email" ? "email" : field === "phone" ? "tel" : "url",
          placeholder: HINTS[field],
          maxlength: MAX[field] * 2,
          autocomplete: field === "email" ? "email" : field === "phone" ? "tel" : "url",
        },
        on: { input: () => this.edited() },
      });
      this.inputs.set(field, input);
      return h("label", { class: "field", attrs: { for: id } }, h("span", {}, LABELS[field]), input);
    });
    const shares = CARD_FIELDS.map((field) => {
      const box = h("input", {
        testid: `card-share-${field}`,
        attrs: { type: "checkbox", checked: true },
        on: { change: () => this.edited() },
      });
      this.shares.set(field, box);
      return h("label", { class: "check" }, box, h("span", {}, LABELS[field]));
    });
    this.element = h(
      "form",
      {
        class: "card contact-card-editor",
        testid: "card-editor",
        on: { submit: (event) => void this.submit(event) },
      },
      h("h2", { class: "card-title" }, "My contact card"),
      h(
        "p",
        { class: "muted" },
        "Only people you are in touch with see it, and each only what you share with them.",
      ),
      h("div", { class: "card-fields" }, ...rows),
      h("div", { class: "card-shares" }, h("span", { class: "muted" }, "New contacts see:"), ...shares),
      this.error,
      h("div", { class: "form-actions" }, this.status, this.save),
    );
  }

  /** Show the card as stored, unless the person is in the middle of changing it. */
  render(card: OwnCard | null): void {
    if (card === null || this.dirty) return;
    for (const field of CARD_FIELDS) {
      const input = this.inputs.get(field);
      if (input) input.value = card[field];
      const box = this.shares.get(field);
      if (box) box.checked = card.share.includes(field);
    }
  }

  private edited(): void {
    this.dirty = true;
    this.status.textContent = "";
  }

  private async submit(event: Event): Promise<void> {
    event.preventDefault();
    const value = (field: CardField) => this.inputs.get(field)?.value.trim() ?? "";
    const values: Card = { email: value("email"), phone: value("phone"), link: value("link") };
    const wrong = cardProblem(values);
    this.error.hidden = wrong === null;
    this.error.textContent = wrong ?? "";
    if (wrong) return;
    this.save.disabled = true;
    try {
      this.dirty = false;
      await this.client.people.setCard({
        ...values,
        share: CARD_FIELDS.filter((field) => this.shares.get(field)?.checked),
      });
      this.status.textContent = "Saved";
    } catch (failure) {
      this.dirty = true;
      this.error.hidden = false;
      this.error.textContent =
        failure instanceof Error ? sentence(failure.message) : "The card could not be saved.";
    } finally {
      this.save.disabled = false;
    }
  }
}

/** What a contact shares: an e-mail (mailto:), a phone (tel:), a web link; null if nothing. */
export function sharedCard(card: Card | null | undefined): HTMLElement | null {
  if (!card) return null;
  const links: HTMLElement[] = [];
  if (card.email) {
    links.push(
      h(
        "a",
        {
          class: "card-link",
          testid: "contact-email",
          attrs: { href: `mailto:${encodeURIComponent(card.email).replace("%40", "@")}` },
        },
        card.email,
      ),
    );
  }
  if (card.phone) {
    links.push(
      h(
        "a",
        {
          class: "card-link",
          testid: "contact-phone",
          attrs: { href: `tel:${card.phone.replace(/[^0-9+]/g, "")}` },
        },
        card.phone,
      ),
    );
  }
  const link = card.link ? safeLink(card.link) : null;
  if (link) {
    link.dataset.testid = "contact-link";
    link.classList.add("card-link");
    links.push(link);
  }
  return links.length ? h("span", { class: "contact-card", testid: "contact-card" }, ...links) : null;
}

/** "They see: E-mail Phone Link", each a toggle of what this contact sees of one's card. */
export function sharingToggles(
  name: string,
  sharing: CardField[],
  change: (fields: CardField[]) => Promise<void>,
): HTMLElement {
  return h(
    "span",
    {
      class: "sharing",
      testid: "sharing",
      attrs: { role: "group", "aria-label": `What ${name} sees of your card` },
    },
    h("span", { class: "muted" }, "Sees your"),
    ...CARD_FIELDS.map((field) => {
      const on = sharing.includes(field);
      const toggle = h(
        "button",
        {
          class: "chip-toggle share-chip",
          testid: "share-toggle",
          attrs: {
            type: "button",
            "aria-pressed": on ? "true" : "false",
            title: on
              ? `${name} sees your ${LABELS[field].toLowerCase()}`
              : `Share your ${LABELS[field].toLowerCase()} with ${name}`,
          },
          on: {
            click: () => {
              toggle.disabled = true;
              const next = on
                ? sharing.filter((f) => f !== field)
                : CARD_FIELDS.filter((f) => f === field || sharing.includes(f));
              void change(next).finally(() => (toggle.disabled = false));
            },
          },
        },
        LABELS[field],
      );
      toggle.dataset.field = field;
      return toggle;
    }),
  );
}
