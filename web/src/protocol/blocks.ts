// The people this user blocks (docs/protocol.md, "user:block, blocks:list"): fetched on every
// connection, changed with `user:block`. The server keeps their direct messages and mentions
// away; their messages in rooms still arrive, and the UI hides them. No DOM.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { User } from "./types";

interface BlocksEvents {
  /** The list changed. */
  changed: void;
}

export class Blocks extends Emitter<BlocksEvents> {
  /** By user id, most recent first. */
  private users = new Map<string, User>();

  constructor(private readonly connection: Connection) {
    super();
    connection.on("session", () => void this.load());
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  get list(): User[] {
    return [...this.users.values()];
  }

  /** Block (`on`) or unblock somebody; the list as the server now holds it. */
  async set(user: string, on: boolean): Promise<void> {
    const { blocked } = await this.connection.request("user:block", { user, on });
    this.replace(blocked);
  }

  private async load(): Promise<void> {
    try {
      const { blocked } = await this.connection.request("blocks:list", {});
      this.replace(blocked);
    } catch (error) {
      console.warn("Blocks: blocks:list failed", error);
    }
  }

  private replace(blocked: User[]): void {
    this.users = new Map(blocked.map((user) => [user.id, user]));
    this.emit("changed", undefined);
  }
}
