"""The socket gateway: who may connect, what they may send, and one ack for every message.

A client connects with `auth = {"token": ...}` (an invite) or, for a public assembly,
`{"assembly": id, "watch": room}`; sends `sync` with the last seq it applied per stream; then
sends commands, each a socket event named after the command, answered by an ack:
`{"ok": true, "seq": n}` or `{"ok": false, "error": code, "detail": text}`.
"""

import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio
from pydantic import ValidationError

from facilitation import (
    ASSEMBLY_STREAM,
    PLENARY_ROOM,
    Assembly,
    Command,
    ErrorCode,
    Role,
    RoomCommand,
)
from facilitation.codec import decode_command, validation_detail
from server.audience import Audience, replayed
from server.connections import Connection, TokenBucket
from server.fanout import Fanout
from server.hub import Hub
from server.invites import InviteRefused, Invites
from server.organiser import ASSEMBLY_ID
from server.runtime import UNAVAILABLE, AssemblyRuntime, Unavailable
from server.settings import Settings
from server.snapshots import SnapshotCache
from server.telemetry import Metrics
from server.throttle import AddressLimiter, client_address
from server.views import roster_view
from server.voice.ice import ice_servers_for
from server.wire import MALFORMED, MAX_NESTING_DEPTH, TOO_DEEP, RawJson

log = logging.getLogger("palabre.gateway")

# Room ids are short (`plenary`, `r14-2`): a longer `watch` names no room, and is not echoed.
MAX_ROOM_ID_CHARS = 64


class EdgeCode:
    """Codes of the edge (the gateway's refusals), beside the core's `facilitation.ErrorCode`:
    docs/protocol.md lists both."""

    UNKNOWN_COMMAND = "unknown_command"
    INVALID_COMMAND = "invalid_command"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    NOT_CONNECTED = "not_connected"
    ASSEMBLY_NOT_FOUND = "assembly_not_found"
    PRIVATE_ASSEMBLY = "private_assembly"
    UNKNOWN_PARTICIPANT = "unknown_participant"
    ROOM_NOT_FOUND = "room_not_found"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"


@dataclass(frozen=True)
class Admission:
    """What a connect needs to know of the committed state, read in one look."""

    public: bool
    known: bool
    watchable: bool


def refuse(code: str, detail: str) -> socketio.exceptions.ConnectionRefusedError:
    """A refused connection: the client's `connect_error` carries the code and the reason.

    python-socketio's own exception, not the builtin one of the same name: only its arguments
    reach the client (`{"message": code, "data": {...}}`); the builtin loses them.
    """
    return socketio.exceptions.ConnectionRefusedError(code, {"error": code, "detail": detail})


def error(code: str, detail: str = "") -> dict[str, Any]:
    return {"ok": False, "error": code, "detail": detail}


class Gateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        hub: Hub,
        invites: Invites,
        fanout: Fanout,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self.sio = sio
        self.hub = hub
        self.invites = invites
        self.fanout = fanout
        self.settings = settings
        self.metrics = metrics
        self.origins = frozenset(settings.origins)
        self.connecting = AddressLimiter(settings.connect_rate_per_second, settings.connect_burst)
        # Set by the voice service: whether voice works now (the `sync` reply says it), and
        # what to do when a socket goes (its audio leaves with it).
        self.voice_available: Callable[[], bool] = lambda: False
        self.on_disconnect: list[Callable[[str], Awaitable[None]]] = []
        # Per live assembly: its streams' snapshots, encoded once for every `sync` that needs
        # them. Keyed by the runtime itself: one started afresh (another log) starts afresh.
        self.snapshots: weakref.WeakKeyDictionary[AssemblyRuntime, SnapshotCache] = (
            weakref.WeakKeyDictionary()
        )
        sio.on("connect", self.admit)
        sio.on("disconnect", self.disconnect)
        sio.on("sync", self.sync)
        sio.on("roster", self.roster)
        sio.on("*", self.command)

    def _sent_by_client(self, sid: str) -> bool:
        """Whether a `connect` or `disconnect` is an event a connected client sent by that name:
        python-socketio hands those to the same handlers as the real ones, which it runs only
        while the socket is still connecting or already leaving."""
        return bool(self.sio.manager.is_connected(sid, "/"))

    async def admit(
        self, sid: str, environ: dict[str, Any], auth: Any = None, *extra: Any
    ) -> dict[str, Any] | None:
        """`connect`, with an unforeseen failure refused as `unavailable`: python-socketio answers
        only the refusals it is given, and leaves the client waiting after any other exception."""
        try:
            return await self.connect(sid, environ, auth, *extra)
        except socketio.exceptions.ConnectionRefusedError:
            raise
        except Exception:
            log.exception("connect failed", extra={"sid": sid})
            connection = self.fanout.connections.pop(sid, None)
            if connection is not None:
                await self.fanout.unseat(connection)
            raise refuse(UNAVAILABLE, "the server cannot let you in right now: try again") from None

    async def connect(
        self, sid: str, environ: dict[str, Any], auth: Any = None, *extra: Any
    ) -> dict[str, Any] | None:
        if self._sent_by_client(sid):
            return error(EdgeCode.UNKNOWN_COMMAND, "connect is not a command")
        if not self.connecting.take(client_address(environ.get("asgi.scope", {}))):
            raise refuse(EdgeCode.RATE_LIMITED, "too many connections from your address: try again")
        # Browsers name the page's origin; programs (curl, bots) send none and need no check.
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in self.origins:
            raise refuse(EdgeCode.ORIGIN_NOT_ALLOWED, "pages of this origin may not connect")
        auth = auth if isinstance(auth, dict) else {}
        token = auth.get("token")
        watch = auth.get("watch")
        if watch is not None and not (isinstance(watch, str) and len(watch) <= MAX_ROOM_ID_CHARS):
            raise refuse(EdgeCode.ROOM_NOT_FOUND, "watch: the id of a room")
        if token is not None:
            if not isinstance(token, str):
                raise refuse("invalid_token", "the token must be a string")
            try:
                invite = await self.invites.resolve(token)
            except InviteRefused as refusal:
                raise refuse(refusal.code, refusal.detail) from None
            assembly_id, participant, role = (
                invite.assembly_id,
                invite.participant_id,
                Role(invite.role),
            )
            invite_id: str | None = invite.id
        else:
            assembly_id, participant, role = auth.get("assembly"), None, Role.OBSERVER
            invite_id = None
            if not isinstance(assembly_id, str):
                raise refuse(EdgeCode.ASSEMBLY_NOT_FOUND, "give an invite token or an assembly")
            if not ASSEMBLY_ID.fullmatch(assembly_id):
                # No assembly could have this id: the store need not be asked.
                raise refuse(EdgeCode.ASSEMBLY_NOT_FOUND, "no assembly has such an id")
        try:
            runtime = await self.hub.get(assembly_id)
        except Unavailable:
            raise refuse(UNAVAILABLE, "the assembly cannot answer now: try again") from None
        if runtime is None:
            raise refuse(EdgeCode.ASSEMBLY_NOT_FOUND, f"no assembly {assembly_id!r}")
        if role is Role.OBSERVER:
            watch = watch if isinstance(watch, str) else PLENARY_ROOM
        else:
            watch = None

        def admission(state: Assembly) -> Admission:
            return Admission(
                public=state.public,
                known=participant is None or participant in state.participants,
                watchable=watch in state.rooms and watch != ASSEMBLY_STREAM,
            )

        try:
            admitted = await runtime.read(admission)
            if not admitted.known:
                # Added by another process (the CLI, a second node) since this one last looked?
                runtime.catch_up_later()
                admitted = await runtime.read(admission)
        except Unavailable:
            raise refuse(UNAVAILABLE, "the assembly cannot answer now: try again") from None
        if token is None and not admitted.public:
            raise refuse(EdgeCode.PRIVATE_ASSEMBLY, "this assembly needs an observer link")
        if not admitted.known:
            raise refuse(EdgeCode.UNKNOWN_PARTICIPANT, "this invite names nobody here")
        if watch is not None and not admitted.watchable:
            raise refuse(EdgeCode.ROOM_NOT_FOUND, f"no room {watch!r} to watch")
        connection = Connection(
            sid=sid,
            assembly_id=assembly_id,
            participant=participant,
            role=role,
            watch=watch,
            bucket=TokenBucket(self.settings.rate_per_second, self.settings.rate_burst),
            invite_id=invite_id,
        )
        try:
            streams = await runtime.read(connection.desired_streams)
        except Unavailable:
            raise refuse(UNAVAILABLE, "the assembly cannot answer now: try again") from None
        self.fanout.connections[sid] = connection
        await self.fanout.seat(connection, streams)
        self.metrics.connections.labels(role=role.value).inc()
        log.info("connect", extra={"sid": sid, "assembly": assembly_id, "role": role.value})
        return None

    async def drop_invite(self, invite_id: str, local: bool) -> None:
        """Disconnect everyone on this process who came in with a withdrawn invite."""
        sids = [c.sid for c in self.fanout.connections.values() if c.invite_id == invite_id]
        for sid in sids:
            await self.sio.disconnect(sid)

    async def disconnect(self, sid: str, reason: Any = None, *extra: Any) -> dict[str, Any] | None:
        if self._sent_by_client(sid):
            return error(EdgeCode.UNKNOWN_COMMAND, "disconnect is not a command")
        connection = self.fanout.connections.pop(sid, None)
        if connection is None:
            return None
        await self.fanout.unseat(connection)
        self.metrics.connections.labels(role=connection.role.value).dec()
        for gone in self.on_disconnect:
            try:
                await gone(sid)
            except Exception:
                log.exception("a disconnect listener failed", extra={"sid": sid})
        return None

    async def sync(self, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        """Catch a client up: the events it missed per stream, or a snapshot of the stream."""
        connection = self.fanout.connections.get(sid)
        if connection is None:
            return error(EdgeCode.NOT_CONNECTED)
        # No payload (or null) is a first sync; anything but one object is a mistake to report.
        if extra or not (data is None or isinstance(data, dict)):
            return error(EdgeCode.INVALID_COMMAND, "sync takes one object")
        resume = {} if data is None else data.get("resume", {})
        if not isinstance(resume, dict):
            return error(EdgeCode.INVALID_COMMAND, "resume: a map of stream -> last seq")
        runtime = await self.hub.get(connection.assembly_id)
        assert runtime is not None

        # Made before the read: the assembly's writer waits while a look runs.
        voice = {
            "available": self.voice_available(),
            "ice_servers": ice_servers_for(self.settings, sid, time.time()),
        }

        cache = self.snapshots.setdefault(runtime, SnapshotCache())

        first_sync = not connection.synced

        def look(state: Assembly) -> dict[str, Any]:
            snapshots: dict[str, RawJson] = {}
            events: list[dict[str, Any]] = []
            now_ms = runtime.clock()
            for stream in sorted(connection.streams):
                last = resume.get(stream)
                missed = (
                    runtime.missed(stream, last)
                    if isinstance(last, int) and not isinstance(last, bool) and last >= 0
                    else None
                )
                if missed is None:
                    # Encoded once per stream, audience and seq, whoever asks.
                    snapshots[stream] = cache.get(
                        state, runtime.generation, runtime.id, stream, connection.audience, now_ms
                    )
                else:
                    # What was fanned out after the socket joined reached it live already, and
                    # what is committed but not yet fanned out will: only the rest is replayed.
                    audience = connection.audience
                    # A second `sync` on the connection (a gap the client saw) gets them all.
                    joined_after = None if not first_sync else connection.joined_after.get(stream)
                    events.extend(
                        replayed(state, d.payloads[audience], audience)
                        for d in missed
                        if joined_after is None or d.record.event.seq <= joined_after
                    )
            return {
                "ok": True,
                "you": {
                    **connection.describe(state),
                    "voice": voice,
                },
                "server_time_ms": now_ms,
                "snapshots": snapshots,
                "events": events,
            }

        try:
            reply = await runtime.read(look)
        except Unavailable:
            return error(UNAVAILABLE, "the assembly cannot answer now: try again")
        connection.synced = True
        return reply

    async def roster(self, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        """The people of a room (`{"room": id}`), or everyone (`{}`), named as the asker may see
        them: what a `sync` no longer carries, for a client that meets someone it cannot name."""
        connection = self.fanout.connections.get(sid)
        if connection is None:
            return error(EdgeCode.NOT_CONNECTED)
        if not connection.bucket.take():
            self.metrics.refusals.labels(code=EdgeCode.RATE_LIMITED).inc()
            return error(EdgeCode.RATE_LIMITED, "slow down: too many messages")
        fields = {} if data is None else data
        if extra or not isinstance(fields, dict):
            return error(EdgeCode.INVALID_COMMAND, "roster takes one object")
        unknown = sorted(set(fields) - {"room"})
        if unknown:
            return error(EdgeCode.INVALID_COMMAND, f"{unknown[0][:64]!r}: not a field of roster")
        room = fields.get("room")
        if room is not None and not (
            isinstance(room, str) and 0 < len(room) <= MAX_ROOM_ID_CHARS and room != ASSEMBLY_STREAM
        ):
            return error(EdgeCode.INVALID_COMMAND, "room: the id of a room, or null for everyone")
        runtime = await self.hub.get(connection.assembly_id)
        assert runtime is not None

        def look(state: Assembly) -> dict[str, Any]:
            if room is not None and room not in state.rooms:
                return error(EdgeCode.ROOM_NOT_FOUND, f"no room {room!r}")
            if not may_see_roster(connection, state, room):
                return error(
                    ErrorCode.FORBIDDEN,
                    "only moderators see everyone; others, the room they sit in or watch",
                )
            return {"ok": True, **roster_view(state, room, connection.audience)}

        try:
            reply = await runtime.read(look)
        except Unavailable:
            return error(UNAVAILABLE, "the assembly cannot answer now: try again")
        if not reply["ok"]:
            self.metrics.refusals.labels(code=reply["error"]).inc()
        return reply

    async def command(self, event: str, sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        connection = self.fanout.connections.get(sid)
        if connection is None:
            return error(EdgeCode.NOT_CONNECTED)
        if not connection.bucket.take():
            self.metrics.refusals.labels(code=EdgeCode.RATE_LIMITED).inc()
            return error(EdgeCode.RATE_LIMITED, "slow down: too many messages")
        if event is TOO_DEEP or event is MALFORMED:
            self.metrics.refusals.labels(code=EdgeCode.INVALID_COMMAND).inc()
            if event is MALFORMED:
                return error(EdgeCode.INVALID_COMMAND, "not a socket.io event")
            return error(
                EdgeCode.INVALID_COMMAND,
                f"the message nests deeper than {MAX_NESTING_DEPTH} levels",
            )
        command_class = Command.registry.get(event)
        if command_class is None:
            self.metrics.refusals.labels(code=EdgeCode.UNKNOWN_COMMAND).inc()
            return error(EdgeCode.UNKNOWN_COMMAND, f"no command named {event[:64]!r}")
        self.metrics.commands.labels(command=event).inc()
        # Several arguments in one message are refused below, as a payload that is no object.
        command_or_error = self._parse(connection, command_class, (data, *extra) if extra else data)
        if isinstance(command_or_error, dict):
            self.metrics.refusals.labels(code=command_or_error["error"]).inc()
            return command_or_error
        runtime = await self.hub.get(connection.assembly_id)
        assert runtime is not None
        outcome = await runtime.submit(command_or_error, connection.actor)
        if not outcome.ok:
            self.metrics.refusals.labels(code=outcome.error).inc()
        return outcome.ack()

    def _parse(
        self, connection: Connection, command_class: type[Command], data: Any
    ) -> Command | dict[str, Any]:
        fields = {} if data is None else data
        try:
            # Measured as UTF-8, as sent: escaping would count an emoji as 12 bytes, and a lone
            # surrogate (valid as a JSON escape, not as text) fails here, not in the store.
            size = len(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode())
        except (TypeError, ValueError):
            return error(EdgeCode.INVALID_COMMAND, "the payload is not JSON")
        if size > self.settings.max_payload_bytes:
            return error(
                EdgeCode.PAYLOAD_TOO_LARGE,
                f"payloads are capped at {self.settings.max_payload_bytes} bytes",
            )
        if not isinstance(fields, dict):
            return error(EdgeCode.INVALID_COMMAND, "the payload must be a JSON object")
        if "type" in fields:
            return error(EdgeCode.INVALID_COMMAND, "type: the event name gives the command")
        if issubclass(command_class, RoomCommand) and "room" not in fields:
            # A juror acts in the room they sit in; saying so is optional.
            room = self.hub_room_of(connection)
            if room is not None:
                fields = {**fields, "room": room}
        try:
            return decode_command({**fields, "type": command_class.name})
        except ValidationError as problem:
            return error(EdgeCode.INVALID_COMMAND, validation_detail(problem, "payload"))

    def hub_room_of(self, connection: Connection) -> str | None:
        rooms = sorted(connection.streams - {ASSEMBLY_STREAM})
        return rooms[0] if len(rooms) == 1 else None


def may_see_roster(connection: Connection, state: Assembly, room: str | None) -> bool:
    """Moderators (the lead, facilitators) may see anyone, as they run the rooms; a juror, the
    room they sit in; an observer, any one room (they may watch any: who is in it is shown
    there), never the whole roster at once."""
    if connection.audience is Audience.MODERATOR:
        return True
    if room is None:
        return False
    if connection.role is Role.OBSERVER:
        return True
    participant = state.participants.get(connection.participant or "")
    return participant is not None and participant.room == room
