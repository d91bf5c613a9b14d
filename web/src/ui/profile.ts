// Profiles on the page (docs/protocol.md, "Profiles"): the editor of one's own profile, and the
// card that shows somebody's when a name is hovered, focused or tapped. A link is only ever an
// http(s) address, opened with rel="noopener noreferrer"; everything else is text.

import type { Client } from "../protocol/client";
import { codePoints, limits, type Profile, type ProfileField } from "../protocol/types";
import { avatar, h, replace, sentence, uid } from "./elements";

/** A link to an http(s) address, or null for anything else (`javascript:`, `data:`...). */
export function safeLink(address: string): HTMLAnchorElement | null {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  return h(
    "a",
    {
      class: "profile-link",
      testid: "profile-link",
      attrs: { href: url.href, target: "_blank", rel: "noopener noreferrer" },
    },
    url.host + (url.pathname === "/" ? "" : url.pathname),
  );
}

const FIELDS: { field: ProfileField; label: string; hint: string; max: number }[] = [
  {
    field: "headline",
    label: "What you do",
    hint: "One line, shown beside your name.",
    max: limits.headline,
  },
  { field: "organisation", label: "Organisation", hint: "", max: limits.organisation },
  { field: "link", label: "Website", hint: "An https:// address.", max: limits.link },
  { field: "about", label: "About you", hint: "A few lines.", max: limits.about },
];

/** What is wrong with the form's values, in the words the person reads; null when nothing. */
function problem(values: Record<ProfileField, string>): string | null {
  for (const { field, label, max } of FIELDS) {
    if (codePoints(values[field].trim()) > max) return `${label} can be at most ${max} characters.`;
  }
  const link = values.link.trim();
  if (link !== "" && safeLink(link) === null) return "The website must start with https:// or http://.";
  return null;
}

/** The editor of this user's profile, in a dialog; resolves when it closes. */
export async function editProfile(client: Client): Promise<void> {
  const me = client.me;
  if (!me) return;
  const profile = await client.profiles.own(me.id);
  const inputs = new Map<ProfileField, HTMLInputElement | HTMLTextAreaElement>();
  const publics = new Map<ProfileField, HTMLInputElement>();
  const rows = FIELDS.map(({ field, label, hint, max }) => {
    const id = uid(`profile-${field}`);
    const attrs = { id, maxlength: max * 2, autocomplete: "off" };
    const input =
      field === "about"
        ? h("textarea", { testid: `profile-${field}`, attrs: { ...attrs, rows: 3 } })
        : h("input", {
            testid: `profile-${field}`,
            attrs: { ...attrs, type: field === "link" ? "url" : "text" },
          });
    input.value = profile[field];
    inputs.set(field, input);
    const shown = h("input", {
      testid: `profile-${field}-public`,
      attrs: { type: "checkbox", checked: profile.public?.includes(field) ?? true },
    });
    publics.set(field, shown);
    return h(
      "div",
      { class: "profile-row" },
      h(
        "label",
        { class: "field", attrs: { for: id } },
        h("span", {}, label),
        input,
        hint ? h("small", { class: "muted" }, hint) : null,
      ),
      h("label", { class: "check public-check" }, shown, h("span", {}, "Public")),
    );
  });
  const invisible = h("input", {
    testid: "profile-invisible",
    attrs: { type: "checkbox", checked: profile.invisible === true },
  });
  const error = h("p", { class: "form-error", attrs: { role: "alert", hidden: true } });
  const save = h(
    "button",
    { class: "button primary", testid: "profile-save", attrs: { type: "submit" } },
    "Save",
  );
  const dialog = h("dialog", {
    class: "dialog profile-dialog",
    testid: "profile-dialog",
    attrs: { "aria-label": "Your profile" },
  });
  const submit = async (event: Event) => {
    event.preventDefault();
    const values = Object.fromEntries(
      FIELDS.map(({ field }) => [field, inputs.get(field)?.value ?? ""]),
    ) as Record<ProfileField, string>;
    const wrong = problem(values);
    error.hidden = wrong === null;
    error.textContent = wrong ?? "";
    if (wrong) return;
    save.disabled = true;
    try {
      await client.profiles.set({
        ...values,
        public: FIELDS.map(({ field }) => field).filter((field) => publics.get(field)?.checked),
        invisible: invisible.checked,
      });
      dialog.close();
    } catch (failure) {
      error.hidden = false;
      error.textContent =
        failure instanceof Error ? sentence(failure.message) : "The profile could not be saved.";
    } finally {
      save.disabled = false;
    }
  };
  dialog.append(
    h(
      "form",
      { on: { submit: (event) => void submit(event) } },
      h("h2", { class: "dialog-title" }, "Your profile"),
      h(
        "p",
        { class: "muted" },
        "Say what you do, so people know who to talk to. Untick what only you should see.",
      ),
      ...rows,
      h(
        "label",
        { class: "check" },
        invisible,
        h(
          "span",
          {},
          h("strong", {}, "Invisible"),
          h("small", { class: "muted" }, "Leave me out of “Who is here”. Rooms I join still list me."),
        ),
      ),
      error,
      h(
        "div",
        { class: "form-actions" },
        h(
          "button",
          { class: "button quiet", attrs: { type: "button" }, on: { click: () => dialog.close() } },
          "Cancel",
        ),
        save,
      ),
    ),
  );
  await new Promise<void>((resolve) => {
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve();
    });
    document.body.append(dialog);
    dialog.showModal();
    inputs.get("headline")?.focus();
  });
}

