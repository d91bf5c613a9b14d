// Building elements: `h("button", {class: "primary", testid: "chat-send"}, "Send")`.
// Text always goes in as text nodes; nothing here parses HTML.

export type Child = Node | string | number | null | undefined | false;

type Handlers = { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };

export interface Props {
  class?: string;
  /** The `data-testid` of docs/web-client.md. */
  testid?: string;
  /** Attributes; `true` sets an empty one, `false`, null and undefined leave it out. */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: Handlers;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.testid) element.dataset.testid = props.testid;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [event, handler] of Object.entries(props.on ?? {})) {
    element.addEventListener(event, handler as EventListener);
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Set an attribute, or remove it for null. */
export function attr(element: Element, name: string, value: string | null): void {
  if (value === null) element.removeAttribute(name);
  else if (element.getAttribute(name) !== value) element.setAttribute(name, value);
}

/** Text only screen readers read. */
export function srOnly(text: string): HTMLSpanElement {
  return h("span", { class: "sr-only" }, text);
}

let counter = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** The first letter of a name, for avatars. */
export function initial(name: string): string {
  const first = [...name.trim()][0];
  return first ? first.toLocaleUpperCase() : "?";
}

/** A calm colour per user, the same on every page. */
export function hue(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
  return hash % 360;
}

export function avatar(user: { id: string; name: string }, size: "s" | "m" | "l" = "m"): HTMLSpanElement {
  const element = h(
    "span",
    { class: `avatar avatar-${size}`, attrs: { "aria-hidden": "true" } },
    initial(user.name),
  );
  element.style.setProperty("--hue", String(hue(user.id)));
  return element;
}

/** A server message as a sentence: "wrong passcode" becomes "Wrong passcode." */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return trimmed;
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** Make `parent`'s children exactly `children`, in order, moving as few as possible. */
export function syncChildren(parent: HTMLElement, children: HTMLElement[]): void {
  const wanted = new Set<Node>(children);
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove();
  let cursor = parent.firstElementChild;
  for (const child of children) {
    if (cursor === child) cursor = cursor.nextElementSibling;
    else parent.insertBefore(child, cursor);
  }
}
