// Profiles (docs/protocol.md, "Profiles"): the public headlines of the people this page shows,
// fetched in batches (`profile:headlines`) and kept up to date by `profile:changed`; whole
// profiles on demand (`profile:get`); one's own (`profile:set`); and "who is here"
// (`online:list`). Members carry no profile, so a room's member list asks here. No DOM.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { Online, Profile, ProfileChange } from "./types";

interface ProfilesEvents {
  /** Headlines arrived or changed; the payload is the user ids. */
  headlines: string[];
  /** This user's own profile changed. */
  mine: Profile;
}

/** Users one `profile:headlines` asks about (the server's limit). */
const BATCH = 100;

export class Profiles extends Emitter<ProfilesEvents> {
  /** Public headlines by user id; "" for somebody who has none. */
  private readonly headlines = new Map<string, string>();
  /** Users asked about, not answered yet. */
  private readonly wanted = new Set<string>();
  private flushing = false;
  /** This user's own profile, once fetched or set. */
  mine: Profile | null = null;

  constructor(private readonly connection: Connection) {
    super();
    connection.on("profileChanged", ({ user, headline }) => this.learn({ [user]: headline }, [user]));
    // Headlines may have changed while the connection was away: ask again as they are shown.
    connection.on("session", () => this.headlines.clear());
  }

  /** The public headline of a user, "" while unknown or if they have none. */
  headline(user: string): string {
    return this.headlines.get(user) ?? "";
  }

  /** Fetch the headlines of these users that are not known yet (batched). */
  want(users: Iterable<string>): void {
    for (const user of users) if (!this.headlines.has(user)) this.wanted.add(user);
    if (this.wanted.size > 0 && !this.flushing) {
      this.flushing = true;
      queueMicrotask(() => void this.flush());
    }
  }

  async get(user: string): Promise<Profile> {
    const { profile } = await this.connection.request("profile:get", { user });
    this.learn({ [user]: profile.headline }, [user]);
    return profile;
  }

  /** This user's own profile, fetched once. */
  async own(me: string): Promise<Profile> {
    if (this.mine?.user.id !== me) this.mine = await this.get(me);
    return this.mine;
  }

  async set(change: ProfileChange): Promise<Profile> {
    const { profile } = await this.connection.request("profile:set", change);
    this.mine = profile;
    const shown = profile.public?.includes("headline") ? profile.headline : "";
    this.learn({ [profile.user.id]: shown }, [profile.user.id]);
    this.emit("mine", profile);
    return profile;
  }

  async online(): Promise<{ people: Online[]; more: boolean }> {
    const answer = await this.connection.request("online:list", {});
    this.learn(Object.fromEntries(answer.people.map((p) => [p.user.id, p.headline])), []);
    return answer;
  }

  private async flush(): Promise<void> {
    try {
      while (this.wanted.size > 0 && this.connection.connected) {
        const users = [...this.wanted].slice(0, BATCH);
        for (const user of users) this.wanted.delete(user);
        const { headlines } = await this.connection.request("profile:headlines", { users });
        this.learn(headlines, users);
      }
    } catch (error) {
      console.warn("Profiles: profile:headlines failed", error);
    } finally {
      this.flushing = false;
    }
  }

  /** Store headlines; `asked` without one in `found` have none. Tells who changed. */
  private learn(found: Record<string, string>, asked: string[]): void {
    const changed: string[] = [];
    for (const user of new Set([...asked, ...Object.keys(found)])) {
      const headline = found[user] ?? "";
      if (this.headlines.get(user) !== headline) changed.push(user);
      this.headlines.set(user, headline);
    }
    if (changed.length > 0) this.emit("headlines", changed);
  }
}