const HOVER_MS = 250;

/**
 * The card of whoever an element with `data-profile-user` names (a message's author, a
 * member): shown on hover or keyboard focus after a moment, and on a tap of a message's
 * author; fetched fresh with `profile:get` each time it opens.
 */
export class ProfileCards {
  private readonly card = h("div", {
    class: "profile-card",
    testid: "profile-card",
    attrs: { role: "dialog", "aria-label": "Profile", hidden: true },
  });
  private timer: ReturnType<typeof setTimeout> | undefined;
  private target: HTMLElement | null = null;
  private room: string | undefined;

  constructor(
    private readonly client: Client,
    private readonly openDm: (user: string) => void,
  ) {
    document.body.append(this.card);
    document.addEventListener("pointerover", (event) =>
      this.over(event.target, event.pointerType === "mouse"),
    );
    // Keyboard focus only: a click focuses a member's button too, and opens a message there.
    document.addEventListener("focusin", (event) =>
      this.over(event.target, event.target instanceof Element && event.target.matches(":focus-visible")),
    );
    document.addEventListener("pointerout", (event) => this.out(event.relatedTarget));
    document.addEventListener("click", (event) => {
      const named = namedBy(event.target);
      if (named?.classList.contains("author")) void this.show(named);
      else if (!this.card.contains(event.target as Node)) this.hide();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.hide();
    });
  }

  private over(target: EventTarget | null, hover: boolean): void {
    if (this.card.contains(target as Node)) {
      clearTimeout(this.timer);
      return;
    }
    const named = namedBy(target);
    if (!named || !hover || named === this.target) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.show(named), HOVER_MS);
  }

  private out(to: EventTarget | null): void {
    if (this.card.contains(to as Node) || (this.target && this.target.contains(to as Node))) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), HOVER_MS * 2);
  }

  hide(): void {
    clearTimeout(this.timer);
    this.target = null;
    this.card.hidden = true;
  }

  private async show(named: HTMLElement): Promise<void> {
    const user = named.dataset.profileUser;
    if (!user) return;
    this.target = named;
    // The room the card was opened in: where "Stay in touch" is asked from.
    this.room = named.closest<HTMLElement>("[data-room-id][data-kind]")?.dataset.roomId;
    let profile: Profile;
    try {
      profile = await this.client.profiles.get(user);
    } catch (error) {
      console.warn("ProfileCards: profile:get failed", error);
      return;
    }
    if (this.target !== named) return; // the pointer moved on meanwhile
    this.render(profile);
    const box = named.getBoundingClientRect();
    this.card.hidden = false;
    const width = this.card.offsetWidth;
    this.card.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8))}px`;
    const below = box.bottom + 6;
    const height = this.card.offsetHeight;
    this.card.style.top = `${below + height < window.innerHeight ? below : Math.max(8, box.top - height - 6)}px`;
  }

  private render(profile: Profile): void {
    const me = this.client.me?.id;
    const link = profile.link ? safeLink(profile.link) : null;
    const empty = !profile.headline && !profile.organisation && !link && !profile.about;
    this.card.dataset.userId = profile.user.id;
    replace(
      this.card,
      h(
        "div",
        { class: "profile-head" },
        avatar(profile.user, "m"),
        h(
          "div",
          {},
          h("strong", { testid: "profile-card-name" }, profile.user.name),
          profile.headline
            ? h("p", { class: "headline", testid: "profile-card-headline" }, profile.headline)
            : null,
        ),
      ),
      profile.organisation ? h("p", { class: "muted" }, profile.organisation) : null,
      link,
      profile.about ? h("p", { class: "profile-about" }, profile.about) : null,
      empty ? h("p", { class: "muted" }, "No profile yet.") : null,
      profile.user.id === me
        ? null
        : h(
            "button",
            {
              class: "button small",
              testid: "profile-card-message",
              attrs: { type: "button" },
              on: {
                click: () => {
                  this.hide();
                  this.openDm(profile.user.id);
                },
              },
            },
            "Message",
          ),
      profile.user.id === me ? null : this.stayButton(profile),
    );
  }

  /** "Stay in touch" with the card's person, or where one stands with them already. */
  private stayButton(profile: Profile): HTMLElement {
    const people = this.client.people;
    const standing = people.standing(profile.user.id);
    const label = { met: "In touch", asking: "Asked", asked: "Say yes", none: "Stay in touch" }[
      standing ?? "none"
    ];
    const button = h(
      "button",
      {
        class: standing === "met" || standing === "asking" ? "button small" : "button small primary",
        testid: "profile-card-stay",
        attrs: {
          type: "button",
          disabled: standing === "met" || standing === "asking",
          title: standing === "asked" ? `${profile.user.name} asked to stay in touch` : null,
        },
        on: {
          click: () =>
            void people.stay(profile.user.id, profile.user.name, this.room).then(
              () => this.render(profile),
              () => undefined,
            ),
        },
      },
      label,
    );
    return button;
  }
}

function namedBy(target: EventTarget | null): HTMLElement | null {
  return target instanceof Element ? target.closest<HTMLElement>("[data-profile-user]") : null;
}
