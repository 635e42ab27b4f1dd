"""Observers listening to a room without joining its mix.

A listened room's mix is forwarded (`rtp_forward`, on loopback) to a Streaming mountpoint on
the same Janus, made when the room's first observer listens and removed a little after the
last one stops: however many observers listen, the room costs one more encode. Each observer
watches the mountpoint through a handle palabre holds; the page sees only Janus's SDP offer
and sends back its answer and ICE candidates. Mountpoint ids, secrets and PINs stay here.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, Assembly, Role
from server.connections import Connection
from server.voice.audiobridge import UnknownRoom
from server.voice.ids import VoiceRefused, janus_id
from server.voice.janus_client import JanusError, JanusUnavailable, Jsep, Json, PluginHandle
from server.voice.media import MediaServer
from server.voice.streaming import UnknownMountpoint

if TYPE_CHECKING:
    from server.voice.service import VoiceService

log = logging.getLogger("palabre.voice")

# How long a mountpoint and its forwarder outlive their last listener: a page switching rooms,
# reloading or listening again after a hiccup finds its stream still there.
STREAM_GRACE_SECONDS = 2.0
# How long stopping waits for Janus to remove one stream.
STOP_SECONDS = 2.0
# Random bytes in each mountpoint's id.
MOUNTPOINT_ID_BYTES = 6


@dataclass
class RoomStream:
    """One listened room: its mix forwarded to a mountpoint, and who listens to it."""

    assembly_id: str
    room: str
    # The Janus the room lives on, which holds the mountpoint as well.
    media: MediaServer
    # The AudioBridge room whose mix is forwarded.
    room_id: str
    # A new id for each mountpoint made: one left on a Janus by an earlier run of palabre
    # (Janus keeps them until it stops) never stands in the way.
    mountpoint_id: str
    listeners: set[str] = field(default_factory=set)
    removal: asyncio.Task[None] | None = None


@dataclass
class Listener:
    """One page listening: its own watching handle on the room's mountpoint."""

    sid: str
    stream: RoomStream
    handle: PluginHandle
    answered: bool = False


