"""Voice in the running server, through real sockets and a real Janus: people join muted, the
floor opens and closes their microphones in Janus, moves follow them, and what they may not do
is refused with a code and changes nothing. (No media flows: ICE never completes here.)"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from facilitation import Role
from server.voice.janus_process import OwnJanus
from server.voice.room_events import StartedTalking, StoppedTalking
from tests.server.harness import (
    Client,
    LiveServer,
    ManualClock,
    acked,
    demo_people,
    serving,
    settings_for,
)
from tests.voice.voiced import janus_settings, serving_voice

# The issue's bound from a committed event to Janus's new mute state.
MUTE_WITHIN_MS = 200


def sdp_offer(ufrag: str = "palabreT") -> dict[str, str]:
    """A browser-like audio-only offer, written by hand: Janus answers it although no ICE
    candidate will ever connect."""
    lines = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ufrag}",
        "a=ice-pwd:palabrepalabrepalabre12",
        "a=ice-options:trickle",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
    ]
    return {"type": "offer", "sdp": "\r\n".join(lines) + "\r\n"}


class VoiceClient(Client):
    """A socket client that also keeps the voice messages it receives."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.voice: list[dict[str, Any]] = []
        self.rejoins: list[dict[str, Any]] = []
        self.sio.on("voice", self._on_voice)
        self.sio.on("voice_rejoin", self._on_rejoin)

    def _on_voice(self, data: dict[str, Any]) -> None:
        self._check("voice", data)
        self.voice.append(data)
        self._changed.set()

    def _on_rejoin(self, data: dict[str, Any]) -> None:
        self._check("voice_rejoin", data)
        self.rejoins.append(data)
        self._changed.set()

    async def call(self, event: str, data: Any, reply: str) -> dict[str, Any]:
        answer: dict[str, Any] = await self.raw(event, data)
        self._check(reply, answer)
        return answer


@pytest.fixture
async def server(sqlite_url: str, tmp_path: Path, janus: OwnJanus) -> AsyncIterator[LiveServer]:
    async with serving_voice(janus_settings(sqlite_url, tmp_path / "data", [janus])) as live:
        yield live


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def people(server: LiveServer) -> dict[str, str]:
    return await demo_people(server.organiser)


async def joined(server: LiveServer, token: str, **extra: Any) -> VoiceClient:
    client = VoiceClient(server.url)
    await client.connect(token=token)
    answer = await client.call("voice_join", {"offer": sdp_offer(), **extra}, "voice_join_reply")
    assert answer["ok"], answer
    assert answer["answer"]["type"] == "answer" and answer["answer"]["sdp"].startswith("v=0")
    assert answer["muted"] is True
    return client


async def janus_muted(server: LiveServer, room: str) -> dict[str, bool]:
    bridge = server.palabre.voice.media[0].bridge
    assert bridge is not None
    if f"jury/{room}" not in bridge.rooms:
        return {}
    people = await bridge.list_participants(f"jury/{room}")
    return {p.participant_id.removeprefix("jury/"): p.muted for p in people}


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll Janus until `check` holds; the milliseconds it took."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < 5, f"timed out waiting for {what}"
        await _sleep(0.005)
    return (time.monotonic() - start) * 1000


