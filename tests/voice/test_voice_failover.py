"""Several media servers (PALABRE_JANUS_URLS): each room lives on one, the least loaded, and
a media server's failure moves its rooms to another that is up, without disturbing the rooms
on the others."""

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.voice.janus_process import OwnJanus, own_janus
from tests.server.harness import LiveServer, demo_people
from tests.voice.test_voice_listen import listening, sdp_answer
from tests.voice.test_voice_relay import joined
from tests.voice.voiced import janus_settings, serving_voice

pytestmark = pytest.mark.voice


@pytest.fixture
async def second_janus(janus: OwnJanus, tmp_path: Path) -> AsyncIterator[OwnJanus]:
    """Another Janus with the same secrets, as a deployment's second media server."""
    options = dataclasses.replace(janus.options, folder=tmp_path / "janus-2")
    async with own_janus(options) as other:
        yield other


@pytest.fixture
async def server(
    sqlite_url: str, tmp_path: Path, janus: OwnJanus, second_janus: OwnJanus
) -> AsyncIterator[LiveServer]:
    settings = janus_settings(sqlite_url, tmp_path / "data", [janus, second_janus])
    async with serving_voice(settings) as live:
        yield live


def hosting(server: LiveServer, room_id: str) -> list[str]:
    """The API URLs of the media servers up now that have the room."""
    return [
        media.client.url
        for media in server.palabre.voice.media
        if media.available and media.bridge is not None and room_id in media.bridge.rooms
    ]


async def test_rooms_spread_over_the_media_servers_and_a_failure_moves_only_its_rooms(
    server: LiveServer, janus: OwnJanus, second_janus: OwnJanus
) -> None:
    jury = await demo_people(server.organiser, "jury")
    other = await demo_people(server.organiser, "other")
    staying = await joined(server, jury["j1"])
    moving = await joined(server, other["j1"])
    # An observer listens to the room that will move.
    listener = await listening(server, other["obs"])
    # Least loaded first: the second room goes to the other media server.
    (first,) = hosting(server, "jury/plenary")
    (second,) = hosting(server, "other/plenary")
    assert {first, second} == {janus.url, second_janus.url}
    failing = janus if second == janus.url else second_janus

    await failing.stop()
    await moving.wait_for(lambda: bool(moving.rejoins), "the page to be asked to join again")
    assert moving.rejoins == [{"reason": "media_server_lost"}]
    assert moving.voice[-1]["joined"] is False
    again = await moving.call("voice_join", {"offer": _offer()}, "voice_join_reply")
    assert again["ok"], again
    assert hosting(server, "other/plenary") == [first]
    # The observer is told at once too, and listens again, from the Janus that took it over.
    await listener.wait_for(lambda: bool(listener.rejoins), "the listener's rejoin")
    assert listener.rejoins == [{"reason": "media_server_lost"}]
    assert listener.stream_ends[-1]["reason"] == "voice_unavailable"
    offer = await listener.listen()
    assert offer["ok"], offer
    assert (await listener.answer(sdp_answer(offer["offer"]["sdp"]))) == {"ok": True}
    stream = server.palabre.voice.listening.streams[("other", "plenary")]
    assert stream.media.client.url == first
    # The room on the server that stayed up never noticed.
    await asyncio.sleep(0.5)
    assert staying.rejoins == []
    assert staying.voice[-1]["joined"] is True
    assert server.palabre.voice.health() == "ok"


def _offer() -> dict[str, str]:
    from tests.voice.test_voice_relay import sdp_offer

    return sdp_offer(secrets.token_hex(4))
