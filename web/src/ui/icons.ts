// Line icons on a 24-unit grid (stroke, no fill), drawn as SVG elements.

const SVG = "http://www.w3.org/2000/svg";

type Shape = [string, Record<string, string | number>];

const shapes = {
  mic: [
    ["rect", { x: 9, y: 3, width: 6, height: 11, rx: 3 }],
    ["path", { d: "M5 11a7 7 0 0 0 14 0M12 18v3" }],
  ],
  micOff: [
    ["path", { d: "M15 9.3V6a3 3 0 0 0-5.7-1.3M9 9v2a3 3 0 0 0 4.6 2.5" }],
    ["path", { d: "M5 11a7 7 0 0 0 11.2 5.6M19 11a7 7 0 0 1-.4 2.3M12 18v3M3 3l18 18" }],
  ],
  camera: [
    ["rect", { x: 2.5, y: 6, width: 13, height: 12, rx: 2 }],
    ["path", { d: "M15.5 10.5 21 7v10l-5.5-3.5" }],
  ],
  cameraOff: [
    [
      "path",
      {
        d: "M10.5 6h3a2 2 0 0 1 2 2v3.5L21 7v10M15.5 15.5V16a2 2 0 0 1-2 2h-9a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h1",
      },
    ],
    ["path", { d: "M3 3l18 18" }],
  ],
  screen: [
    ["rect", { x: 2.5, y: 4, width: 19, height: 13, rx: 2 }],
    ["path", { d: "M8 21h8M12 17v4M12 13V8M9.5 10.5 12 8l2.5 2.5" }],
  ],
  leave: [["path", { d: "M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l-5-5 5-5M5 12h11" }]],
  menu: [["path", { d: "M4 6h16M4 12h16M4 18h16" }]],
  search: [
    ["circle", { cx: 11, cy: 11, r: 7 }],
    ["path", { d: "m20 20-4-4" }],
  ],
  lock: [
    ["rect", { x: 4.5, y: 11, width: 15, height: 10, rx: 2 }],
    ["path", { d: "M8 11V7a4 4 0 0 1 8 0v4" }],
  ],
  people: [
    ["circle", { cx: 9, cy: 8, r: 3.5 }],
    ["path", { d: "M2.5 20a6.5 6.5 0 0 1 13 0M16 4.5a3.5 3.5 0 0 1 0 7M18 14a6 6 0 0 1 3.5 6" }],
  ],
  hash: [["path", { d: "M5 9h14M5 15h14M10 4 8 20M16 4l-2 16" }]],
  coffee: [
    ["path", { d: "M4 9h12v5a5 5 0 0 1-5 5H9a5 5 0 0 1-5-5V9zM16 10h1.5a2.5 2.5 0 0 1 0 5H16" }],
    ["path", { d: "M8 2.5v3M12 2.5v3" }],
  ],
  workshop: [
    ["rect", { x: 3, y: 3.5, width: 18, height: 12, rx: 1.5 }],
    ["path", { d: "M12 15.5V19M8 21l4-2 4 2" }],
  ],
  chat: [["path", { d: "M4 5h16v11H9l-5 4V5z" }]],
  send: [["path", { d: "M4 12 20 4l-5 16-3-7-8-1z" }]],
  link: [
    [
      "path",
      {
        d: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
      },
    ],
  ],
  close: [["path", { d: "M6 6l12 12M18 6 6 18" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  home: [["path", { d: "M4 11 12 4l8 7M6 9.5V20h12V9.5" }]],
  star: [["path", { d: "m12 3.5 2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.7-5.2 2.7 1-5.8L3.5 9.7l5.9-.9z" }]],
  hand: [
    [
      "path",
      {
        d: "M8 12.5V5.5a1.5 1.5 0 0 1 3 0V11M11 10.5V4a1.5 1.5 0 0 1 3 0v6.5M14 10.5V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5a6 6 0 0 1-4.6-2.2L3.4 15.4a1.5 1.5 0 0 1 2.3-1.9L8 15.5",
      },
    ],
  ],
  pin: [["path", { d: "M9 3.5h6M10 3.5v6l-3 3.5h10l-3-3.5v-6M12 13v7.5" }]],
  more: [
    ["circle", { cx: 5.5, cy: 12, r: 1.3 }],
    ["circle", { cx: 12, cy: 12, r: 1.3 }],
    ["circle", { cx: 18.5, cy: 12, r: 1.3 }],
  ],
  stageUp: [["path", { d: "M12 19V6M6.5 11.5 12 6l5.5 5.5M5 3.5h14" }]],
  stageDown: [["path", { d: "M12 4v13M6.5 11.5 12 17l5.5-5.5M5 20.5h14" }]],
  userX: [
    ["circle", { cx: 10, cy: 8, r: 3.5 }],
    ["path", { d: "M3.5 20a6.5 6.5 0 0 1 11.6-4M16 15l5 5M21 15l-5 5" }],
  ],
  crown: [["path", { d: "M4 17.5 3 7.5l5 4 4-6.5 4 6.5 5-4-1 10zM4.5 20.5h15" }]],
  shield: [["path", { d: "M12 3 4.5 6v5.5c0 4.6 3.2 8.1 7.5 9.5 4.3-1.4 7.5-4.9 7.5-9.5V6z" }]],
  clock: [
    ["circle", { cx: 12, cy: 12, r: 8.5 }],
    ["path", { d: "M12 7.5V12l3 2" }],
  ],
  check: [["path", { d: "m5 12.5 4.5 4.5L19 7.5" }]],
  rounds: [
    [
      "path",
      { d: "M4 12a8 8 0 0 1 13.7-5.6L20 8.5M20 4v4.5h-4.5M20 12a8 8 0 0 1-13.7 5.6L4 15.5M4 20v-4.5h4.5" },
    ],
  ],
  info: [
    ["circle", { cx: 12, cy: 12, r: 8.5 }],
    ["path", { d: "M12 11v5.5M12 7.6v.1" }],
  ],
  reply: [["path", { d: "M9.5 6 4 11.5 9.5 17M4.5 11.5H14a6 6 0 0 1 6 6V19" }]],
  smile: [
    ["circle", { cx: 12, cy: 12, r: 8.5 }],
    ["path", { d: "M8.5 14a4.2 4.2 0 0 0 7 0M9.2 9.6v.1M14.8 9.6v.1" }],
  ],
  edit: [["path", { d: "M4 20h4L19 9a2.8 2.8 0 0 0-4-4L4 16zM13.5 6.5l4 4" }]],
  trash: [["path", { d: "M4.5 7h15M10 4h4M6.5 7l1 13h9l1-13M10 11v5.5M14 11v5.5" }]],
  at: [
    ["circle", { cx: 12, cy: 12, r: 3.5 }],
    ["path", { d: "M15.5 8.5v5a2.5 2.5 0 0 0 5 0V12a8.5 8.5 0 1 0-3.3 6.7" }],
  ],
  thread: [["path", { d: "M4 5h16v10h-7l-4 4v-4H4zM8 9h8M8 12h5" }]],
  flag: [["path", { d: "M5.5 21V4M5.5 4.5h11l-2.5 4 2.5 4h-11" }]],
  block: [
    ["circle", { cx: 12, cy: 12, r: 8.5 }],
    ["path", { d: "M6 6l12 12" }],
  ],
  log: [["path", { d: "M6 3.5h12v17H6zM9 8h6M9 12h6M9 16h4" }]],
  device: [["path", { d: "M3.5 5h17v11h-17zM9 20h6M12 16v4" }]],
  key: [
    ["circle", { cx: 8, cy: 14, r: 4 }],
    ["path", { d: "M10.8 11.2 19 3M15.5 6.5l2.5 2.5M13.5 8.5l2 2" }],
  ],
} satisfies Record<string, Shape[]>;

export type IconName = keyof typeof shapes;

export function icon(name: IconName, className = "icon"): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const [tag, attributes] of shapes[name] as Shape[]) {
    const shape = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attributes)) shape.setAttribute(key, String(value));
    svg.appendChild(shape);
  }
  return svg;
}

/** The icon of a room kind. */
export function kindIcon(kind: string | null): SVGSVGElement {
  switch (kind) {
    case "coffee":
      return icon("coffee");
    case "workshop":
      return icon("workshop");
    case "dm":
      return icon("chat");
    case "table":
      return icon("people");
    default:
      return icon("hash");
  }
}

export const kindLabels: Record<string, string> = {
  open: "Open chat",
  coffee: "Coffee morning",
  workshop: "Workshop",
  dm: "Direct message",
  table: "Table",
};
