// The entry: make the client (protocol layer) and the page (UI layer), and connect the two
// to the browser's online/offline and pagehide/pageshow events.

import "./ui/app.css";
import { Client } from "./protocol/client";
import { App } from "./ui/app";

const client = new Client();
const app = new App(client, document.body);

// The browser knows before the socket does: drop the connection at once when the network
// goes, and come back as soon as it returns (the socket would otherwise wait for a ping).
window.addEventListener("offline", () => client.connection.networkDown());
window.addEventListener("online", () => client.connection.networkBack());
// A page closed, reloaded or navigated away from leaves its rooms at once: the others see it
// go now, not after the reconnect grace. (Done on pagehide, not unload, so the page can still
// go into the back/forward cache; restored from it, it connects and joins again.)
window.addEventListener("pagehide", () => client.pageHidden());
window.addEventListener("pageshow", (event) => {
  if (event.persisted) client.pageShown();
});

document.getElementById("fallback")?.remove();
app.start();
