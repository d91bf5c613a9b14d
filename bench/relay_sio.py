"""A plain python-socketio relay of the events the chat benchmarks use: the Python reference.

    .venv/bin/python bench/relay_sio.py --port 8080 [--host 127.0.0.1]

The same events as ``bench/node/relay.js``, shaped as docs/protocol.md has them, with the
events Percolate sends for them: ``session`` once connected; ``room:create`` (a fresh id);
``room:join`` (enters the Socket.IO room, ``presence`` "join" to the rest of the room; ack
``{ok, room, you, members, history: [], ice_servers: []}``); ``chat:send`` (broadcast
``chat:message``, a Message, to the whole room, sender included; then ack ``{ok,
message}``); ``presence`` "leave" to each room joined on disconnect. Nothing stored, nothing
checked.
python-socketio's and aiohttp's defaults otherwise (standard asyncio loop, standard ``json``):
this is the "plain python-socketio" the figures of issue 7 speak of. ``GET /healthz``
answers 200.
"""

from __future__ import annotations

import argparse
import itertools
import secrets
import time
from typing import Any

import socketio
from aiohttp import web


def room_view(room: str) -> dict[str, Any]:
    return {
        "id": room,
        "title": room,
        "kind": "open",
        "private": False,
        "has_passcode": False,
        "created_at": 0,
    }


def make_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)
    users: dict[str, dict[str, str]] = {}
    rooms: dict[str, dict[str, dict[str, Any]]] = {}  # room -> user id -> member
    joined: dict[str, set[str]] = {}  # sid -> rooms
    seqs: dict[str, int] = {}
    user_ids = itertools.count(1)
    message_ids = itertools.count(1)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        name = auth.get("name") if isinstance(auth, dict) else None
        user = users[sid] = {"id": f"u{next(user_ids)}", "name": str(name or "anonymous")}
        joined[sid] = set()
        # After the CONNECT packet, which an emit from this handler would overtake.
        session = {"user": user, "token": secrets.token_urlsafe(32), "rooms": []}
        sio.start_background_task(sio.emit, "session", session, to=sid)

    @sio.event
    async def disconnect(sid: str, *reason: Any) -> None:
        user = users.pop(sid, None)
        for room in joined.pop(sid, ()):
            gone = rooms.get(room, {}).pop(user["id"], None) if user else None
            if gone is not None:
                leave = {"room": room, "event": "leave", "member": gone}
                await sio.emit("presence", leave, to=room)

    @sio.on("room:create")
    async def create(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "room": room_view(secrets.token_urlsafe(6))}

    @sio.on("room:join")
    async def join(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        room = payload["room"]
        you = {**users[sid], "role": "member", "camera": False, "mic": False, "screen": False}
        members = rooms.setdefault(room, {})
        fresh = you["id"] not in members
        members[you["id"]] = you
        await sio.enter_room(sid, room)
        joined[sid].add(room)
        if fresh:
            await sio.emit("presence", {"room": room, "event": "join", "member": you}, to=room,
                           skip_sid=sid)  # fmt: skip
        return {
            "ok": True,
            "room": room_view(room),
            "you": you,
            "members": list(members.values()),
            "history": [],
            "ice_servers": [],
        }

    @sio.on("chat:send")
    async def send(sid: str, payload: dict[str, Any]) -> dict[str, Any]:
        room = payload["room"]
        seqs[room] = seq = seqs.get(room, 0) + 1
        message = {
            "id": f"m{next(message_ids)}",
            "seq": seq,
            "room": room,
            "user": users[sid],
            "text": payload["text"],
            "ts": int(time.time() * 1000),
            "client_msg_id": payload["client_msg_id"],
        }
        await sio.emit("chat:message", message, room=room)
        return {"ok": True, "message": message}

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
