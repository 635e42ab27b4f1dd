"""Voice in the running server: people's audio joined to their room's AudioBridge room, muted
and unmuted by committed events alone, moved with them, and their speaking time recorded.

Every change runs through `_settle`, which reads the committed state and brings Janus to it:
whatever event caused it (a grant, a turn's end, a mute, a pause, the open floor, a removal, a
move), the state says who belongs where and who is heard. One lock per assembly keeps joins,
self-mutes and settling in order.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio

from facilitation import SYSTEM_ACTOR, Assembly, Role
from facilitation.events import TurnEnded
from server.audience import Audience, group
from server.connections import Connection
from server.fanout import Fanout
from server.hub import Hub
from server.runtime import UNAVAILABLE, Commit
from server.scheduler import Clock
from server.settings import Settings
from server.voice.audiobridge import Participation, RoomOptions
from server.voice.floor import OFF, SELF, WHY, Heard, heard, runs, voice_room
from server.voice.ids import VoiceRefused, janus_id, palabre_id
from server.voice.janus_client import JanusClient, JanusError, JanusUnavailable, Jsep, Json
from server.voice.listening import Listening
from server.voice.media import MediaServer, janus_urls
from server.voice.room_events import ParticipantLeft, RoomEvent, StartedTalking, StoppedTalking
from server.voice.speaking import SpeakingTime

log = logging.getLogger("palabre.voice")

__all__ = ["WHY", "VoiceRefused", "VoiceService"]

# Voiced time is recorded at least this often for rooms where someone was heard.
RECORD_EVERY_SECONDS = 10.0
# Everyone but observers hears who talks in a room they belong to or run.
TALK_AUDIENCES = (Audience.MEMBER, Audience.MODERATOR)


T = TypeVar("T")


@dataclass(frozen=True)
class Plan:
    """Where one joined person's audio belongs (None: nowhere) and whether it is heard."""

    room: str | None
    heard: Heard
    self_muted: bool


@dataclass
class VoiceJoin:
    """One socket's audio in a room: the handle palabre holds for it, and its mute."""

    assembly_id: str
    participant: str
    role: Role
    sid: str
    room: str
    media: MediaServer
    participation: Participation
    # Facilitators and the lead join muted by their own choice; jurors by the floor's.
    self_muted: bool
    janus_muted: bool = True
    sent: tuple[Any, ...] | None = None


