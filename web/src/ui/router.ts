// Four kinds of address: `/` (the lobby), `/r/<room id>` (a room, also a shareable link),
// `/#people` (the people one met) and `/#mentions` (messages that named this user), the last
// two on the server's `/`, so a reload finds them too. Moving
// between them uses history.pushState, so Back and Forward work without reloads.

export type Route =
  { view: "lobby" } | { view: "room"; room: string } | { view: "people" } | { view: "mentions" };

const ROOM_PATH = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/;
export const PEOPLE_PATH = "/#people";
export const MENTIONS_PATH = "/#mentions";

/** The route of a path, with its `#fragment` if any. */
export function parse(path: string): Route {
  const [pathname = "", fragment = ""] = path.split("#", 2);
  const match = ROOM_PATH.exec(pathname);
  if (match?.[1]) return { view: "room", room: match[1] };
  if (fragment === "people") return { view: "people" };
  return fragment === "mentions" ? { view: "mentions" } : { view: "lobby" };
}

function current(): string {
  return location.pathname + location.hash;
}

export function roomPath(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

export class Router {
  route: Route = parse(current());

  constructor(private readonly changed: (route: Route) => void) {
    window.addEventListener("popstate", () => {
      this.route = parse(current());
      this.changed(this.route);
    });
  }

  go(path: string, replace = false): void {
    if (path !== current()) {
      if (replace) history.replaceState(null, "", path);
      else history.pushState(null, "", path);
    }
    this.route = parse(path);
    this.changed(this.route);
  }

  /** A link that routes in the page on a plain click (and opens normally with modifiers). */
  link(anchor: HTMLAnchorElement): HTMLAnchorElement {
    anchor.addEventListener("click", (event) => {
      if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      this.go(anchor.pathname + anchor.hash);
    });
    return anchor;
  }
}
