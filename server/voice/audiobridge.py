"""The AudioBridge operations palabre needs: rooms it owns, people joined to them (always
muted), the moderator's mute and unmute, moves between rooms, the mix forwarded to a
stream, and what happens in the rooms as typed events (server/voice/room_events.py).

Each person has their own handle, which palabre holds: a browser never sees a Janus session
or handle, nor a room's secret (which would make them an admin whom a room mute cannot
silence). The room's PIN and secret stay in this process.
"""

import contextlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from server.voice.janus_client import (
    HandleEvent,
    JanusError,
    JanusRefused,
    JanusSession,
    Jsep,
    Json,
    PluginEvent,
    PluginHandle,
)
from server.voice.janus_process import LOOPBACK
from server.voice.room_events import RoomEvent, RoomMirror

AUDIOBRIDGE_PLUGIN = "janus.plugin.audiobridge"
# Speech needs no more than wideband: the mix, and each person's encode of it, cost less than
# at 48 kHz.
SAMPLING_RATE_HZ = 16_000
# Packets of 20 ms whose levels Janus averages before it says someone talks or stopped: 25 is
# half a second, so a `talking` comes about 0.5 s after speech starts.
AUDIO_ACTIVE_PACKETS = 25
# The average level (-dBov: 0 is loudest, 127 silence) under which a person is talking;
# Janus's own default.
AUDIO_LEVEL_AVERAGE = 25
# The RTP payload type of the forwarded Opus mix; a Streaming mountpoint must expect the same.
OPUS_PAYLOAD_TYPE = 100


class UnknownRoom(LookupError):
    """A room this bridge did not create (or has destroyed)."""


@dataclass(frozen=True)
class RoomOptions:
    description: str = ""
    sampling_rate_hz: int = SAMPLING_RATE_HZ
    audio_active_packets: int = AUDIO_ACTIVE_PACKETS
    audio_level_average: int = AUDIO_LEVEL_AVERAGE
    # Plain RTP participants: tools and benchmarks on this machine, never browsers.
    allow_rtp_participants: bool = False


@dataclass(frozen=True)
class BridgeRoom:
    """A room palabre owns on Janus, with what it takes to make it again after a restart."""

    room_id: str
    secret: str
    pin: str
    options: RoomOptions


@dataclass(frozen=True)
class Forwarder:
    """A room's mix sent as RTP to `host:port` (a Streaming mountpoint)."""

    room_id: str
    stream_id: int
    host: str
    port: int
    payload_type: int


@dataclass(frozen=True)
class RtpEndpoint:
    """Where a plain RTP participant's audio goes: an address on loopback, and the payload
    type of its Opus packets."""

    host: str
    port: int
    payload_type: int = OPUS_PAYLOAD_TYPE


@dataclass(frozen=True)
class ParticipantState:
    """One person as `listparticipants` shows them."""

    participant_id: str
    display: str | None
    muted: bool
    # Whether a PeerConnection (or plain RTP) carries their audio.
    setup: bool
    # Known only in rooms with audio levels, once media flows.
    talking: bool | None


@dataclass
class Participation:
    """One person's place in AudioBridge: their own handle and the room they are in."""

    participant_id: str
    display: str
    room_id: str
    handle: PluginHandle = field(repr=False)


