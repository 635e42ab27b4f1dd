"""Past rounds: what each breakout room produced, read back after the recall.

A closed room is history: nobody follows it live any more (`streams_of` drops it) and every
command to it is refused with `room_closed`. The lead, facilitators and observers may still
read it: `past_rounds` lists the rounds that ran and their rooms, and with `{"room": id}` adds
that room's snapshot, in the asker's audience form, so the page shows it read-only.
"""

import json
from typing import Any

import socketio

from facilitation import ASSEMBLY_STREAM, Assembly, Role
from server.audience import Audience
from server.connections import Connection
from server.fanout import Fanout
from server.gateway import MAX_ROOM_ID_CHARS, EdgeCode, error
from server.hub import Hub
from server.runtime import UNAVAILABLE, Unavailable
from server.settings import Settings
from server.telemetry import Metrics
from server.views import room_view

# What `past_rounds` can be refused with, besides the edge's own codes.
HISTORY_CODES = ("forbidden", "room_not_found", "room_open")


class Refused(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def past_rounds(state: Assembly) -> list[dict[str, Any]]:
    """Every round that ran and has closed, oldest first, with its rooms' ids and names.

    A round only proposed and then withdrawn opened no room, so it has nothing to show.
    """
    rounds = []
    for round_ in state.rounds:
        if not (round_.started and round_.closed):
            continue
        rooms = [
            {"room_id": room.room_id, "name": state.rooms[room.room_id].name}
            for room in round_.rooms
            if room.room_id in state.rooms
        ]
        rounds.append({"round_id": round_.id, "rooms": rooms})
    return rounds


def audience_for(state: Assembly, connection: Connection, room_id: str) -> Audience:
    """The lead reads a past room as its moderators did; a facilitator too where they ran it,
    and elsewhere as its members (hidden posts' text stays with those who moderated them)."""
    if connection.role is Role.FACILITATOR:
        ran = connection.participant in state.rooms[room_id].facilitators
        return Audience.MODERATOR if ran else Audience.MEMBER
    return connection.audience


def answer(
    state: Assembly, connection: Connection, room_id: str | None, now_ms: int
) -> dict[str, Any]:
    """The `past_rounds` reply, read in one look at the committed state."""
    reply: dict[str, Any] = {"ok": True, "rounds": past_rounds(state)}
    if room_id is None:
        return reply
    room = state.rooms.get(room_id) if room_id != ASSEMBLY_STREAM else None
    if room is None:
        raise Refused("room_not_found", f"no room {room_id!r}")
    if not room.closed:
        raise Refused("room_open", "this room is still open: follow it live")
    audience = audience_for(state, connection, room_id)
    return {**reply, "room": room_view(state, room_id, audience, now_ms)}


class History:
    """The `past_rounds` socket message: checked as commands are, answered from one read."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        hub: Hub,
        fanout: Fanout,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self.hub = hub
        self.fanout = fanout
        self.settings = settings
        self.metrics = metrics
        sio.on("past_rounds", self.past_rounds)

    async def past_rounds(self, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        connection = self.fanout.connections.get(sid)
        if connection is None:
            return error(EdgeCode.NOT_CONNECTED)
        if not connection.bucket.take():
            return self._refused(EdgeCode.RATE_LIMITED, "slow down: too many messages")
        try:
            size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        except (TypeError, ValueError):
            return self._refused(EdgeCode.INVALID_COMMAND, "the payload is not JSON")
        if size > self.settings.max_payload_bytes:
            limit = f"payloads are capped at {self.settings.max_payload_bytes} bytes"
            return self._refused(EdgeCode.PAYLOAD_TOO_LARGE, limit)
        fields = {} if data is None else data
        if extra or not isinstance(fields, dict) or not set(fields) <= {"room"}:
            return self._refused(EdgeCode.INVALID_COMMAND, "past_rounds takes room")
        room = fields.get("room")
        if room is not None and not (isinstance(room, str) and len(room) <= MAX_ROOM_ID_CHARS):
            return self._refused(EdgeCode.INVALID_COMMAND, "room: the id of a closed room")
        if connection.role is Role.JUROR:
            # Jurors live in the present: the record of past rooms is for those who run them
            # and those who watch.
            return self._refused("forbidden", "past rounds are for facilitators and observers")
        self.metrics.commands.labels(command="past_rounds").inc()
        runtime = await self.hub.get(connection.assembly_id)
        assert runtime is not None
        try:
            now_ms = runtime.clock()
            return await runtime.read(lambda state: answer(state, connection, room, now_ms))
        except Refused as refusal:
            return self._refused(refusal.code, refusal.detail)
        except Unavailable:
            return self._refused(UNAVAILABLE, "the assembly cannot answer now: try again")

    def _refused(self, code: str, detail: str) -> dict[str, Any]:
        self.metrics.refusals.labels(code=code).inc()
        return error(code, detail)