class Listening:
    """The rooms observers listen to, for one `VoiceService` (whose placement, rooms and
    per-assembly lock it shares, so a room is made once whoever needs it first)."""

    def __init__(self, voice: "VoiceService", grace_seconds: float = STREAM_GRACE_SECONDS) -> None:
        self.voice = voice
        self.grace_seconds = grace_seconds
        self._streams: dict[tuple[str, str], RoomStream] = {}
        self._listeners: dict[str, Listener] = {}
        # Pages whose listening a lost Janus ended: told to listen again once it is back.
        self._lost: dict[str, MediaServer] = {}
        # One request at a time per page, so a page's listen, answer and leave keep their order.
        self._pages: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def streams(self) -> dict[tuple[str, str], RoomStream]:
        """The listened rooms, by (assembly, room): for tests and health figures."""
        return dict(self._streams)

    def listening(self, sid: str) -> Listener | None:
        return self._listeners.get(sid)

    # --- what the sockets ask -----------------------------------------------------------

    async def listen(self, connection: Connection, named: str | None) -> tuple[str, Jsep]:
        """Start listening to a room (ending any listening before): the room, and Janus's SDP
        offer for the page."""
        if connection.role is not Role.OBSERVER:
            raise VoiceRefused("forbidden", "jurors, facilitators and the lead join the voice")
        if not self.voice.available:
            raise VoiceRefused("voice_unavailable", "voice is off on this server")
        sid, assembly_id = connection.sid, connection.assembly_id
        room = named or connection.watch or PLENARY_ROOM
        async with self._page(sid):
            if not await self.voice._read(assembly_id, lambda state: _listenable(state, room)):
                raise VoiceRefused("not_in_room", f"no room {room!r} to listen to now")
            await self._end(sid)
            self._lost.pop(sid, None)
            async with self.voice._lock(assembly_id):
                stream = await self._stream_for(assembly_id, room)
                stream.listeners.add(sid)
                if stream.removal is not None:
                    stream.removal.cancel()
                    stream.removal = None
            streaming = stream.media.streaming
            try:
                if streaming is None:
                    raise JanusUnavailable("no Streaming plugin on this Janus")
                handle, offer = await streaming.watch(stream.mountpoint_id)
            except JanusError as problem:
                self._release(stream, sid)
                raise VoiceRefused("voice_unavailable", "the media server refused") from problem
            self._listeners[sid] = Listener(sid, stream, handle)
            if sid not in self.voice.fanout.connections:
                # The socket closed meanwhile, and its leave came before this listener was.
                await self._end(sid)
                raise VoiceRefused("not_connected", "the socket closed")
            return room, offer

    async def answer(self, connection: Connection, answer: Jsep) -> None:
        """The page's SDP answer to the offer: the stream starts. A refused answer changes
        nothing (the page may answer again)."""
        async with self._page(connection.sid):
            listener = self._listeners.get(connection.sid)
            streaming = listener.stream.media.streaming if listener is not None else None
            if listener is None or streaming is None:
                raise VoiceRefused("not_joined", "send voice_listen first")
            if listener.answered:
                raise VoiceRefused("already_joined", "this page answered already")
            try:
                await streaming.start(listener.handle, answer)
            except JanusUnavailable as problem:
                raise VoiceRefused("voice_unavailable", "the media server is down") from problem
            except JanusError as problem:
                raise VoiceRefused(
                    "invalid_sdp", f"the media server refused it: {problem}"
                ) from None
            listener.answered = True

    async def ice(self, connection: Connection, candidate: Json | None) -> bool:
        """Pass a listening page's ICE candidate on; False when the page does not listen."""
        listener = self._listeners.get(connection.sid)
        if listener is None:
            return False
        try:
            await listener.handle.trickle(candidate)
        except JanusError as problem:
            raise VoiceRefused("voice_unavailable", "the media server is down") from problem
        return True

    async def leave(self, sid: str) -> None:
        """Stop listening (`voice_leave`, or the socket closed)."""
        self._lost.pop(sid, None)
        page = self._pages.get(sid)
        if page is None:
            return
        # Waits for a listen in progress, so what it makes is ended too.
        async with page:
            await self._end(sid)
        if not page.locked() and sid not in self.voice.fanout.connections:
            self._pages.pop(sid, None)

    # --- streams made and removed -------------------------------------------------------

    async def _stream_for(self, assembly_id: str, room: str) -> RoomStream:
        """The room's stream, made now when nobody listens yet (under the assembly's lock)."""
        stream = self._streams.get((assembly_id, room))
        if stream is not None and stream.media.available:
            return stream
        if stream is not None:
            raise VoiceRefused("voice_unavailable", "the media server is down: try again")
        media = self.voice._place(assembly_id, room)
        if media is None or media.bridge is None or media.streaming is None:
            raise VoiceRefused("voice_unavailable", "the media server is down: try again")
        room_id = janus_id(assembly_id, room)
        mountpoint_id = janus_id(room_id, secrets.token_hex(MOUNTPOINT_ID_BYTES))
        try:
            await self.voice._ensure_room(media, assembly_id, room)
            mountpoint = await media.streaming.create_mountpoint(
                mountpoint_id, description=f"listening to {room_id}"
            )
        except JanusError as problem:
            raise VoiceRefused("voice_unavailable", "the media server refused") from problem
        try:
            # Same Janus, so loopback: the mix never leaves the media server's host.
            await media.bridge.rtp_forward(room_id, mountpoint.port)
        except JanusError as problem:
            with contextlib.suppress(JanusError, UnknownMountpoint):
                await media.streaming.destroy_mountpoint(mountpoint_id)
            raise VoiceRefused("voice_unavailable", "the media server refused") from problem
        stream = RoomStream(assembly_id, room, media, room_id, mountpoint_id)
        self._streams[(assembly_id, room)] = stream
        return stream

    def _release(self, stream: RoomStream, sid: str) -> None:
        stream.listeners.discard(sid)
        self._remove_when_idle(stream, self.grace_seconds)

    def _remove_when_idle(self, stream: RoomStream, delay: float) -> None:
        if stream.listeners or stream.removal is not None:
            return
        stream.removal = self._spawn(self._remove(stream, delay))

    async def _remove(self, stream: RoomStream, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self.voice._lock(stream.assembly_id):
            stream.removal = None
            key = (stream.assembly_id, stream.room)
            if stream.listeners or self._streams.get(key) is not stream:
                return
            if not stream.media.available:
                # Janus is away: the restart makes it again, and schedules its removal then.
                return
            await self._unmake(stream)
            del self._streams[key]

    @staticmethod
    async def _unmake(stream: RoomStream) -> None:
        """Stop the room's forwarder to the mountpoint, and destroy the mountpoint."""
        bridge, streaming = stream.media.bridge, stream.media.streaming
        mountpoint = streaming.mountpoints.get(stream.mountpoint_id) if streaming else None
        if bridge is None or streaming is None or mountpoint is None:
            return
        try:
            for forwarder in bridge.forwarders:
                if forwarder.room_id == stream.room_id and forwarder.port == mountpoint.port:
                    await bridge.stop_rtp_forward(forwarder)
            await streaming.destroy_mountpoint(stream.mountpoint_id)
        except (JanusError, UnknownRoom, UnknownMountpoint) as problem:
            log.warning(
                "removing a room's stream failed",
                extra={"room": stream.room_id, "reason": str(problem)},
            )

    async def _end(self, sid: str) -> None:
        """End a page's listening, if it listens (under its page lock)."""
        listener = self._listeners.pop(sid, None)
        if listener is None:
            return
        streaming = listener.stream.media.streaming
        if streaming is not None:
            with contextlib.suppress(JanusError):
                await streaming.stop_watching(listener.handle)
        self._release(listener.stream, sid)

    # --- the rooms and the media servers change -----------------------------------------

    def on_commit(self, assembly_id: str) -> None:
        """After a commit: end the listening to rooms that closed (a breakout round's
        recall)."""
        if any(stream.assembly_id == assembly_id for stream in self._streams.values()):
            self._spawn(self._close_ended(assembly_id))

    async def _close_ended(self, assembly_id: str) -> None:
        rooms = [s.room for s in self._streams.values() if s.assembly_id == assembly_id]
        gone = await self.voice._read(
            assembly_id, lambda state: [r for r in rooms if not _listenable(state, r)]
        )
        for room in gone:
            stream = self._streams.get((assembly_id, room))
            if stream is None:
                continue
            for sid in sorted(stream.listeners):
                async with self._page(sid):
                    await self._end(sid)
                await self._tell_ended(sid, room, "room_closed")
            self._remove_when_idle(stream, 0.0)

    def media_lost(self, media: MediaServer) -> None:
        """Janus went away: its listeners' handles are gone with it; they are told, and told
        to listen again once it is back."""
        for listener in [x for x in self._listeners.values() if x.stream.media is media]:
            self._drop_lost(listener)
            self._spawn(self._tell_ended(listener.sid, listener.stream.room, "voice_unavailable"))

    async def media_restarted(self, media: MediaServer) -> None:
        """Janus is back, its mountpoints and forwarders made again: the pages that listened
        listen again; streams nobody comes back to are removed after the grace period."""
        for listener in [x for x in self._listeners.values() if x.stream.media is media]:
            self._drop_lost(listener)
        for sid in [sid for sid, lost in self._lost.items() if lost is media]:
            del self._lost[sid]
            await self.voice.sio.emit("voice_rejoin", {"reason": "media_server_restarted"}, to=sid)
        for stream in [s for s in self._streams.values() if s.media is media]:
            self._remove_when_idle(stream, self.grace_seconds)

    def _drop_lost(self, listener: Listener) -> None:
        self._listeners.pop(listener.sid, None)
        listener.stream.listeners.discard(listener.sid)
        self._lost[listener.sid] = listener.stream.media

    async def _tell_ended(self, sid: str, room: str, reason: str) -> None:
        await self.voice.sio.emit(
            "voice_stream", {"room": room, "live": False, "reason": reason}, to=sid
        )

    # --- small parts ----------------------------------------------------------------------

    def _page(self, sid: str) -> asyncio.Lock:
        return self._pages.setdefault(sid, asyncio.Lock())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        """Stop, removing the streams from Janus: an existing Janus outlives palabre."""
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for stream in list(self._streams.values()):
            if stream.media.available:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(STOP_SECONDS):
                        await self._unmake(stream)
        self._streams.clear()


def _listenable(state: Assembly, room: str) -> bool:
    """Whether observers may listen to `room` now: a room of the assembly, still open."""
    found = state.rooms.get(room)
    return room != ASSEMBLY_STREAM and found is not None and not found.closed