class AudioBridge:
    """The AudioBridge rooms palabre owns in one Janus session, and the people in them."""

    def __init__(
        self,
        session: JanusSession,
        control: PluginHandle,
        admin_key: str,
        on_event: Callable[[RoomEvent], None] | None,
    ) -> None:
        self._session = session
        # Room-wide requests (create, mute, listparticipants, rtp_forward) go through a handle
        # that joins nothing.
        self._control = control
        self._admin_key = admin_key
        self._on_event = on_event
        self._rooms: dict[str, BridgeRoom] = {}
        self._forwarders: dict[int, Forwarder] = {}
        self._participations: dict[str, Participation] = {}
        self._mirror = RoomMirror()

    @classmethod
    async def open(
        cls,
        session: JanusSession,
        admin_key: str,
        on_event: Callable[[RoomEvent], None] | None = None,
    ) -> "AudioBridge":
        return cls(session, await session.attach(AUDIOBRIDGE_PLUGIN), admin_key, on_event)

    @property
    def rooms(self) -> Mapping[str, BridgeRoom]:
        return self._rooms

    @property
    def forwarders(self) -> list[Forwarder]:
        return list(self._forwarders.values())

    @property
    def participations(self) -> list[Participation]:
        return list(self._participations.values())

    def talking(self, room_id: str) -> set[str]:
        """Who is heard talking in the room now."""
        return self._mirror.talking(room_id)

    async def create_room(self, room_id: str, options: RoomOptions | None = None) -> BridgeRoom:
        """A new room with its own secret and PIN, emitting talking events."""
        room = BridgeRoom(
            room_id, secrets.token_urlsafe(24), secrets.token_urlsafe(24), options or RoomOptions()
        )
        await self._create(room)
        self._rooms[room_id] = room
        return room

    async def _create(self, room: BridgeRoom) -> None:
        await self._control.send(
            {
                "request": "create",
                "room": room.room_id,
                "admin_key": self._admin_key,
                "description": room.options.description or room.room_id,
                "secret": room.secret,
                "pin": room.pin,
                "is_private": True,
                "sampling_rate": room.options.sampling_rate_hz,
                "audiolevel_event": True,
                "audio_active_packets": room.options.audio_active_packets,
                "audio_level_average": room.options.audio_level_average,
                "allow_rtp_participants": room.options.allow_rtp_participants,
            }
        )

    async def destroy_room(self, room_id: str) -> None:
        """End the room; the people in it leave (their handles are let go)."""
        room = self._room(room_id)
        await self._control.send({"request": "destroy", "room": room_id, "secret": room.secret})
        del self._rooms[room_id]
        for stream_id in [f.stream_id for f in self._forwarders.values() if f.room_id == room_id]:
            del self._forwarders[stream_id]
        for participation in self.participations:
            if participation.room_id == room_id:
                del self._participations[participation.participant_id]
                with contextlib.suppress(JanusError):
                    await participation.handle.detach()
        self._emit(self._mirror.apply({"audiobridge": "destroyed", "room": room_id}))

    async def join(self, room_id: str, participant_id: str, display: str) -> Participation:
        """Put a person in a room, muted, on a handle of their own (no media yet: that comes
        with `configure`)."""
        room = self._room(room_id)
        handle = await self._session.attach(AUDIOBRIDGE_PLUGIN, on_event=self._handle_event)
        try:
            reply = await handle.send(
                {
                    "request": "join",
                    "room": room_id,
                    "id": participant_id,
                    "display": display,
                    "pin": room.pin,
                    # AudioBridge joins people unmuted unless told: never leave it out.
                    "muted": True,
                }
            )
        except JanusError:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        # Janus's answer leaves out the joiner's own display name.
        self._emit(self._mirror.apply({**reply.data, "display": display}))
        participation = Participation(participant_id, display, room_id, handle)
        self._participations[participant_id] = participation
        return participation

    async def join_rtp(
        self,
        room_id: str,
        participant_id: str,
        display: str,
        receive: RtpEndpoint,
        *,
        opus_quality: int | None = None,
    ) -> tuple[Participation, RtpEndpoint]:
        """Put a plain RTP participant in a room, muted (tools and benchmarks on this machine:
        the room must allow them). Janus sends the person's mix to `receive` once it has had
        one packet from them; returned with the address Janus takes their packets on.
        `opus_quality` is the complexity (0 to 10) of the encoder of the person's mix; None
        leaves Janus's default, as `join` does."""
        room = self._room(room_id)
        request: Json = {
            "request": "join",
            "room": room_id,
            "id": participant_id,
            "display": display,
            "pin": room.pin,
            "muted": True,
            "rtp": {
                "ip": receive.host,
                "port": receive.port,
                "payload_type": receive.payload_type,
            },
        }
        if opus_quality is not None:
            request["quality"] = opus_quality
        handle = await self._session.attach(AUDIOBRIDGE_PLUGIN, on_event=self._handle_event)
        try:
            reply = await handle.send(request)
            sending = reply.data.get("rtp")
            if not isinstance(sending, dict):
                raise JanusRefused(0, "a plain RTP join answered without Janus's RTP address")
            host, port = sending.get("ip"), sending.get("port")
            if not isinstance(host, str) or not isinstance(port, int):
                raise JanusRefused(0, f"a plain RTP join answered with {sending!r}")
        except JanusError:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        self._emit(self._mirror.apply({**reply.data, "display": display}))
        participation = Participation(participant_id, display, room_id, handle)
        self._participations[participant_id] = participation
        return participation, RtpEndpoint(host, port, receive.payload_type)

    async def configure(self, participation: Participation, offer: Jsep) -> Jsep:
        """Janus's SDP answer to the browser's offer. Nothing else is configured: a person's
        mute is the moderator's alone."""
        reply = await participation.handle.send({"request": "configure"}, jsep=offer)
        if reply.jsep is None:
            raise JanusRefused(0, "AudioBridge answered an offer without an SDP answer")
        return reply.jsep

    async def trickle(self, participation: Participation, candidate: Json | None) -> None:
        """One of the browser's ICE candidates for this person's PeerConnection."""
        await participation.handle.trickle(candidate)

    async def mute(self, room_id: str, participant_id: str) -> None:
        await self._moderate("mute", room_id, participant_id)

    async def unmute(self, room_id: str, participant_id: str) -> None:
        await self._moderate("unmute", room_id, participant_id)

    async def _moderate(self, request: str, room_id: str, participant_id: str) -> None:
        room = self._room(room_id)
        await self._control.send(
            {"request": request, "room": room_id, "id": participant_id, "secret": room.secret}
        )

    async def change_room(self, participation: Participation, room_id: str) -> None:
        """Move a person to another room on the same PeerConnection, muted there."""
        room = self._room(room_id)
        reply = await participation.handle.send(
            {
                "request": "changeroom",
                "room": room_id,
                "id": participation.participant_id,
                "display": participation.display,
                "pin": room.pin,
                # As with join: unmuted unless told.
                "muted": True,
            }
        )
        participation.room_id = room_id
        self._emit(self._mirror.apply({**reply.data, "display": participation.display}))

    async def list_participants(self, room_id: str) -> list[ParticipantState]:
        self._room(room_id)
        reply = await self._control.send({"request": "listparticipants", "room": room_id})
        people = reply.data.get("participants")
        return [
            ParticipantState(
                participant_id=str(entry.get("id")),
                display=display if isinstance(display := entry.get("display"), str) else None,
                muted=entry.get("muted") is True,
                setup=entry.get("setup") is True,
                talking=talking if isinstance(talking := entry.get("talking"), bool) else None,
            )
            for entry in (people if isinstance(people, list) else [])
            if isinstance(entry, dict)
        ]

    async def leave(self, participation: Participation) -> None:
        """Take a person out of their room and let their handle go (and with it their
        PeerConnection)."""
        self._participations.pop(participation.participant_id, None)
        try:
            reply = await participation.handle.send({"request": "leave"})
            self._emit(self._mirror.apply(reply.data))
        finally:
            with contextlib.suppress(JanusError):
                await participation.handle.detach()

    async def rtp_forward(
        self,
        room_id: str,
        port: int,
        *,
        host: str = LOOPBACK,
        payload_type: int = OPUS_PAYLOAD_TYPE,
    ) -> Forwarder:
        """Send the room's mix as Opus RTP to `host:port`, silence included when nobody is
        in, so a stream started before the first speaker starts at once."""
        room = self._room(room_id)
        reply = await self._control.send(
            {
                "request": "rtp_forward",
                "room": room_id,
                "secret": room.secret,
                "admin_key": self._admin_key,
                "host": host,
                "port": port,
                "ptype": payload_type,
                "codec": "opus",
                "always_on": True,
            }
        )
        stream_id = reply.data.get("stream_id")
        if not isinstance(stream_id, int):
            raise JanusRefused(0, "rtp_forward answered without a stream id")
        forwarder = Forwarder(room_id, stream_id, host, port, payload_type)
        self._forwarders[stream_id] = forwarder
        return forwarder

    async def stop_rtp_forward(self, forwarder: Forwarder) -> None:
        room = self._room(forwarder.room_id)
        await self._control.send(
            {
                "request": "stop_rtp_forward",
                "room": forwarder.room_id,
                "stream_id": forwarder.stream_id,
                "secret": room.secret,
                "admin_key": self._admin_key,
            }
        )
        self._forwarders.pop(forwarder.stream_id, None)

    def drop_participants(self) -> list[Participation]:
        """Forget everyone joined (their session is gone: Janus went away), reporting each
        as stopped talking and gone; what is returned is who must join again."""
        dropped = self.participations
        self._participations.clear()
        self._emit(self._mirror.forget_all())
        return dropped

    async def rebind(self, session: JanusSession) -> list[Participation]:
        """Make again, in a new session (after Janus restarted), every room and forwarder
        this bridge owns; returns the people who were joined, who must join again."""
        dropped = self.drop_participants()
        self._session = session
        self._control = await session.attach(AUDIOBRIDGE_PLUGIN)
        for room in self._rooms.values():
            await self._create(room)
        forwarders = list(self._forwarders.values())
        self._forwarders.clear()
        for forwarder in forwarders:
            await self.rtp_forward(
                forwarder.room_id,
                forwarder.port,
                host=forwarder.host,
                payload_type=forwarder.payload_type,
            )
        return dropped

    def _room(self, room_id: str) -> BridgeRoom:
        room = self._rooms.get(room_id)
        if room is None:
            raise UnknownRoom(room_id)
        return room

    def _handle_event(self, event: HandleEvent) -> None:
        if isinstance(event, PluginEvent):
            self._emit(self._mirror.apply(event.data))

    def _emit(self, changes: list[RoomEvent]) -> None:
        if self._on_event is not None:
            for change in changes:
                self._on_event(change)
