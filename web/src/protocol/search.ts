// Search across rooms (docs/protocol.md, "search") and opening a result where it was said
// (`chat:history` around it). No DOM: the UI is ui/search.ts.

import type { Connection } from "./connection";
import { completeMessage, type Found, type Message } from "./types";

/** The operators a query may hold, as the hint shows them. */
export const operators = [
  ["from:Ann", "sent by Ann (a name or user id)"],
  ["in:Garden", "in a room (its title or id)"],
  ["before:2026-12-07", "before that day (also after:, on:)"],
  ["has:link", "holding a link"],
  ["is:pinned", "pinned"],
] as const;

/** Every room this user may read: the matches grouped by room, the best group first. */
export async function searchEverywhere(connection: Connection, query: string, limit = 50): Promise<Found[]> {
  const { results } = await connection.request("search", { query, limit });
  return results.map((found) => ({ ...found, messages: found.messages.map(completeMessage) }));
}

/** The messages around `seq` in `room` (which this connection has joined), oldest first. */
export async function around(
  connection: Connection,
  room: string,
  seq: number,
  limit = 20,
): Promise<Message[]> {
  const { messages } = await connection.request("chat:history", { room, around: seq, limit });
  return messages.map(completeMessage);
}