async def test_joining_answers_an_sdp_answer_and_the_juror_is_muted_in_janus(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    j1 = await joined(server, tokens["j1"])
    assert await janus_muted(server, "plenary") == {"j1": True}
    await j1.wait_for(lambda: bool(j1.voice), "a voice state")
    assert j1.voice[-1] == {
        "available": True,
        "joined": True,
        "room": "plenary",
        "muted": True,
        "why": "no_floor",
    }
    assert j1.you["voice"] == {"available": True, "ice_servers": []}
    again = await j1.call("voice_join", {"offer": sdp_offer()}, "voice_join_reply")
    assert again["error"] == "already_joined"


async def test_floor_granted_unmutes_the_speaker_and_turn_ended_mutes_them_within_200_ms(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    await joined(server, tokens["j1"])
    facilitator = VoiceClient(server.url)
    await facilitator.connect(token=tokens["f1"])

    async def live() -> bool:
        return (await janus_muted(server, "plenary"))["j1"] is False

    async def silent() -> bool:
        return (await janus_muted(server, "plenary"))["j1"] is True

    await acked(facilitator, "grant_floor", participant="j1")
    opened = await until(live, "j1 unmuted")
    await acked(facilitator, "revoke_floor", reason="Time.")
    closed = await until(silent, "j1 muted")
    print(
        f"floor_granted -> unmuted in Janus: {opened:.1f} ms; turn_ended -> muted: {closed:.1f} ms"
    )
    assert opened < MUTE_WITHIN_MS and closed < MUTE_WITHIN_MS


async def test_a_juror_without_the_floor_cannot_unmute_themselves_by_any_message(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    j1 = await joined(server, tokens["j1"])
    refused = await j1.call("voice_mute_self", {"muted": False}, "voice_mute_self_reply")
    assert refused["error"] == "not_your_turn"
    for event, data in [
        ("voice_mute_self", {"muted": False, "room": "plenary"}),
        ("voice_join", {"offer": sdp_offer()}),
        ("voice_ice", {"candidate": None, "muted": False}),
        ("unmute_participant", {"participant": "j1"}),
        ("voice_configure", {"muted": False}),
    ]:
        answer = await j1.raw(event, data)
        assert answer["ok"] is False, (event, answer)
    assert await janus_muted(server, "plenary") == {"j1": True}
    # Muting oneself always works.
    muted = await j1.call("voice_mute_self", {"muted": True}, "voice_mute_self_reply")
    assert muted == {"ok": True, "muted": True}


async def test_open_floor_unmutes_every_juror_not_muted_and_closing_it_mutes_them(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    for juror in ("j1", "j2", "j3"):
        await joined(server, tokens[juror])
    facilitator = VoiceClient(server.url)
    await facilitator.connect(token=tokens["f1"])
    await acked(facilitator, "mute_participant", participant="j3", reason="Noise.")
    await acked(facilitator, "set_room_rules", open_floor=True)
    expected = {"j1": False, "j2": False, "j3": True}

    async def opened() -> bool:
        return await janus_muted(server, "plenary") == expected

    await until(opened, "the open floor")
    await acked(facilitator, "set_room_rules", open_floor=False)

    async def closed() -> bool:
        return all((await janus_muted(server, "plenary")).values())

    await until(closed, "the queue again")


async def test_a_facilitator_unmutes_and_mutes_themselves(server: LiveServer) -> None:
    tokens = await people(server)
    f1 = await joined(server, tokens["f1"])
    assert await janus_muted(server, "plenary") == {"f1": True}
    live = await f1.call("voice_mute_self", {"muted": False}, "voice_mute_self_reply")
    assert live == {"ok": True, "muted": False}
    assert await janus_muted(server, "plenary") == {"f1": False}
    await f1.wait_for(lambda: f1.voice[-1]["why"] == "moderator", "live as moderator")
    assert (await f1.call("voice_mute_self", {"muted": True}, "voice_mute_self_reply"))["muted"]
    assert await janus_muted(server, "plenary") == {"f1": True}


async def test_a_breakout_round_moves_a_jurors_audio_and_the_recall_brings_it_back(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    j1 = await joined(server, tokens["j1"])
    lead = VoiceClient(server.url)
    await lead.connect(token=tokens["lead"])
    await acked(lead, "open_round", room_count=2)
    await acked(lead, "start_round")
    await j1.wait_for(lambda: j1.voice[-1]["room"] != "plenary", "a move")
    breakout = j1.voice[-1]["room"]
    assert j1.voice[-1]["muted"] is True
    assert await janus_muted(server, breakout) == {"j1": True}
    assert await janus_muted(server, "plenary") == {}
    await acked(lead, "close_round")
    await j1.wait_for(lambda: j1.voice[-1]["room"] == "plenary", "the recall")
    assert await janus_muted(server, "plenary") == {"j1": True}
    assert not j1.rejoins


async def test_observers_removed_people_and_bad_signalling_are_refused_and_change_nothing(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    observer = VoiceClient(server.url)
    await observer.connect(token=tokens["obs"])
    refused = await observer.call("voice_join", {"offer": sdp_offer()}, "voice_join_reply")
    assert refused["error"] == "forbidden"
    j1 = VoiceClient(server.url)
    await j1.connect(token=tokens["j1"])
    for offer in [
        None,
        {"type": "answer", "sdp": sdp_offer()["sdp"]},
        {"type": "offer", "sdp": "hello"},
        {"type": "offer", "sdp": "v=0\r\nm=video 9 UDP 96\r\n"},
        {"type": "offer", "sdp": "v=0\r\nm=audio 9 UDP 111\r\n" + ("a=" + "x" * 22 + "\r\n") * 500},
    ]:
        answer = await j1.call("voice_join", {"offer": offer}, "voice_join_reply")
        assert answer["error"] == "invalid_sdp", (offer, answer)
    answer = await j1.call("voice_ice", {"candidate": None}, "voice_reply")
    assert answer["error"] == "not_joined"
    assert await janus_muted(server, "plenary") == {}
    await joined(server, tokens["j2"])
    for candidate in [
        {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "handle": 1},
        {"candidate": "no candidate"},
        {"candidate": "candidate:1", "sdpMLineIndex": True},
        "candidate:1",
    ]:
        answer = await j1.call("voice_ice", {"candidate": candidate}, "voice_reply")
        assert answer["error"] in {"invalid_command", "not_joined"}, (candidate, answer)
    facilitator = VoiceClient(server.url)
    await facilitator.connect(token=tokens["f1"])
    await acked(facilitator, "remove_participant", participant="j2", reason="Abuse.")

    async def gone() -> bool:
        return "j2" not in await janus_muted(server, "plenary")

    await until(gone, "the removed juror's audio leaving")


async def test_without_janus_voice_join_answers_voice_unavailable_and_healthz_says_off(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path, janus_urls=[])) as live:
        tokens = await demo_people(live.organiser)
        j1 = VoiceClient(live.url)
        await j1.connect(token=tokens["j1"])
        assert j1.you["voice"] == {"available": False, "ice_servers": []}
        answer = await j1.call("voice_join", {"offer": sdp_offer()}, "voice_join_reply")
        assert answer["error"] == "voice_unavailable"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{live.url}/healthz")).json()["voice"] == "off"


async def test_talking_events_become_a_voice_recorded_event_at_the_turns_end(
    sqlite_url: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with serving(settings_for(sqlite_url, tmp_path), clock=clock) as live:
        tokens = await demo_people(live.organiser)
        facilitator = VoiceClient(live.url)
        await facilitator.connect(token=tokens["f1"])
        await acked(facilitator, "grant_floor", participant="j1")
        voice = live.palabre.voice
        voice._room_event(None, StartedTalking("jury/plenary", "jury/j1"))  # type: ignore[arg-type]
        clock.advance(4_000)
        voice._room_event(None, StoppedTalking("jury/plenary", "jury/j1"))  # type: ignore[arg-type]
        clock.advance(1_000)
        voice._room_event(None, StartedTalking("jury/plenary", "jury/j1"))  # type: ignore[arg-type]
        clock.advance(1_500)
        await acked(facilitator, "revoke_floor", reason="Time.")
        await facilitator.wait_for(
            lambda: "voice_recorded" in facilitator.types("plenary"), "voice_recorded"
        )
        recorded = [e for e in facilitator.applied["plenary"] if e["type"] == "voice_recorded"]
        assert recorded[0]["voiced_ms"] == {"j1": 5_500}
        assert recorded[0]["to_ms"] - recorded[0]["from_ms"] == 6_500


async def test_a_revoked_invite_takes_its_audio_out_and_disturbs_nobody_else(
    server: LiveServer,
) -> None:
    tokens = await people(server)
    j1 = await joined(server, tokens["j1"])
    invite, token = await server.palabre.invites.issue(
        "jury", "j2", Role.JUROR, now=datetime.now(UTC)
    )
    j2 = await joined(server, token)
    assert await janus_muted(server, "plenary") == {"j1": True, "j2": True}
    assert await server.organiser.revoke(invite.id)

    async def gone() -> bool:
        return await janus_muted(server, "plenary") == {"j1": True}

    await until(gone, "the revoked juror's audio leaving")
    # Shown out: the socket is gone, and coming back with the same invite is refused.
    await j2.wait_for(lambda: not j2.sio.connected, "the revoked juror's socket closing")
    assert j1.rejoins == [] and j1.voice[-1]["joined"] is True


async def test_the_talking_threshold_comes_from_the_settings(
    sqlite_url: str, tmp_path: Path, janus: OwnJanus
) -> None:
    settings = janus_settings(
        sqlite_url, tmp_path / "data", [janus], voice_talking_level=40, voice_talking_packets=50
    )
    async with serving_voice(settings) as live:
        tokens = await people(live)
        await joined(live, tokens["j1"])
        bridge = live.palabre.voice.media[0].bridge
        assert bridge is not None
        options = bridge.rooms["jury/plenary"].options
        assert (options.audio_level_average, options.audio_active_packets) == (40, 50)
