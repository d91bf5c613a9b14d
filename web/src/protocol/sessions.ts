// The user's sessions (docs/protocol.md, "Sessions"): each browser or device signed in as this
// user, listed with "this browser" first; one can be signed out, or all but this one. The
// server disconnects a signed-out session at once, wherever it is connected.

import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import type { SessionInfo } from "./types";

interface SessionsEvents {
  changed: void;
}

export class Sessions extends Emitter<SessionsEvents> {
  /** As last loaded; null before the first `load`. */
  list: SessionInfo[] | null = null;

  constructor(private readonly connection: Connection) {
    super();
  }

  async load(): Promise<SessionInfo[]> {
    const { sessions } = await this.connection.request("sessions:list", {});
    this.list = sessions;
    this.emit("changed", undefined);
    return sessions;
  }

  /** Sign out one session (this browser's too: then this page is signed out). */
  async revoke(id: string): Promise<void> {
    await this.connection.request("session:revoke", { id });
    this.list = (this.list ?? []).filter((session) => session.id !== id);
    this.emit("changed", undefined);
  }

  /** Sign out every session but this browser's; how many there were. */
  async revokeOthers(): Promise<number> {
    const { revoked } = await this.connection.request("sessions:revoke_others", {});
    this.list = (this.list ?? []).filter((session) => session.current);
    this.emit("changed", undefined);
    return revoked;
  }
}
