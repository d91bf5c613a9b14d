// The reference: a minimal Node.js socket.io server of the events the chat benchmarks use.
//
//     node bench/node/relay.js --port 8080 [--host 127.0.0.1]
//
// Speaks what bench/node/crowd.js sends, shaped as docs/protocol.md has it, with the events
// Percolate sends for it: on connection a `session` event {user, token, rooms}; `room:create`
// (any title; a fresh id); `room:join` (enters the socket.io room, tells the rest of the room
// with `presence` {room, event: "join", member}; ack {ok, room, you, members, history: [],
// ice_servers: []}, members being everyone in the room); `chat:send` (broadcast
// `chat:message`, a Message with id, seq, room, user, text, ts and client_msg_id, to the whole
// room, sender included; then ack {ok, message}); on disconnect `presence` "leave" to each
// room joined. Nothing is stored, nothing is checked. socket.io's defaults otherwise (no
// permessage-deflate). `GET /healthz` answers 200 so the benchmark can wait for it.
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const { Server } = require("socket.io");

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const host = option("host", "127.0.0.1");
const port = Number(option("port", "8080"));

const httpServer = http.createServer((request, response) => {
  if (request.url === "/healthz") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end('{"ok": true}');
  } else if (!request.url.startsWith("/socket.io/")) {
    response.writeHead(404);
    response.end();
  }
});
const io = new Server(httpServer);

const seqs = new Map(); // room id -> last seq
const rooms = new Map(); // room id -> Map(user id -> member)
let users = 0;
let messages = 0;

function roomView(id) {
  return { id, title: id, kind: "open", private: false, has_passcode: false, created_at: 0 };
}

io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  const user = { id: `u${++users}`, name: String(auth.name || "anonymous") };
  const you = { ...user, role: "member", camera: false, mic: false, screen: false };
  const joined = new Set();
  const token = crypto.randomBytes(32).toString("base64url");
  socket.emit("session", { user, token, rooms: [] });

  socket.on("room:create", (payload, ack) => {
    const id = crypto.randomBytes(6).toString("base64url");
    ack({ ok: true, room: roomView(id) });
  });

  socket.on("room:join", (payload, ack) => {
    const room = payload.room;
    let members = rooms.get(room);
    if (members === undefined) rooms.set(room, (members = new Map()));
    const fresh = !members.has(user.id);
    members.set(user.id, you);
    socket.join(room);
    joined.add(room);
    if (fresh) socket.to(room).emit("presence", { room, event: "join", member: you });
    ack({
      ok: true,
      room: roomView(room),
      you,
      members: [...members.values()],
      history: [],
      ice_servers: [],
    });
  });

  socket.on("disconnect", () => {
    for (const room of joined) {
      const members = rooms.get(room);
      if (members !== undefined && members.delete(user.id)) {
        io.to(room).emit("presence", { room, event: "leave", member: you });
      }
    }
  });

  socket.on("chat:send", (payload, ack) => {
    const seq = (seqs.get(payload.room) || 0) + 1;
    seqs.set(payload.room, seq);
    const message = {
      id: `m${++messages}`,
      seq,
      room: payload.room,
      user,
      text: payload.text,
      ts: Date.now(),
      client_msg_id: payload.client_msg_id,
    };
    io.to(payload.room).emit("chat:message", message);
    ack({ ok: true, message });
  });
});

httpServer.listen(port, host, () => {
  console.log(`node relay listening on http://${host}:${port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
