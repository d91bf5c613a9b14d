// Two kinds of address: `/` (the lobby) and `/r/<room id>` (a room, also a shareable link).
// Moving between them uses history.pushState, so Back and Forward work without reloads.

export type Route = { view: "lobby" } | { view: "room"; room: string };

const ROOM_PATH = /^\/r\/([A-Za-z0-9_-]{1,64})\/?$/;

export function parse(path: string): Route {
  const match = ROOM_PATH.exec(path);
  return match?.[1] ? { view: "room", room: match[1] } : { view: "lobby" };
}

export function roomPath(room: string): string {
  return `/r/${encodeURIComponent(room)}`;
}

export class Router {
  route: Route = parse(location.pathname);

  constructor(private readonly changed: (route: Route) => void) {
    window.addEventListener("popstate", () => {
      this.route = parse(location.pathname);
      this.changed(this.route);
    });
  }

  go(path: string, replace = false): void {
    if (path !== location.pathname) {
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
      this.go(anchor.pathname);
    });
    return anchor;
  }
}
