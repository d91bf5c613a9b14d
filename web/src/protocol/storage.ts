// What the client keeps in localStorage: the display name, the resume token, the host keys of
// the workshops this browser created, the chosen devices, and each user's outbox (what they
// typed that the server has not acknowledged, per user id, so that two identities in one
// browser never send each other's) with the id of the user last connected as; and in
// sessionStorage (this tab only) the rooms it has open and the passcodes they were opened
// with, so a reload opens them again (a page going away leaves its rooms: coming back is a
// fresh join, passcode and all). Storage can be unavailable (private windows, disabled
// cookies): then everything lasts only as long as the page.

const PREFIX = "percolate.";

const memory = new Map<string, string>();

function read(key: string): string | null {
  try {
    return localStorage.getItem(PREFIX + key);
  } catch {
    return memory.get(key) ?? null;
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, value);
  } catch {
    if (value === null) memory.delete(key);
    else memory.set(key, value);
  }
}

function readJson<T>(key: string, fallback: T): T {
  const text = read(key);
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function tabRooms(): string[] {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(PREFIX + "rooms") ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === "string") : [];
  } catch {
    return [];
  }
}

function setTabRooms(rooms: string[]): void {
  try {
    sessionStorage.setItem(PREFIX + "rooms", JSON.stringify(rooms));
  } catch {
    // Not kept: a reload starts with no rooms open.
  }
}

function tabPasscodes(): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(PREFIX + "passcodes") ?? "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(
      Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
    );
  } catch {
    return {};
  }
}

function setTabPasscode(room: string, passcode: string | null): void {
  const passcodes = tabPasscodes();
  if (passcode === null) delete passcodes[room];
  else passcodes[room] = passcode;
  try {
    sessionStorage.setItem(PREFIX + "passcodes", JSON.stringify(passcodes));
  } catch {
    // Not kept: a reload asks for the passcode again.
  }
}

export const storage = {
  get name(): string | null {
    return read("name");
  },
  set name(value: string | null) {
    write("name", value);
  },

  /** The resume token: whoever holds it is this user (never log it). */
  get token(): string | null {
    return read("token");
  },
  set token(value: string | null) {
    write("token", value);
  },

  hostKey(room: string): string | null {
    return readJson<Record<string, string>>("hostKeys", {})[room] ?? null;
  },
  /** Keep a host key, or forget it (`null`: handed on, or refused as stale). */
  setHostKey(room: string, key: string | null): void {
    const keys = readJson<Record<string, string>>("hostKeys", {});
    if (key === null) delete keys[room];
    else keys[room] = key;
    write("hostKeys", JSON.stringify(keys));
  },

  /** The rooms open in this tab, in the order they were opened. */
  get openRooms(): string[] {
    return tabRooms();
  },
  /** The passcode a room open in this tab was joined with, if it needed one. */
  passcode(room: string): string | null {
    return tabPasscodes()[room] ?? null;
  },
  roomOpened(room: string, passcode: string | null = null): void {
    const rooms = tabRooms();
    if (!rooms.includes(room)) setTabRooms([...rooms, room]);
    if (passcode !== null || room in tabPasscodes()) setTabPasscode(room, passcode);
  },
  roomClosed(room: string): void {
    setTabRooms(tabRooms().filter((id) => id !== room));
    if (room in tabPasscodes()) setTabPasscode(room, null);
  },

  /** The id of the user this browser last connected as: whose outbox a page restores at start. */
  get user(): string | null {
    return read("user");
  },
  set user(value: string | null) {
    write("user", value);
  },

  /** A user's outbox as stored (JSON, checked by the outbox); `[]` when there is none. */
  outbox(user: string): unknown {
    return readJson<unknown>(`outbox.${user}`, []);
  },
  /** Store a user's outbox (JSON text), or forget it (`null`: nothing left to send). */
  setOutbox(user: string, json: string | null): void {
    write(`outbox.${user}`, json);
  },

  device(kind: "camera" | "mic"): string | null {
    return read(`device.${kind}`);
  },
  setDevice(kind: "camera" | "mic", id: string | null): void {
    write(`device.${kind}`, id);
  },
};
