// The load generator of the chat benchmarks: one Node process holding many socket.io-client
// connections, driven by the Python benchmark over stdin/stdout (one JSON object a line each
// way, one reply per command, in order).
//
//     node bench/node/crowd.js <worker id>
//
// Commands:
//   {"cmd": "create", "url", "count"}  -> {"rooms": [id, ...]}: one extra connection makes
//       `count` open rooms (room:create) and hangs up.
//   {"cmd": "connect", "urls", "first", "count", "rooms", "per_room", "concurrency"}
//       -> {"connected", "failed", "errors", "connect_ms": [...], "join_ms": [...], "seconds"}:
//       clients first..first+count-1 (global indices g) connect over WebSocket to
//       urls[g % urls.length] with auth {name} as the web client does, then room:join
//       rooms[floor(g / per_room)]; at most `concurrency` at a time.
//   {"cmd": "send", "senders": [place, ...]}: those clients (place: g - first) start sending,
//       each keeping exactly one unacknowledged at a time. Replies at once.
//   {"cmd": "mark"} -> counters since the start, and the latency histograms since the last
//       mark (then emptied): delivery (text's send time to chat:message here) and ack.
//   {"cmd": "react", "reactors": [place, ...], "interval_ms"}: those clients each toggle a
//       reaction on the latest message they received, one every interval_ms (one in flight).
//   {"cmd": "stop"} -> senders and reactors stop after their pending ack (10 s at most).
//   {"cmd": "counts"} -> per-client deliveries: sum, min, max, out-of-order seqs.
//   {"cmd": "close"} -> every connection hangs up, then the process exits.
//
// Clocks: a message's text is the sender's `performance.timeOrigin + performance.now()` in ms;
// all the workers run on one machine, so their clocks agree to well under a millisecond.
"use strict";

const readline = require("node:readline");
const { io } = require("socket.io-client");

const worker = process.argv[2] || "0";
const now = () => performance.timeOrigin + performance.now();

const BUCKETS = 600_000; // 0.1 ms buckets up to 60 s
class Histogram {
  constructor() {
    this.counts = new Uint32Array(BUCKETS);
  }
  add(ms) {
    this.counts[Math.min(BUCKETS - 1, Math.max(0, Math.floor(ms * 10)))] += 1;
  }
  /** Sparse {bucket: count}, then empty. */
  take() {
    const sparse = {};
    for (let i = 0; i < BUCKETS; i++) {
      if (this.counts[i]) sparse[i] = this.counts[i];
    }
    this.counts.fill(0);
    return sparse;
  }
}

const clients = []; // by place in this worker's block: {socket, room, received, ...} or undefined
const delivery = new Histogram();
const ackLatency = new Histogram();
let received = 0;
let acked = 0;
let reacted = 0;
let changes = 0;
const refusals = {}; // error code -> count
let sending = false;
let pendingSends = 0;
let drained = null;

function count(code) {
  refusals[code] = (refusals[code] || 0) + 1;
}

function onMessage(client, message) {
  const at = now();
  received += 1;
  client.received += 1;
  if (message.seq <= client.lastSeq) client.disorder += 1;
  client.lastSeq = message.seq;
  delivery.add(at - Number(message.text));
}

function connectOne(g, place, url, room) {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = io(url, {
      transports: ["websocket"],
      auth: { name: `bench ${g}` },
      reconnection: false,
      forceNew: true,
      timeout: 60_000,
    });
    const client = { socket, room, received: 0, lastSeq: 0, disorder: 0, n: 0 };
    socket.on("chat:message", (message) => onMessage(client, message));
    socket.on("chat:change", () => {
      changes += 1;
    });
    socket.once("connect_error", (error) => {
      socket.close();
      resolve({ error: `connect: ${error.data ? error.data.code : error.message}` });
    });
    socket.once("connect", async () => {
      const connected = performance.now();
      let ack;
      try {
        ack = await socket.timeout(60_000).emitWithAck("room:join", { room });
      } catch (error) {
        socket.close();
        resolve({ error: `room:join: ${error.message}` });
        return;
      }
      if (!ack || !ack.ok) {
        socket.close();
        resolve({ error: `room:join: ${ack && ack.error ? ack.error.code : "bad ack"}` });
        return;
      }
      clients[place] = client;
      resolve({ connect_ms: connected - started, join_ms: performance.now() - connected });
    });
  });
}

