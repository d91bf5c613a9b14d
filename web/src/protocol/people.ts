// The people one stays in touch with (docs/protocol.md, "people:stay"): asked of anybody (at a
// table, from a profile card), told when asked, in touch when both asked. A decline is never
// told to the asker, so `asking` holds both the unanswered and the declined. Contacts carry the
// contact card they share with this user, and which fields of this user's own card they see
// ("Contact cards"); the people met and not in touch are listed too.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { CardField, Encounter, Met, OwnCard } from "./types";

interface PeopleEvents {
  /** A list changed (`people:list`, `people:met`, `people:asked`, `people:removed`). */
  changed: void;
  /** Somebody asked to stay in touch, live. */
  asked: Met;
}

export class People extends Emitter<PeopleEvents> {
  /** In touch: both asked; the latest first. Null until loaded. */
  met: Met[] | null = null;
  /** Who asked this user and is not answered yet. */
  asked: Met[] = [];
  /** Whom this user asked who has not asked back. */
  asking: Met[] = [];
  /** Met (at a table, cameras on in a coffee room, a DM) and not in touch; the latest first. */
  encounters: Encounter[] = [];
  /** This user's own contact card; null until loaded. */
  card: OwnCard | null = null;

  constructor(private readonly connection: Connection) {
    super();
    connection.on("met", ({ person }) => {
      const other = person.user.id;
      this.met = [person, ...(this.met ?? []).filter((m) => m.user.id !== other)];
      this.asked = this.asked.filter((m) => m.user.id !== other);
      this.asking = this.asking.filter((m) => m.user.id !== other);
      this.encounters = this.encounters.filter((e) => e.user.id !== other);
      this.emit("changed", undefined);
    });
    connection.on("peopleAsked", ({ person }) => {
      this.asked = [person, ...this.asked.filter((m) => m.user.id !== person.user.id)];
      this.emit("changed", undefined);
      this.emit("asked", person);
    });
    connection.on("peopleRemoved", ({ user }) => {
      this.met = this.met?.filter((m) => m.user.id !== user) ?? null;
      this.asked = this.asked.filter((m) => m.user.id !== user);
      this.asking = this.asking.filter((m) => m.user.id !== user);
      this.emit("changed", undefined);
    });
    connection.on("cardChanged", ({ user, card }) => {
      this.met = this.met?.map((m) => (m.user.id === user ? { ...m, card } : m)) ?? null;
      this.emit("changed", undefined);
    });
  }

  /** Where this user stands with somebody. */
  standing(user: string): "met" | "asking" | "asked" | null {
    if (this.met?.some((m) => m.user.id === user)) return "met";
    if (this.asking.some((m) => m.user.id === user)) return "asking";
    if (this.asked.some((m) => m.user.id === user)) return "asked";
    return null;
  }

  async load(): Promise<void> {
    const [listed, own] = await Promise.all([
      this.connection.request("people:list", {}),
      this.connection.request("card:get", {}),
    ]);
    this.met = listed.people;
    this.asked = listed.asked;
    this.asking = listed.asking;
    this.encounters = listed.encounters;
    this.card = own.card;
    this.emit("changed", undefined);
  }

  /** Change this user's own card: the fields given, and what new contacts see. */
  async setCard(fields: Partial<OwnCard>): Promise<void> {
    this.card = (await this.connection.request("card:set", fields)).card;
    this.emit("changed", undefined);
  }

  /** Which fields of this user's card one contact sees. */
  async share(user: string, fields: CardField[]): Promise<void> {
    const shared = await this.connection.request("card:share", { user, fields });
    this.met = this.met?.map((m) => (m.user.id === user ? { ...m, sharing: shared.fields } : m)) ?? null;
    this.emit("changed", undefined);
  }

  /** "I'd like to stay in touch" (or yes to somebody who asked): from `room` if given. */
  async stay(user: string, name: string, room?: string): Promise<void> {
    await this.connection.request("people:stay", room ? { user, room } : { user });
    if (this.standing(user) === null) {
      this.asking = [{ user: { id: user, name }, room: null, at: Date.now() }, ...this.asking];
      this.emit("changed", undefined);
    }
  }

  /** No to somebody who asked: they are not told. */
  async decline(user: string): Promise<void> {
    await this.connection.request("people:decline", { user });
    this.asked = this.asked.filter((m) => m.user.id !== user);
    this.emit("changed", undefined);
  }

  /** No longer in touch, or a request withdrawn: `people:removed` follows. */
  async remove(user: string): Promise<void> {
    await this.connection.request("people:remove", { user });
  }
}
