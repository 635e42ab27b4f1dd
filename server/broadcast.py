"""One event, encoded once, handed to every socket of a socket.io room.

python-socketio's `emit` to a room walks the data for binary parts (`Packet.data_is_binary`,
recursively), starts a task per recipient and awaits them all, so each audience of each event
of a commit was sent only after the previous one reached every socket's queue. Here an event is
made into its wire text once per audience (`event_packet`), and the same engine.io packet, whose
text engine.io caches on the first encode, is put in each recipient's send queue in one pass
with no task: engine.io's public `send_packet` only appends to an unbounded queue, and each
socket's own writer sends from there, so a slow connection holds back only itself.

Everything here goes through public APIs: `AsyncServer.manager.get_participants` (the sockets of
a room), `AsyncServer.eio.send_packet` (a raw engine.io packet to one socket), and the
socket.io v5 wire format of an event without ack (`2["name",data]`, namespace `/`).
tests/server/test_broadcast.py checks the text is exactly what python-socketio's own packet
encodes, so an upgrade that changed it would fail there first.
"""

import asyncio
import json
import logging
from collections.abc import Coroutine, Generator
from typing import Any

import engineio.packet
import socketio
from socketio.packet import EVENT

log = logging.getLogger("palabre.broadcast")
NAMESPACE = "/"


def event_text(name: str, payload_json: str) -> str:
    """The socket.io packet of event `name` with one argument already encoded as JSON: what
    python-socketio's `Packet(EVENT, data=[name, payload]).encode()` gives for namespace `/`
    and no ack id."""
    return f"{EVENT}[{json.dumps(name)},{payload_json}]"


def encode_json(payload: Any) -> str:
    """JSON as python-socketio writes it on the wire: no spaces, non-ASCII escaped."""
    return json.dumps(payload, separators=(",", ":"))


def event_packet(name: str, payload_json: str) -> engineio.packet.Packet:
    """The engine.io MESSAGE packet carrying the event: one object for every recipient."""
    return engineio.packet.Packet(engineio.packet.MESSAGE, event_text(name, payload_json))


def send_to_rooms(
    sio: socketio.AsyncServer, rooms: str | list[str], packet: engineio.packet.Packet
) -> int:
    """Queue `packet` on every socket in `rooms` (each socket once), now; how many sockets.

    Nothing is awaited here: engine.io's `send_packet` finishes without suspending unless the
    socket turns out dead (its ping timed out), when it runs the disconnect handlers; that rest
    goes on in a task of its own, so one dead socket holds up neither the other recipients nor
    the next event.
    """
    sent = 0
    for _sid, eio_sid in sio.manager.get_participants(NAMESPACE, rooms):
        start_eagerly(sio.eio.send_packet(eio_sid, packet))
        sent += 1
    return sent


# The tasks started for sends that had to wait, kept until they end (asyncio holds tasks weakly).
_waiting: set["asyncio.Task[Any]"] = set()


def start_eagerly(coroutine: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any] | None":
    """Run `coroutine` up to its first suspension right now; None when it finished there
    (the common case: no task made), else the task that runs the rest.

    Python 3.12's eager tasks do this; palabre still runs on 3.11.
    """
    try:
        first = coroutine.send(None)
    except StopIteration:
        return None
    except Exception:
        # As a task's exception would be: logged, never raised into the fan-out.
        log.exception("a send to one socket failed")
        return None
    task = asyncio.ensure_future(_Resumed(coroutine, first).wait())
    _waiting.add(task)
    task.add_done_callback(_waiting.discard)
    return task


class _Resumed:
    """A coroutine already stepped once, driven on by a task from where it stopped: the task
    gets the future it stopped on, and sends or throws back into it, as it would have."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], first: Any) -> None:
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self._first
        while True:
            try:
                sent = yield value
            except BaseException as thrown:  # cancellation included: hand it on
                try:
                    value = self._coroutine.throw(thrown)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self._coroutine.send(sent)
                except StopIteration as stop:
                    return stop.value

    async def wait(self) -> Any:
        return await self
