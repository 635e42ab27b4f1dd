"""B1 of issue 9: the bare python-socketio server palabre is measured against.

It does the least a room server must: for each command a client sends, it stamps it (the
room's next seq, the server's time), broadcasts it to the room and to the room's observers, and
acks the sender. Nothing is stored, checked against rules or redacted, so whatever palabre
spends beyond this is palabre's own. It runs under uvicorn as palabre does:

    python -m uvicorn --factory bench.bare_python:create_app --ws websockets-sansio

The protocol is the one `bench/bare_node.mjs` (B2) speaks, so that one load generator
(`bench/loadgen.mjs`) drives palabre, B1 and B2 alike:

- connect with `auth = {"name": str, "streams": [room, ...], "observer": bool}`: the socket
  joins each room (an observer joins the room's observers instead); anything else is refused;
- `sync` answers `{"ok": true, "you": {"name", "streams"}, "server_time_ms", "snapshots":
  {room: {"seq": n}}, "events": []}`, the shape of palabre's reply with none of its content;
- any other event is a command `{"room": str, ...}` from a member of that room: it becomes
  `{"type": <event name>, "room", "seq", "actor", "at_ms", ...fields}`, emitted as `event` to
  the room and to its observers, and the sender is answered `{"ok": true, "seq": n}`.
"""

import time
from typing import Any

import socketio

# A sender names its room in at most this many characters, as palabre's rooms are named.
MAX_ROOM_CHARS = 64
MAX_STREAMS = 1_000


def observers_of(room: str) -> str:
    """The socket.io room an observer of `room` joins."""
    return f"{room}/observers"


def refusal(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def valid_auth(auth: Any) -> bool:
    if not isinstance(auth, dict):
        return False
    name, streams, observer = auth.get("name"), auth.get("streams"), auth.get("observer", False)
    return (
        isinstance(name, str)
        and isinstance(observer, bool)
        and isinstance(streams, list)
        and len(streams) <= MAX_STREAMS
        and all(isinstance(s, str) and 0 < len(s) <= MAX_ROOM_CHARS for s in streams)
    )


def create_app() -> socketio.ASGIApp:
    """The ASGI app: a python-socketio server with its defaults, and nothing else."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], logger=False)
    # Each room's last seq, counted from the first command since the server started.
    heads: dict[str, int] = {}

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        if not valid_auth(auth):
            return False
        observer = bool(auth.get("observer", False))
        streams = list(dict.fromkeys(auth["streams"]))
        await sio.save_session(
            sid, {"name": auth["name"], "streams": streams, "observer": observer}
        )
        for room in streams:
            await sio.enter_room(sid, observers_of(room) if observer else room)
        return True

    async def sync(sid: str, *args: Any) -> dict[str, Any]:
        session = await sio.get_session(sid)
        streams = session["streams"]
        return {
            "ok": True,
            "you": {"name": session["name"], "streams": streams},
            "server_time_ms": int(time.time() * 1000),
            "snapshots": {room: {"seq": heads.get(room, 0)} for room in streams},
            "events": [],
        }

    async def command(name: str, sid: str, payload: Any = None) -> dict[str, Any]:
        session = await sio.get_session(sid)
        if not isinstance(payload, dict) or "type" in payload:
            return refusal("invalid_command")
        room = payload.get("room")
        if session["observer"] or not isinstance(room, str) or room not in session["streams"]:
            return refusal("forbidden")
        seq = heads.get(room, 0) + 1
        heads[room] = seq
        event = {
            **payload,
            "type": name,
            "room": room,
            "seq": seq,
            "actor": session["name"],
            "at_ms": int(time.time() * 1000),
        }
        await sio.emit("event", event, to=room)
        await sio.emit("event", event, to=observers_of(room))
        return {"ok": True, "seq": seq}

    sio.on("connect", connect)
    sio.on("sync", sync)
    # Every other event name: python-socketio's catch-all passes the name first.
    sio.on("*", command)
    return socketio.ASGIApp(sio, other_asgi_app=health)


async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """`/healthz` answers 200, as palabre's does, so one start-up check serves every server;
    any other path 404."""
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})