async function connect(command) {
  const started = performance.now();
  const result = { connected: 0, failed: 0, errors: {}, connect_ms: [], join_ms: [] };
  let next = 0;
  async function lane() {
    while (next < command.count) {
      const place = next;
      const g = command.first + place;
      next += 1;
      const url = command.urls[g % command.urls.length];
      const room = command.rooms[Math.floor(g / command.per_room)];
      const outcome = await connectOne(g, place, url, room);
      if (outcome.error) {
        result.failed += 1;
        result.errors[outcome.error] = (result.errors[outcome.error] || 0) + 1;
      } else {
        result.connected += 1;
        result.connect_ms.push(outcome.connect_ms);
        result.join_ms.push(outcome.join_ms);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, command.concurrency) }, lane));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

async function create(command) {
  const socket = io(command.url, {
    transports: ["websocket"],
    auth: { name: `bench host ${worker}` },
    reconnection: false,
    forceNew: true,
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const rooms = [];
  for (let i = 0; i < command.count; i++) {
    const ack = await socket
      .timeout(60_000)
      .emitWithAck("room:create", { title: `bench ${i}`, kind: "open" });
    if (!ack.ok) throw new Error(`room:create: ${ack.error.code} ${ack.error.message}`);
    rooms.push(ack.room.id);
  }
  socket.close();
  return { rooms };
}

function sendNext(client) {
  if (!sending) {
    pendingSends -= 1;
    if (pendingSends === 0 && drained) drained();
    return;
  }
  const started = performance.now();
  const payload = {
    room: client.room,
    text: String(performance.timeOrigin + started),
    client_msg_id: `${worker}-${client.index}-${client.n++}`,
  };
  client.socket.timeout(30_000).emit("chat:send", payload, (error, ack) => {
    ackLatency.add(performance.now() - started);
    if (error) {
      count("timeout");
    } else if (!ack || !ack.ok) {
      const code = ack && ack.error ? ack.error.code : "bad ack";
      count(code);
      if (code === "rate_limited") {
        setTimeout(() => sendNext(client), 10); // the benchmark's limits are too low
        return;
      }
    } else {
      acked += 1;
    }
    sendNext(client);
  });
}

function reactNext(client, interval) {
  if (!sending) {
    pendingSends -= 1;
    if (pendingSends === 0 && drained) drained();
    return;
  }
  const started = performance.now();
  const seq = Math.max(1, client.lastSeq);
  const payload = { room: client.room, seq, emoji: "\u{1F44D}", on: !client.on };
  client.socket.timeout(30_000).emit("chat:react", payload, (error, ack) => {
    if (error) count("react timeout");
    else if (!ack || !ack.ok) count(`react ${ack && ack.error ? ack.error.code : "bad ack"}`);
    else {
      reacted += 1;
      client.on = payload.on;
    }
    const wait = Math.max(0, interval - (performance.now() - started));
    setTimeout(() => reactNext(client, interval), wait);
  });
}

function react(command) {
  sending = true;
  for (const index of command.reactors) {
    const client = clients[index];
    if (!client) continue;
    client.on = false;
    pendingSends += 1;
    reactNext(client, command.interval_ms);
  }
  return { reactors: command.reactors.length };
}

function send(command) {
  sending = true;
  for (const index of command.senders) {
    const client = clients[index];
    if (!client) continue; // it failed to connect
    client.index = index;
    pendingSends += 1;
    sendNext(client);
  }
  return { senders: command.senders.length };
}

async function stop() {
  sending = false;
  if (pendingSends > 0) {
    await Promise.race([
      new Promise((resolve) => {
        drained = resolve;
      }),
      new Promise((resolve) => setTimeout(resolve, 10_000)),
    ]);
  }
  return { acked, pending: pendingSends };
}

function mark() {
  return {
    time: now() / 1000,
    received,
    acked,
    reacted,
    changes,
    refusals: { ...refusals },
    delivery: delivery.take(),
    ack: ackLatency.take(),
  };
}

function counts() {
  let min = Infinity;
  let max = 0;
  let disorder = 0;
  for (const client of clients.filter(Boolean)) {
    min = Math.min(min, client.received);
    max = Math.max(max, client.received);
    disorder += client.disorder;
  }
  return { clients: clients.filter(Boolean).length, received, acked, min, max, disorder };
}

async function close() {
  const open = clients.filter(Boolean);
  for (const client of open) client.socket.close();
  return { closed: open.length };
}

const commands = { create, connect, send, react, stop, mark, counts, close };

const input = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
input.on("line", (line) => {
  const command = JSON.parse(line);
  queue = queue.then(async () => {
    let reply;
    try {
      reply = await commands[command.cmd](command);
    } catch (error) {
      reply = { error: String(error && error.stack ? error.stack : error) };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
    if (command.cmd === "close") setTimeout(() => process.exit(0), 200);
  });
});
input.on("close", () => process.exit(0));
