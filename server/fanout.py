"""Events out: each committed batch to its audiences, in order, on this process's sockets and
Server-Sent Events streams; and people moved between rooms follow their new room."""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import socketio

from facilitation import ASSEMBLY_STREAM, Assembly, Role
from facilitation.events import (
    ParticipantAdded,
    ParticipantMoved,
    ParticipantRemoved,
    RoundClosed,
    RoundStarted,
)
from server.audience import Audience, group, replayed
from server.broadcast import encode_json, event_packet, send_to_rooms
from server.connections import Connection, Presence
from server.runtime import AssemblyRuntime, Commit, Delivery
from server.telemetry import Metrics
from server.views import assembly_view, room_view

log = logging.getLogger("palabre.fanout")

# Events after which someone may follow different rooms.
MEMBERSHIP_EVENTS = (ParticipantAdded, ParticipantMoved, ParticipantRemoved, RoundStarted,
                     RoundClosed)  # fmt: skip


@dataclass(frozen=True)
class SseEvent:
    """An event for Server-Sent Events readers: its seq (the `id:`) and the observers' JSON."""

    seq: int
    text: str


# A Server-Sent Events reader this far behind is too slow to keep: it is dropped, and resumes.
SSE_QUEUE_EVENTS = 1_000


def stream_view(
    state: Assembly, assembly_id: str, stream: str, audience: Audience, now_ms: int
) -> dict[str, Any]:
    if stream == ASSEMBLY_STREAM:
        return assembly_view(state, assembly_id, audience)
    return room_view(state, stream, audience, now_ms)


