"""Observers listening to a room's voice through a real server, real sockets and a real Janus:
the room's mix is forwarded to one Streaming mountpoint however many listen, made on the first
listener and removed after the last, and what observers may not do is refused with a code and
changes nothing. (No media reaches the pages: ICE never completes on loopback; that the
mountpoint receives the mix is read from Janus.)"""

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from facilitation import Role
from server.organiser import Person
from server.voice.janus_client import JanusClient, PluginError
from server.voice.janus_process import JanusOptions, OwnJanus, janus_binary, start_janus
from server.voice.listening import RoomStream
from server.voice.streaming import Mountpoint
from tests.server.harness import (
    LiveServer,
    ManualClock,
    acked,
    demo_people,
    serving,
    settings_for,
    token_of,
)
from tests.voice.test_voice_relay import VoiceClient, sdp_offer
from tests.voice.voiced import janus_settings, serving_voice, until_true

pytestmark = pytest.mark.voice

# The forwarded mix comes every 20 ms (silence included): a mountpoint fed by it has heard
# from it within this long.
FRESH_MS = 200
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.02
# The grace a stream outlives its last listener by, in these tests.
GRACE_SECONDS = 0.3
# The Streaming plugin's error code for an unknown mountpoint.
NO_SUCH_MOUNTPOINT = 455


class Listener(VoiceClient):
    """A socket client that also keeps the `voice_stream` messages it receives."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stream_ends: list[dict[str, Any]] = []
        self.sio.on("voice_stream", self._on_stream)

    def _on_stream(self, data: dict[str, Any]) -> None:
        self._check("voice_stream", data)
        self.stream_ends.append(data)
        self._changed.set()

    async def listen(self, **fields: Any) -> dict[str, Any]:
        return await self.call("voice_listen", fields, "voice_listen_reply")

    async def answer(self, answer: Any) -> dict[str, Any]:
        return await self.call("voice_listen_answer", {"answer": answer}, "voice_reply")


def sdp_answer(offer: str) -> dict[str, str]:
    """A browser-like receive-only answer to Janus's offer, written by hand: its mid and
    payload type are the offer's (Janus checks them); no ICE candidate will ever connect."""
    mid = re.search(r"^a=mid:(\S+)", offer, re.MULTILINE)
    audio = re.search(r"^m=audio \d+ \S+ (\d+)", offer, re.MULTILINE)
    assert mid is not None and audio is not None, offer
    payload = audio.group(1)
    lines = [
        "v=0",
        "o=- 4611731400430051337 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        f"a=group:BUNDLE {mid.group(1)}",
        "a=msid-semantic: WMS",
        f"m=audio 9 UDP/TLS/RTP/SAVPF {payload}",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:palabreL",
        "a=ice-pwd:palabrepalabrepalabre34",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 " + ":".join(["CD"] * 32),
        "a=setup:active",
        f"a=mid:{mid.group(1)}",
        "a=recvonly",
        "a=rtcp-mux",
        f"a=rtpmap:{payload} opus/48000/2",
    ]
    return {"type": "answer", "sdp": "\r\n".join(lines) + "\r\n"}


@pytest.fixture
async def server(sqlite_url: str, tmp_path: Path, janus: OwnJanus) -> AsyncIterator[LiveServer]:
    async with serving_voice(janus_settings(sqlite_url, tmp_path / "data", [janus])) as live:
        live.palabre.voice.listening.grace_seconds = GRACE_SECONDS
        yield live


async def until_async(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL_SECONDS)


async def observer(server: LiveServer, token: str, **auth: Any) -> Listener:
    client = Listener(server.url)
    await client.connect(token=token, **auth)
    return client


async def listening(server: LiveServer, token: str, **fields: Any) -> Listener:
    """An observer that listened and answered."""
    client = await observer(server, token)
    reply = await client.listen(**fields)
    assert reply["ok"], reply
    assert (await client.answer(sdp_answer(reply["offer"]["sdp"]))) == {"ok": True}
    return client


def streams(server: LiveServer) -> dict[tuple[str, str], RoomStream]:
    return server.palabre.voice.listening.streams


def janus_state(server: LiveServer) -> tuple[set[str], set[str]]:
    """The rooms of the mountpoints palabre holds (a mountpoint's id is its room's and a random
    part), and the rooms whose mix it forwards."""
    media = server.palabre.voice.media[0]
    assert media.streaming is not None and media.bridge is not None
    return (
        {mountpoint_id.rsplit("/", 1)[0] for mountpoint_id in media.streaming.mountpoints},
        {f.room_id for f in media.bridge.forwarders},
    )


