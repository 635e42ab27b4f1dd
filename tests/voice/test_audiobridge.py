"""AudioBridge and Streaming driven through a real Janus, control plane only: people are
joined without media (AudioBridge allows a join without an SDP), and the one RTP stream, a
room's mix forwarded to a mountpoint, runs on loopback."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from server.voice.audiobridge import AudioBridge, ParticipantState, UnknownRoom
from server.voice.janus_client import JanusClient, JanusRefused, JanusSession, Jsep, PluginError
from server.voice.janus_process import OwnJanus
from server.voice.room_events import MuteChanged, ParticipantJoined, ParticipantLeft, RoomEvent
from server.voice.streaming import Streaming
from tests.voice.sockets import bound_sockets

pytestmark = pytest.mark.voice

# Janus answers on loopback in milliseconds; what takes this long is not coming.
EVENT_SECONDS = 5.0
POLL_SECONDS = 0.02
# Error codes of AudioBridge (janus_audiobridge.c) and of the core (apierror.h).
MISSING_ELEMENT = 483
NO_SUCH_ROOM = 485
WRONG_PIN = 489
INVALID_SDP = 465
# A mountpoint fed every 20 ms has heard a packet this recently; one not fed, not.
FRESH_MS = 100
QUIET_MS = 300


@pytest.fixture
async def client(janus: OwnJanus) -> AsyncIterator[JanusClient]:
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        yield client


@pytest.fixture
async def session(client: JanusClient) -> AsyncIterator[JanusSession]:
    session = await client.create_session()
    try:
        yield session
    finally:
        await session.destroy()


@pytest.fixture
def events() -> list[RoomEvent]:
    return []


@pytest.fixture
async def bridge(janus: OwnJanus, session: JanusSession, events: list[RoomEvent]) -> AudioBridge:
    return await AudioBridge.open(session, janus.options.admin_key, events.append)


async def until(what: str, holds: Callable[[], bool]) -> None:
    """Wait, boundedly, for something the long poll brings."""
    deadline = time.monotonic() + EVENT_SECONDS
    while not holds():
        assert time.monotonic() < deadline, f"not within {EVENT_SECONDS} s: {what}"
        await asyncio.sleep(POLL_SECONDS)


def muted(people: list[ParticipantState]) -> dict[str, bool]:
    return {person.participant_id: person.muted for person in people}


async def test_people_join_muted_and_each_join_is_reported_once(
    bridge: AudioBridge, events: list[RoomEvent]
) -> None:
    await bridge.create_room("room-1")
    await bridge.join("room-1", "ann", "Ann")
    await bridge.join("room-1", "bob", "Bob")
    people = await bridge.list_participants("room-1")
    assert {(p.participant_id, p.display, p.muted, p.setup) for p in people} == {
        ("ann", "Ann", True, False),
        ("bob", "Bob", True, False),
    }
    # Ann's handle heard Bob join too: still one event per change.
    await asyncio.sleep(0.2)
    assert events == [
        ParticipantJoined("room-1", "ann", "Ann"),
        ParticipantJoined("room-1", "bob", "Bob"),
    ]


async def test_the_moderator_unmutes_one_person_and_mutes_them_again(
    bridge: AudioBridge, events: list[RoomEvent]
) -> None:
    await bridge.create_room("room-1")
    await bridge.join("room-1", "ann", "Ann")
    await bridge.join("room-1", "bob", "Bob")
    await bridge.unmute("room-1", "ann")
    assert muted(await bridge.list_participants("room-1")) == {"ann": False, "bob": True}
    await until("Ann's unmute reported", lambda: MuteChanged("room-1", "ann", False) in events)
    await bridge.mute("room-1", "ann")
    assert muted(await bridge.list_participants("room-1")) == {"ann": True, "bob": True}
    await until("Ann's mute reported", lambda: MuteChanged("room-1", "ann", True) in events)
    # Both handles heard each change; each is reported once.
    await asyncio.sleep(0.2)
    assert [e for e in events if isinstance(e, MuteChanged)] == [
        MuteChanged("room-1", "ann", False),
        MuteChanged("room-1", "ann", True),
    ]


async def test_changeroom_moves_a_person_muted_even_when_they_were_speaking(
    bridge: AudioBridge, events: list[RoomEvent]
) -> None:
    await bridge.create_room("plenary")
    await bridge.create_room("room-2")
    ann = await bridge.join("plenary", "ann", "Ann")
    await bridge.join("plenary", "bob", "Bob")
    await bridge.unmute("plenary", "ann")
    await bridge.change_room(ann, "room-2")
    assert ann.room_id == "room-2"
    assert muted(await bridge.list_participants("room-2")) == {"ann": True}
    assert muted(await bridge.list_participants("plenary")) == {"bob": True}
    await until("Ann's move reported", lambda: ParticipantJoined("room-2", "ann", "Ann") in events)
    assert ParticipantLeft("plenary", "ann") in events
    # And back again, with the same handle: the recall.
    await bridge.change_room(ann, "plenary")
    assert muted(await bridge.list_participants("plenary")) == {"ann": True, "bob": True}
    assert await bridge.list_participants("room-2") == []


async def test_leaving_and_destroying_a_room_report_who_left(
    bridge: AudioBridge, events: list[RoomEvent]
) -> None:
    await bridge.create_room("room-1")
    ann = await bridge.join("room-1", "ann", "Ann")
    await bridge.join("room-1", "bob", "Bob")
    await bridge.leave(ann)
    assert muted(await bridge.list_participants("room-1")) == {"bob": True}
    assert ParticipantLeft("room-1", "ann") in events
    await bridge.destroy_room("room-1")
    assert ParticipantLeft("room-1", "bob") in events
    assert bridge.participations == []
    with pytest.raises(UnknownRoom):
        await bridge.list_participants("room-1")


async def test_janus_refusals_arrive_as_typed_errors(
    janus: OwnJanus, session: JanusSession, bridge: AudioBridge
) -> None:
    await bridge.create_room("room-1")
    ann = await bridge.join("room-1", "ann", "Ann")
    with pytest.raises(JanusRefused) as bad_sdp:
        await bridge.configure(ann, Jsep(type="offer", sdp="not an SDP"))
    assert bad_sdp.value.code == INVALID_SDP
    # The room's PIN is palabre's: a join without it is refused.
    stranger = await session.attach("janus.plugin.audiobridge")
    with pytest.raises(PluginError) as no_pin:
        await stranger.send({"request": "join", "room": "room-1", "id": "eve", "pin": "guess"})
    assert no_pin.value.code == WRONG_PIN
    with pytest.raises(PluginError) as no_room:
        await stranger.send({"request": "listparticipants", "room": "elsewhere"})
    assert no_room.value.code == NO_SUCH_ROOM
    # Forwarding a room's mix takes the plugin's admin key as well as the room's secret.
    with pytest.raises(PluginError) as no_key:
        await stranger.send(
            {
                "request": "rtp_forward",
                "room": "room-1",
                "secret": bridge.rooms["room-1"].secret,
                "host": "127.0.0.1",
                "port": 9,
            }
        )
    assert no_key.value.code == MISSING_ELEMENT
    assert muted(await bridge.list_participants("room-1")) == {"ann": True}


async def test_a_rooms_mix_reaches_a_mountpoint_made_on_demand_on_loopback(
    janus: OwnJanus, session: JanusSession, bridge: AudioBridge
) -> None:
    streaming = await Streaming.open(session, janus.options.admin_key)
    await bridge.create_room("room-1")
    mountpoint = await streaming.create_mountpoint("room-1-listen")
    assert janus.pid is not None
    before = set(bound_sockets(janus.pid))
    assert all(b.on_loopback for b in before), before
    assert ("udp", mountpoint.port) in {(b.protocol, b.port) for b in before}
    # Nothing arrives yet: the time since the last packet (or creation) only grows.
    await until_age(streaming, "room-1-listen", lambda age: age >= QUIET_MS)
    forwarder = await bridge.rtp_forward("room-1", mountpoint.port)
    assert (forwarder.host, forwarder.port) == ("127.0.0.1", mountpoint.port)
    # The empty room's silence is forwarded (always on): packets arrive every 20 ms.
    await until_age(streaming, "room-1-listen", lambda age: age < FRESH_MS)
    # Janus sends forwarded RTP from one more socket, which it leaves unbound: the kernel
    # gives it an ephemeral port on every address (no setting changes that; see
    # docs/deploy.md). It is the only socket the forwarder adds.
    sending = set(bound_sockets(janus.pid)) - before
    assert len(sending) == 1, sending
    assert all(b.protocol.startswith("udp") and b.address.is_unspecified for b in sending)
    await bridge.stop_rtp_forward(forwarder)
    assert bridge.forwarders == []
    await until_age(streaming, "room-1-listen", lambda age: age >= QUIET_MS)
    await streaming.destroy_mountpoint("room-1-listen")
    assert streaming.mountpoints == {}


async def until_age(streaming: Streaming, mountpoint_id: str, holds: Callable[[int], bool]) -> None:
    deadline = time.monotonic() + EVENT_SECONDS
    while not holds(age := await streaming.media_age_ms(mountpoint_id) or 0):
        assert time.monotonic() < deadline, f"media age still {age} ms"
        await asyncio.sleep(POLL_SECONDS)