def catch_up(
    runtime: AssemblyRuntime,
    state: Assembly,
    stream: str,
    after_seq: int | None,
    audience: Audience,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """What a viewer behind on `stream` needs: the events after `after_seq`, replayed as its
    audience may see them now, or a snapshot when they are not all kept (or it has none yet).

    Call it from inside `runtime.read`, so both match the committed state.
    """
    missed = runtime.missed(stream, after_seq) if after_seq is not None else None
    if missed is None:
        return [], stream_view(state, runtime.id, stream, audience, runtime.clock())
    return [replayed(state, d.payloads[audience], audience) for d in missed], None


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, metrics: Metrics) -> None:
        self.sio = sio
        self.metrics = metrics
        self.connections: dict[str, Connection] = {}
        self.presence = Presence()
        self._queues: dict[str, asyncio.Queue[tuple[float, AssemblyRuntime, list[Delivery]]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # (assembly, stream) -> the last seq queued on the stream's sockets by this process.
        self.fanned_out: dict[tuple[str, str], int] = {}
        self._sse: dict[tuple[str, str], set[asyncio.Queue[SseEvent | None]]] = {}
        # The invite each Server-Sent Events reader came in with, so withdrawing it ends them.
        self._sse_invites: dict[asyncio.Queue[SseEvent | None], str] = {}

    def publish(self, commit: Commit) -> None:
        """Called by the writer right after a commit: queue the batch, keep the order."""
        runtime, deliveries = commit.runtime, commit.deliveries
        queue = self._queues.get(runtime.id)
        if queue is None:
            queue = self._queues[runtime.id] = asyncio.Queue()
            self._tasks[runtime.id] = asyncio.create_task(
                self._deliver_forever(queue), name=f"palabre-fanout-{runtime.id}"
            )
        queue.put_nowait((time.perf_counter(), runtime, deliveries))

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        self._queues.clear()
        for subscribers in self._sse.values():
            for subscriber in subscribers:
                subscriber.put_nowait(None)

    async def _deliver_forever(
        self, queue: asyncio.Queue[tuple[float, AssemblyRuntime, list[Delivery]]]
    ) -> None:
        while True:
            committed_at, runtime, deliveries = await queue.get()
            try:
                await self._deliver(runtime, deliveries)
            except Exception:
                log.exception("fan-out failed for assembly %s", runtime.id)
            self.metrics.fanout_seconds.observe(time.perf_counter() - committed_at)

    async def _deliver(self, runtime: AssemblyRuntime, deliveries: list[Delivery]) -> None:
        # Every socket's copy of the whole batch is queued before anything is awaited: each
        # audience's text is encoded once and the same packet goes to all its sockets.
        for delivery in deliveries:
            stream = delivery.record.event.room
            for audience, payload in delivery.payloads.items():
                text = encode_json(payload)
                packet = event_packet("event", text)
                sent = send_to_rooms(self.sio, group(runtime.id, stream, audience), packet)
                self.metrics.fanout_encoded.inc()
                self.metrics.fanout_sent.inc(sent)
                if audience is Audience.OBSERVER:
                    self._to_sse(runtime.id, stream, delivery.record.event.seq, text)
            self.fanned_out[(runtime.id, stream)] = delivery.record.event.seq
        if any(isinstance(d.record.event, MEMBERSHIP_EVENTS) for d in deliveries):
            await self.follow_moves(runtime)

    # --- Server-Sent Events ---------------------------------------------------------------

    def _to_sse(self, assembly_id: str, stream: str, seq: int, text: str) -> None:
        """The observers' text of an event, encoded once, to every reader of its stream."""
        subscribers = self._sse.get((assembly_id, stream))
        if not subscribers:
            return
        for subscriber in list(subscribers):
            if subscriber.qsize() >= SSE_QUEUE_EVENTS:
                subscribers.discard(subscriber)
                subscriber.put_nowait(None)
            else:
                subscriber.put_nowait(SseEvent(seq, text))

    def subscribe(
        self, assembly_id: str, stream: str, invite_id: str | None = None
    ) -> asyncio.Queue[SseEvent | None]:
        """A queue of the stream's deliveries; None in it means: the stream is closing."""
        queue: asyncio.Queue[SseEvent | None] = asyncio.Queue()
        self._sse.setdefault((assembly_id, stream), set()).add(queue)
        if invite_id is not None:
            self._sse_invites[queue] = invite_id
        return queue

    def unsubscribe(
        self, assembly_id: str, stream: str, queue: asyncio.Queue[SseEvent | None]
    ) -> None:
        self._sse.get((assembly_id, stream), set()).discard(queue)
        self._sse_invites.pop(queue, None)

    async def close_invite_streams(self, invite_id: str, local: bool) -> None:
        """End every Server-Sent Events stream opened with a withdrawn invite."""
        for queue, used in list(self._sse_invites.items()):
            if used == invite_id:
                queue.put_nowait(None)

    # --- Following people as they move -----------------------------------------------------

    def local(self, assembly_id: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.assembly_id == assembly_id]

    async def follow_moves(self, runtime: AssemblyRuntime) -> None:
        """Re-seat each local connection whose rooms changed, with snapshots of its new rooms."""
        local = self.local(runtime.id)
        if not local:
            return

        def look(
            state: Assembly,
        ) -> list[tuple[Connection, set[str], dict[str, object], dict[str, Any]]]:
            now_ms = runtime.clock()
            changes = []
            for connection in local:
                desired = connection.desired_streams(state)
                if desired == connection.streams:
                    continue
                views = {
                    stream: stream_view(state, runtime.id, stream, connection.audience, now_ms)
                    for stream in desired - connection.streams
                }
                changes.append((connection, desired, connection.describe(state, desired), views))
            return changes

        # Described and photographed in one look at the committed state, for every mover at once.
        for connection, desired, you, views in await runtime.read(look):
            if connection.sid not in self.connections:
                continue
            await self.seat(connection, desired)
            await self.sio.emit("moved", {"you": you, "snapshots": views}, to=connection.sid)

    async def seat(self, connection: Connection, streams: set[str]) -> None:
        """Join the socket to the groups of `streams`, leave the others, update presence."""
        old_rooms = self._presence_rooms(connection)
        old_streams = connection.streams
        desired_groups = connection.desired_groups(streams)
        for name in connection.groups - desired_groups:
            await self.sio.leave_room(connection.sid, name)
        for name in desired_groups - connection.groups:
            await self.sio.enter_room(connection.sid, name)
        # Read after joining: an event fanned out in between is then counted as live (and at
        # worst also replayed by `sync`), never as neither.
        for stream in streams - old_streams:
            connection.joined_after[stream] = self.fanned_out.get(
                (connection.assembly_id, stream), 0
            )
        for stream in old_streams - streams:
            connection.joined_after.pop(stream, None)
        connection.streams, connection.groups = streams, desired_groups
        new_rooms = self._presence_rooms(connection)
        if connection.participant is not None:
            for room in old_rooms - new_rooms:
                self.presence.leave(connection.assembly_id, room, connection.participant)
            for room in new_rooms - old_rooms:
                self.presence.enter(connection.assembly_id, room, connection.participant)
        for room in old_rooms ^ new_rooms:
            await self.announce_presence(connection.assembly_id, room)
        if connection.audience is not Audience.OBSERVER:
            # Following a room without counting in it (the lead): still learn who is there.
            for room in streams - old_streams - {ASSEMBLY_STREAM} - new_rooms:
                present = self.presence.present(connection.assembly_id, room)
                await self.sio.emit(
                    "presence", {"room": room, "present": present}, to=connection.sid
                )

    async def unseat(self, connection: Connection) -> None:
        await self.seat(connection, set())

    async def announce_presence(self, assembly_id: str, room: str) -> None:
        payload = {"room": room, "present": self.presence.present(assembly_id, room)}
        for audience in (Audience.MODERATOR, Audience.MEMBER):
            await self.sio.emit("presence", payload, to=group(assembly_id, room, audience))

    @staticmethod
    def _presence_rooms(connection: Connection) -> set[str]:
        """Jurors are present in their room, facilitators in the rooms they run."""
        if connection.role not in (Role.JUROR, Role.FACILITATOR):
            return set()
        return connection.streams - {ASSEMBLY_STREAM}