def mountpoint(server: LiveServer, room: str) -> Mountpoint:
    """The mountpoint of a listened room."""
    streaming = server.palabre.voice.media[0].streaming
    assert streaming is not None
    return streaming.mountpoints[streams(server)[("jury", room)].mountpoint_id]


async def breakout_rooms(server: LiveServer) -> list[str]:
    runtime = await server.palabre.hub.get("jury")
    assert runtime is not None
    return await runtime.read(
        lambda state: sorted(
            r for r, room in state.rooms.items() if r != "plenary" and not room.closed
        )
    )


async def mix_is_fresh(server: LiveServer, room: str) -> bool:
    streaming = server.palabre.voice.media[0].streaming
    assert streaming is not None
    age = await streaming.media_age_ms(streams(server)[("jury", room)].mountpoint_id)
    return age is not None and age < FRESH_MS


async def test_an_observers_voice_listen_gets_a_receive_only_offer_and_its_answer_is_accepted(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    olga = await observer(server, tokens["obs"])
    reply = await olga.listen()
    assert set(reply) == {"ok", "room", "offer"} and reply["room"] == "plenary"
    offer = reply["offer"]
    assert offer["type"] == "offer" and offer["sdp"].startswith("v=0")
    assert "m=audio " in offer["sdp"] and "a=sendonly" in offer["sdp"]
    # Nothing of Janus's: no mountpoint id, secret or PIN.
    made = mountpoint(server, "plenary")
    for secret in ("jury/plenary", made.mountpoint_id, made.secret, made.pin):
        assert secret not in offer["sdp"]
    answered = await olga.answer(sdp_answer(offer["sdp"]))
    assert answered == {"ok": True}
    listener = server.palabre.voice.listening.listening(olga.sio.get_sid())
    assert listener is not None and listener.answered
    again = await olga.answer(sdp_answer(offer["sdp"]))
    assert again["error"] == "already_joined"
    # Trickle reaches the listening page's own handle.
    candidate = {"candidate": "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host", "sdpMid": "a"}
    assert (await olga.call("voice_ice", {"candidate": candidate}, "voice_reply"))["ok"]
    assert (await olga.call("voice_ice", {"candidate": None}, "voice_reply"))["ok"]


async def test_the_mountpoint_receives_the_rooms_forwarded_mix(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    await listening(server, tokens["obs"])
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    await until_async(lambda: mix_is_fresh(server, "plenary"), "the forwarded mix")


async def test_two_observers_share_one_forwarder_and_one_mountpoint(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    second = (await server.organiser.add_people("jury", [observer_person("obs2")])).links
    await listening(server, tokens["obs"])
    await listening(server, token_of(second[0]))
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    media = server.palabre.voice.media[0]
    assert media.bridge is not None and len(media.bridge.forwarders) == 1
    assert len(streams(server)[("jury", "plenary")].listeners) == 2


async def test_after_the_last_listener_leaves_the_forwarder_and_mountpoint_are_removed(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    second = (await server.organiser.add_people("jury", [observer_person("obs2")])).links
    olga = await listening(server, tokens["obs"])
    other = await listening(server, token_of(second[0]))
    assert (await olga.call("voice_leave", {}, "voice_reply")) == {"ok": True}
    await asyncio.sleep(GRACE_SECONDS * 2)
    # One still listens: the stream stays.
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    await other.sio.disconnect()
    await until_true(lambda: not streams(server), "the stream removed")
    assert janus_state(server) == (set(), set())


async def test_a_new_listener_within_the_grace_period_keeps_the_same_stream(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    olga = await listening(server, tokens["obs"])
    port = mountpoint(server, "plenary").port
    assert (await olga.call("voice_leave", {}, "voice_reply")) == {"ok": True}
    reply = await olga.listen()
    assert reply["ok"]
    await asyncio.sleep(GRACE_SECONDS * 2)
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    assert mountpoint(server, "plenary").port == port


async def test_jurors_facilitators_and_the_lead_get_forbidden(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    for person in ("j1", "f1", "lead"):
        client = await observer(server, tokens[person])
        refused = await client.listen()
        assert refused["error"] == "forbidden", (person, refused)
        await client.sio.disconnect()
    assert not streams(server)
    assert janus_state(server) == (set(), set())


async def test_a_bad_answer_gets_invalid_sdp_and_changes_nothing(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    olga = await observer(server, tokens["obs"])
    reply = await olga.listen()
    sid = olga.sio.get_sid()
    good = sdp_answer(reply["offer"]["sdp"])
    for bad in [
        None,
        reply["offer"],
        {"type": "answer"},
        {"type": "answer", "sdp": "hello"},
        {"type": "answer", "sdp": "v=0\r\nm=video 9 UDP 96\r\n"},
        {"type": "answer", "sdp": good["sdp"], "extra": 1},
        {"type": "answer", "sdp": "v=0\r\nm=audio 9 UDP 1\r\n" + ("a=" + "x" * 22 + "\r\n") * 500},
        # Well formed, but no answer to this offer: Janus refuses it.
        {"type": "answer", "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"},
    ]:
        answer = await olga.answer(bad)
        assert answer["error"] == "invalid_sdp", (bad, answer)
        listener = server.palabre.voice.listening.listening(sid)
        assert listener is not None and not listener.answered
    assert (await olga.call("voice_listen_answer", {}, "voice_reply"))["error"] == (
        "invalid_command"
    )
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    assert await olga.answer(good) == {"ok": True}


async def test_voice_listen_answer_before_voice_listen_gets_not_joined(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    olga = await observer(server, tokens["obs"])
    offer = sdp_offer()["sdp"]
    refused = await olga.answer({"type": "answer", "sdp": offer})
    assert refused["error"] == "not_joined"
    assert (await olga.call("voice_ice", {"candidate": None}, "voice_reply"))["error"] == (
        "not_joined"
    )
    assert not streams(server)


async def test_a_room_that_does_not_exist_gets_not_in_room(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    olga = await observer(server, tokens["obs"])
    for room in ("r9-1", "assembly"):
        refused = await olga.listen(room=room)
        assert refused["error"] == "not_in_room", (room, refused)
    for fields in ({"room": 7}, {"room": "x" * 65}, {"watch": "plenary"}):
        refused = await olga.listen(**fields)
        assert refused["error"] == "invalid_command", (fields, refused)
    assert not streams(server)
    assert janus_state(server) == (set(), set())


async def test_an_observer_listens_by_default_to_the_room_their_link_watches(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    lead = Listener(server.url)
    await lead.connect(token=tokens["lead"])
    await acked(lead, "open_round", room_count=2)
    await acked(lead, "start_round")
    room = (await breakout_rooms(server))[0]
    olga = await observer(server, tokens["obs"], watch=room)
    reply = await olga.listen()
    assert reply["ok"] and reply["room"] == room
    assert set(streams(server)) == {("jury", room)}


async def test_listening_to_another_room_ends_the_previous_listening(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    lead = Listener(server.url)
    await lead.connect(token=tokens["lead"])
    await acked(lead, "open_round", room_count=2)
    await acked(lead, "start_round")
    breakout = (await breakout_rooms(server))[0]
    olga = await listening(server, tokens["obs"])
    switched = await olga.listen(room=breakout)
    assert switched["ok"] and switched["room"] == breakout
    assert await olga.answer(sdp_answer(switched["offer"]["sdp"])) == {"ok": True}
    await until_true(lambda: set(streams(server)) == {("jury", breakout)}, "the switch")
    assert janus_state(server) == ({f"jury/{breakout}"}, {f"jury/{breakout}"})
    await until_async(lambda: mix_is_fresh(server, breakout), "the breakout room's mix")


async def test_the_recall_ends_the_listening_to_a_breakout_room_and_says_so(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    lead = Listener(server.url)
    await lead.connect(token=tokens["lead"])
    await acked(lead, "open_round", room_count=2)
    await acked(lead, "start_round")
    breakout = (await breakout_rooms(server))[0]
    olga = await listening(server, tokens["obs"], room=breakout)
    await acked(lead, "close_round")
    await olga.wait_for(lambda: bool(olga.stream_ends), "the end of the stream")
    assert olga.stream_ends == [{"room": breakout, "live": False, "reason": "room_closed"}]
    await until_true(lambda: not streams(server), "the stream removed")
    assert janus_state(server) == (set(), set())
    refused = await olga.listen(room=breakout)
    assert refused["error"] == "not_in_room"


async def test_closing_the_socket_ends_the_listening(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    olga = await listening(server, tokens["obs"])
    sid = olga.sio.get_sid()
    await olga.sio.disconnect()
    await until_true(lambda: server.palabre.voice.listening.listening(sid) is None, "the end")
    await until_true(lambda: not streams(server), "the stream removed")


async def test_after_a_janus_restart_the_listening_page_is_told_and_can_listen_again(
    server: LiveServer, janus: OwnJanus
) -> None:
    tokens = await demo_people(server.organiser)
    olga = await listening(server, tokens["obs"])
    port = mountpoint(server, "plenary").port
    assert janus.pid is not None
    os.kill(janus.pid, signal.SIGKILL)
    await olga.wait_for(lambda: bool(olga.stream_ends), "the stream's end")
    assert olga.stream_ends == [{"room": "plenary", "live": False, "reason": "voice_unavailable"}]
    refused = await olga.answer(sdp_answer(sdp_offer()["sdp"]))
    assert refused["error"] == "not_joined"
    await janus.restart()
    await olga.wait_for(lambda: bool(olga.rejoins), "voice_rejoin")
    assert olga.rejoins == [{"reason": "media_server_restarted"}]
    reply = await olga.listen()
    assert reply["ok"], reply
    assert await olga.answer(sdp_answer(reply["offer"]["sdp"])) == {"ok": True}
    # The mountpoint and forwarder were made again, on the port they had.
    assert janus_state(server) == ({"jury/plenary"}, {"jury/plenary"})
    assert mountpoint(server, "plenary").port == port
    await until_async(lambda: mix_is_fresh(server, "plenary"), "the mix after the restart")


async def test_without_janus_voice_listen_answers_voice_unavailable(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path, janus_urls=[])) as live:
        tokens = await demo_people(live.organiser)
        olga = Listener(live.url)
        await olga.connect(token=tokens["obs"])
        refused = await olga.listen()
        assert refused["error"] == "voice_unavailable"


def observer_person(person: str) -> Person:
    return Person(person, person.title(), Role.OBSERVER)


async def test_with_two_janus_each_rooms_mountpoint_is_on_the_janus_the_room_lives_on(
    sqlite_url: str, tmp_path: Path, janus: OwnJanus
) -> None:
    binary = janus_binary()
    assert binary is not None
    other = await start_janus(
        JanusOptions(
            folder=tmp_path / "janus-2",
            api_secret=janus.options.api_secret,
            admin_key=janus.options.admin_key,
            binary=binary,
        )
    )
    try:
        settings = settings_for(
            sqlite_url,
            tmp_path / "data",
            janus_urls=[janus.url, other.url],
            janus_api_secret=janus.options.api_secret,
            janus_admin_key=janus.options.admin_key,
        )
        async with serving(settings, clock=ManualClock()) as live:
            voice = live.palabre.voice
            await until_true(lambda: all(m.available for m in voice.media), "both Janus")
            tokens = await demo_people(live.organiser)
            lead = Listener(live.url)
            await lead.connect(token=tokens["lead"])
            await acked(lead, "open_round", room_count=2)
            await acked(lead, "start_round")
            rooms = ["plenary", *await breakout_rooms(live)]
            for room in rooms:
                await listening(live, tokens["obs"], room=room)
            placed = {room: voice._place("jury", room) for room in rooms}
            # Least loaded first: the rooms are spread over both.
            assert {id(media) for media in placed.values()} == {id(m) for m in voice.media}
            for room, media in placed.items():
                assert media is not None and media.streaming is not None
                assert media.bridge is not None
                mountpoint_id = voice.listening.streams[("jury", room)].mountpoint_id
                assert mountpoint_id in media.streaming.mountpoints
                assert f"jury/{room}" in media.bridge.rooms
                forwarder = next(f for f in media.bridge.forwarders if f.room_id == f"jury/{room}")
                port = media.streaming.mountpoints[mountpoint_id].port
                assert (forwarder.host, forwarder.port) == ("127.0.0.1", port)
                for elsewhere in voice.media:
                    if elsewhere is not media:
                        assert elsewhere.streaming is not None
                        assert mountpoint_id not in elsewhere.streaming.mountpoints

                async def fresh(media: Any = media, mountpoint_id: str = mountpoint_id) -> bool:
                    age = await media.streaming.media_age_ms(mountpoint_id)
                    return age is not None and age < FRESH_MS

                await until_async(fresh, f"{room}'s mix on its own Janus")
    finally:
        await other.stop()


async def test_stopping_the_server_removes_its_streams_from_janus(
    sqlite_url: str, tmp_path: Path, janus: OwnJanus
) -> None:
    settings = settings_for(
        sqlite_url,
        tmp_path / "data",
        janus_urls=[janus.url],
        janus_api_secret=janus.options.api_secret,
        janus_admin_key=janus.options.admin_key,
    )
    async with serving(settings, clock=ManualClock()) as live:
        await until_true(lambda: live.palabre.voice.available, "voice available")
        tokens = await demo_people(live.organiser)
        await listening(live, tokens["obs"])
        made = mountpoint(live, "plenary")
    # The Janus outlives the server: the mountpoint palabre made is gone from it.
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        session = await client.create_session()
        try:
            handle = await session.attach("janus.plugin.streaming")
            with pytest.raises(PluginError) as gone:
                await handle.send(
                    {"request": "info", "id": made.mountpoint_id, "secret": made.secret}
                )
            assert gone.value.code == NO_SUCH_MOUNTPOINT
        finally:
            await session.destroy()