class VoiceService:
    def __init__(
        self, settings: Settings, hub: Hub, sio: socketio.AsyncServer, fanout: Fanout, clock: Clock
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.sio = sio
        self.fanout = fanout
        self.clock = clock
        self.media: list[MediaServer] = []
        self.configured = False
        self.speaking = SpeakingTime()
        self._joins: dict[str, VoiceJoin] = {}
        # Sockets whose audio a Janus restart dropped: told to join again once it is back.
        self._lost: dict[str, MediaServer] = {}
        self._placed: dict[tuple[str, str], MediaServer] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Task[None] | None = None
        self._recording: asyncio.Task[None] | None = None
        # Observers listening to rooms' mixes through Streaming mountpoints.
        self.listening = Listening(self)

    # --- life ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start voice in the background: the server serves at once, voice follows."""
        self._starting = asyncio.create_task(self._start())
        self._recording = asyncio.create_task(self._record_periodically())

    async def _start(self) -> None:
        try:
            urls, own = await janus_urls(self.settings)
        except Exception:
            log.exception("palabre's own Janus could not start: voice is unavailable")
            self.configured = True
            return
        self.configured = bool(urls)
        for url in urls:
            server = MediaServer(
                JanusClient(url, self.settings.janus_secret),
                self.settings.janus_plugin_key,
                on_event=self._room_event,
                on_lost=self._media_lost,
                on_restarted=self._media_restarted,
                own=own,
            )
            self.media.append(server)
            server.link.start()

    async def stop(self) -> None:
        await self.listening.stop()
        for task in (self._starting, self._recording, *self._tasks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for server in self.media:
            try:
                await server.stop()
            except Exception:
                log.exception("stopping Janus failed", extra={"janus": server.client.url})
        self.media.clear()

    @property
    def available(self) -> bool:
        return any(server.available for server in self.media)

    def health(self) -> str:
        if not self.configured and (self._starting is None or self._starting.done()):
            return "off"
        return "ok" if self.available else "unavailable"

    # --- what the sockets ask -----------------------------------------------------------

    def _lock(self, assembly_id: str) -> asyncio.Lock:
        return self._locks.setdefault(assembly_id, asyncio.Lock())

    async def _read(self, assembly_id: str, look: Callable[[Assembly], T]) -> T:
        runtime = await self.hub.get(assembly_id)
        assert runtime is not None
        return await runtime.read(look)

    async def join(
        self, connection: Connection, offer: Jsep, room: str | None
    ) -> tuple[VoiceJoin, Jsep]:
        if connection.role is Role.OBSERVER or connection.participant is None:
            raise VoiceRefused("forbidden", "observers listen to the stream; they do not join")
        if connection.sid in self._joins:
            raise VoiceRefused("already_joined", "this page has joined the voice already")
        if not self.available:
            raise VoiceRefused("voice_unavailable", "voice is off on this server")
        person, role, assembly_id = connection.participant, connection.role, connection.assembly_id
        async with self._lock(assembly_id):
            target = await self._read(
                assembly_id, lambda state: _join_room(state, person, role, room)
            )
            media = self._place(assembly_id, target)
            if media is None or media.bridge is None:
                raise VoiceRefused("voice_unavailable", "the media server is down: try again")
            for other in [j for j in self._joins.values() if _same_person(j, connection)]:
                # The person's newer page takes over their voice.
                await self._drop(other)
            try:
                await self._ensure_room(media, assembly_id, target)
                participation = await media.bridge.join(
                    janus_id(assembly_id, target), janus_id(assembly_id, person), person
                )
            except JanusError as problem:
                raise VoiceRefused("voice_unavailable", "the media server refused") from problem
            try:
                answer = await media.bridge.configure(participation, offer)
            except JanusError as problem:
                with contextlib.suppress(JanusError):
                    await media.bridge.leave(participation)
                if isinstance(problem, JanusUnavailable):
                    raise VoiceRefused("voice_unavailable", "the media server is down") from None
                raise VoiceRefused(
                    "invalid_sdp", f"the media server refused it: {problem}"
                ) from None
            join = VoiceJoin(
                assembly_id,
                person,
                role,
                connection.sid,
                target,
                media,
                participation,
                self_muted=role is not Role.JUROR,
            )
            self._joins[connection.sid] = join
            self._lost.pop(connection.sid, None)
            await self._settle(join, await self._read(assembly_id, self._plan_for([join])))
            return join, answer

    async def ice(self, connection: Connection, candidate: Json | None) -> None:
        join = self._joins.get(connection.sid)
        if join is None and await self.listening.ice(connection, candidate):
            return
        if join is None or join.media.bridge is None:
            raise VoiceRefused("not_joined", "join the voice first")
        try:
            await join.media.bridge.trickle(join.participation, candidate)
        except JanusError as problem:
            raise VoiceRefused("voice_unavailable", "the media server is down") from problem

    async def mute_self(self, connection: Connection, muted: bool) -> bool:
        join = self._joins.get(connection.sid)
        if join is None:
            raise VoiceRefused("not_joined", "join the voice first")
        async with self._lock(join.assembly_id):
            if not muted:
                would = await self._read(
                    join.assembly_id,
                    lambda state: heard(state, join.participant, join.role, join.room, False),
                )
                if would.muted:
                    code = "muted" if would.why == "muted" else "not_your_turn"
                    raise VoiceRefused(code, f"you cannot be heard now ({would.why})")
            join.self_muted = muted
            await self._settle(join, await self._read(join.assembly_id, self._plan_for([join])))
            return join.janus_muted

    async def leave(self, sid: str) -> None:
        """Leave the voice and stop listening (`voice_leave`, or the socket closed)."""
        await self.listening.leave(sid)
        self._lost.pop(sid, None)
        join = self._joins.get(sid)
        if join is None:
            return
        async with self._lock(join.assembly_id):
            await self._drop(join)

    def joined(self, connection: Connection) -> VoiceJoin | None:
        return self._joins.get(connection.sid)

    # --- the floor is the microphone ----------------------------------------------------

    def on_commit(self, commit: Commit) -> None:
        """A commit subscriber: settle everyone joined in the assembly, and record voiced time
        at each turn's end."""
        assembly_id = commit.runtime.id
        ended = sorted(
            {
                d.record.event.room
                for d in commit.deliveries
                if isinstance(d.record.event, TurnEnded)
            }
        )
        # Settling first: its read of the state queues before the record's command, so a mute
        # does not wait for the voiced time of the turn it ends to be written.
        if any(j.assembly_id == assembly_id for j in self._joins.values()):
            self._spawn(self._settle_assembly(assembly_id))
        if ended:
            self._spawn(self._record_rooms(assembly_id, ended))
        self.listening.on_commit(assembly_id)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle_assembly(self, assembly_id: str) -> None:
        async with self._lock(assembly_id):
            joins = [j for j in self._joins.values() if j.assembly_id == assembly_id]
            plans = await self._read(assembly_id, self._plan_for(joins))
            for join in joins:
                try:
                    await self._settle(join, plans)
                except JanusError:
                    log.warning("could not bring Janus to the floor", extra={"sid": join.sid})

    @staticmethod
    def _plan_for(joins: list[VoiceJoin]) -> Callable[[Assembly], dict[str, Plan]]:
        """A look at the committed state: where each join belongs and whether it is heard
        there (read in one go, then applied to Janus outside the assembly's turn)."""

        def look(state: Assembly) -> dict[str, Plan]:
            plans: dict[str, Plan] = {}
            for join in joins:
                target = voice_room(state, join.participant, join.role, join.room)
                if target is None:
                    plans[join.sid] = Plan(None, Heard(True, OFF), join.self_muted)
                    continue
                # Moved: a facilitator or the lead starts muted in their new room.
                self_muted = join.self_muted if target == join.room else join.role is not Role.JUROR
                now = heard(state, join.participant, join.role, target, self_muted)
                if join.role is Role.JUROR and self_muted and now.why != SELF:
                    # A juror's own mute lasts while they could be heard; the next grant is live.
                    self_muted = False
                plans[join.sid] = Plan(target, now, self_muted)
            return plans

        return look

    async def _settle(self, join: VoiceJoin, plans: dict[str, "Plan"]) -> None:
        """Bring one person's audio to what the committed state says (under the lock)."""
        bridge = join.media.bridge
        plan = plans.get(join.sid)
        if bridge is None or plan is None or self._joins.get(join.sid) is not join:
            return
        if plan.room is None:
            await self._drop(join)
            return
        if plan.room != join.room:
            media = self._place(join.assembly_id, plan.room)
            if media is not join.media:
                await self._drop(join)
                await self.sio.emit("voice_rejoin", {"reason": "moved"}, to=join.sid)
                return
            await self._ensure_room(media, join.assembly_id, plan.room)
            await bridge.change_room(join.participation, janus_id(join.assembly_id, plan.room))
            join.room, join.janus_muted = plan.room, True
        join.self_muted = plan.self_muted
        now = plan.heard
        if now.muted != join.janus_muted:
            speaker = janus_id(join.assembly_id, join.participant)
            room_id = janus_id(join.assembly_id, join.room)
            if now.muted:
                await bridge.mute(room_id, speaker)
            else:
                await bridge.unmute(room_id, speaker)
            join.janus_muted = now.muted
        await self._tell(join, now)

    async def _tell(self, join: VoiceJoin, now: Heard) -> None:
        state = {
            "available": True,
            "joined": True,
            "room": join.room,
            "muted": now.muted,
            "why": now.why,
        }
        key = tuple(state.values())
        if key != join.sent:
            join.sent = key
            await self.sio.emit("voice", state, to=join.sid)

    async def _drop(self, join: VoiceJoin) -> None:
        self._joins.pop(join.sid, None)
        if join.media.bridge is not None:
            with contextlib.suppress(JanusError):
                await join.media.bridge.leave(join.participation)
        await self.sio.emit("voice", self.idle_state(), to=join.sid)

    def idle_state(self) -> dict[str, Any]:
        """The `voice` state of a page that has not joined."""
        available = self.available
        return {
            "available": available,
            "joined": False,
            "room": None,
            "muted": True,
            "why": SELF if available else OFF,
        }

    def _place(self, assembly_id: str, room: str) -> MediaServer | None:
        """The Janus a room lives on: the least loaded on first use, then the same one for as
        long as it is up; when it is down and another is up, the room moves there."""
        placed = self._placed.get((assembly_id, room))
        if placed is not None and placed.available:
            return placed
        candidates = [server for server in self.media if server.available]
        if not candidates:
            return None
        load = {id(s): 0 for s in candidates}
        for server in self._placed.values():
            if id(server) in load:
                load[id(server)] += 1
        chosen = min(candidates, key=lambda s: load[id(s)])
        self._placed[(assembly_id, room)] = chosen
        return chosen

    async def _ensure_room(self, media: MediaServer, assembly_id: str, room: str) -> None:
        assert media.bridge is not None
        room_id = janus_id(assembly_id, room)
        if room_id not in media.bridge.rooms:
            await media.bridge.create_room(
                room_id,
                RoomOptions(
                    audio_level_average=self.settings.voice_talking_level,
                    audio_active_packets=self.settings.voice_talking_packets,
                ),
            )

    # --- Janus's news ---------------------------------------------------------------------

    def _room_event(self, media: MediaServer, change: RoomEvent) -> None:
        if not isinstance(change, StartedTalking | StoppedTalking | ParticipantLeft):
            return
        assembly_id, room = palabre_id(change.room_id)
        _, person = palabre_id(change.participant_id)
        now_ms = self.clock()
        before = self.speaking.talking(assembly_id, room)
        if isinstance(change, StartedTalking):
            self.speaking.started(assembly_id, room, person, now_ms)
        else:
            self.speaking.stopped(assembly_id, room, person, now_ms)
        talking = self.speaking.talking(assembly_id, room)
        if talking != before:
            self._spawn(self._tell_room(assembly_id, room, talking))

    async def _tell_room(self, assembly_id: str, room: str, talking: list[str]) -> None:
        payload = {"room": room, "talking": talking}
        for audience in TALK_AUDIENCES:
            await self.sio.emit("voice_activity", payload, room=group(assembly_id, room, audience))

    def _media_lost(self, media: MediaServer) -> None:
        """A Janus went away: its people are told their voice is off. Where another Janus is
        up, their rooms move to it and they are asked to join again at once; otherwise they
        wait for this one to come back."""
        failover = any(server.available for server in self.media if server is not media)
        self.listening.media_lost(media, failover=failover)
        for join in [j for j in self._joins.values() if j.media is media]:
            del self._joins[join.sid]
            self._lost[join.sid] = media
            self._spawn(self.sio.emit("voice", self.idle_state(), to=join.sid))
            if failover:
                self._spawn(
                    self.sio.emit("voice_rejoin", {"reason": "media_server_lost"}, to=join.sid)
                )

    async def _media_restarted(self, media: MediaServer, dropped: list[Participation]) -> None:
        for join in [j for j in self._joins.values() if j.media is media]:
            del self._joins[join.sid]
            self._lost[join.sid] = media
        # Rooms that moved to another Janus while this one was away stay there.
        if media.bridge is not None:
            for (assembly_id, room), placed in list(self._placed.items()):
                room_id = janus_id(assembly_id, room)
                if placed is not media and room_id in media.bridge.rooms:
                    with contextlib.suppress(JanusError):
                        await media.bridge.destroy_room(room_id)
        for sid in [sid for sid, lost in self._lost.items() if lost is media]:
            del self._lost[sid]
            await self.sio.emit("voice_rejoin", {"reason": "media_server_restarted"}, to=sid)
        await self.listening.media_restarted(media)

    # --- speaking time --------------------------------------------------------------------

    async def _record_periodically(self) -> None:
        while True:
            await asyncio.sleep(RECORD_EVERY_SECONDS)
            for assembly_id, room in self.speaking.rooms():
                await self._record(assembly_id, room)

    async def _record_rooms(self, assembly_id: str, rooms: list[str]) -> None:
        for room in rooms:
            await self._record(assembly_id, room)

    async def _record(self, assembly_id: str, room: str) -> None:
        """Send the room's voiced time up to now; a record whose answer is lost stays, to be
        sent again unchanged."""
        runtime = self.hub.live_runtime(assembly_id)
        if runtime is None:
            return
        for record in self.speaking.cut(assembly_id, room, self.clock()):
            try:
                outcome = await runtime.submit(record, SYSTEM_ACTOR)
            except Exception:
                log.exception("recording voice failed", extra={"assembly": assembly_id})
                return
            if not outcome.ok and outcome.error == UNAVAILABLE:
                return
            if not outcome.ok:
                log.warning(
                    "a voice record was refused",
                    extra={"assembly": assembly_id, "error": outcome.error},
                )
            self.speaking.acknowledged(assembly_id, room, record)


def _same_person(join: VoiceJoin, connection: Connection) -> bool:
    return join.assembly_id == connection.assembly_id and join.participant == connection.participant


def _join_room(state: Assembly, person: str, role: Role, named: str | None) -> str:
    participant = state.participants.get(person)
    if participant is None or (
        participant.room is None and any(person in r.removed for r in state.rooms.values())
    ):
        raise VoiceRefused("forbidden", "you were removed from the assembly")
    if named is not None:
        if role is Role.JUROR and named != participant.room:
            raise VoiceRefused("not_in_room", f"you do not sit in {named!r}")
        if role is not Role.JUROR and not runs(state, person, role, named):
            raise VoiceRefused("not_in_room", f"you do not run {named!r}")
        return named
    room = voice_room(state, person, role, None)
    if room is None:
        raise VoiceRefused("not_in_room", "you are in no room now")
    return room
