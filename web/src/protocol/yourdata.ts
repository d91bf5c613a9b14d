// "Your data" (docs/protocol.md, "Your data"): the person's data as a JSON file, fetched with
// this browser's resume token, and erasing the person altogether. After an erase the server
// signs out every session of theirs, this one too: the page then starts afresh.

import type { Connection } from "./connection";
import { storage } from "./storage";

/** The export as the browser saves it. */
export interface Export {
  blob: Blob;
  filename: string;
}

export class YourData {
  constructor(private readonly connection: Connection) {}

  /** Download the export (`GET /api/me/export`); throws with the server's words on refusal. */
  async download(): Promise<Export> {
    const token = storage.token;
    if (!token) throw new Error("this browser has no session yet");
    const response = await fetch("/api/me/export", {
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (!response.ok) {
      const refusal = (await response.json().catch(() => null)) as {
        error?: { message?: string };
      } | null;
      throw new Error(refusal?.error?.message ?? `the download failed (${response.status})`);
    }
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "percolate-export.json";
    return { blob: await response.blob(), filename };
  }

  /** Erase this person, `confirm` being their name as typed; this page is signed out next. */
  async erase(confirm: string): Promise<void> {
    await this.connection.request("account:erase", { confirm });
  }
}
