"""Janus going away, for real: killed, frozen, or forgetting a session. The client notices
within a bounded time and says so, and a restart lets palabre make again what it owns."""

import asyncio
import os
import signal
import time

import pytest

from server.voice.audiobridge import AudioBridge, Participation
from server.voice.janus_client import (
    JanusClient,
    JanusError,
    JanusSession,
    JanusUnavailable,
    SessionGone,
)
from server.voice.janus_link import JanusLink
from server.voice.janus_process import OwnJanus
from server.voice.room_events import ParticipantLeft, RoomEvent
from server.voice.streaming import Streaming
from tests.voice.test_audiobridge import FRESH_MS, muted, until_age

pytestmark = pytest.mark.voice

# A killed Janus resets the long poll at once; a frozen one misses a keepalive.
NOTICE_SECONDS = 3.0
RESTART_SECONDS = 15.0
POLL_SECONDS = 0.02
KEEPALIVE_SECONDS = 0.5
REQUEST_TIMEOUT_SECONDS = 1.0


async def noticed(losses: list[tuple[float, JanusError]]) -> tuple[float, JanusError]:
    deadline = time.monotonic() + NOTICE_SECONDS
    while not losses:
        assert time.monotonic() < deadline, f"the loss went unnoticed for {NOTICE_SECONDS} s"
        await asyncio.sleep(POLL_SECONDS)
    return losses[0]


async def test_a_killed_janus_is_noticed_and_its_restart_brings_back_what_palabre_owns(
    janus: OwnJanus,
) -> None:
    events: list[RoomEvent] = []
    losses: list[tuple[float, JanusError]] = []
    to_rejoin: list[Participation] = []
    admin_key = janus.options.admin_key
    owned: dict[str, AudioBridge | Streaming] = {}

    async def on_session(session: JanusSession) -> None:
        """The recreation policy: the first session opens the bridge, later ones rebind."""
        bridge, streaming = owned.get("bridge"), owned.get("streaming")
        if isinstance(bridge, AudioBridge) and isinstance(streaming, Streaming):
            await streaming.rebind(session)
            to_rejoin.extend(await bridge.rebind(session))
        else:
            owned["bridge"] = await AudioBridge.open(session, admin_key, events.append)
            owned["streaming"] = await Streaming.open(session, admin_key)

    def on_lost(error: JanusError) -> None:
        losses.append((time.monotonic(), error))
        bridge = owned["bridge"]
        assert isinstance(bridge, AudioBridge)
        to_rejoin.extend(bridge.drop_participants())

    async def revive() -> None:
        if not janus.running:
            await janus.restart()

    async with JanusClient(janus.url, janus.options.api_secret) as client:
        link = JanusLink(
            client, on_session=on_session, on_lost=on_lost, revive=revive, retry_seconds=0.2
        )
        link.start()
        try:
            await asyncio.wait_for(link.ready.wait(), RESTART_SECONDS)
            bridge, streaming = owned["bridge"], owned["streaming"]
            assert isinstance(bridge, AudioBridge) and isinstance(streaming, Streaming)
            await bridge.create_room("room-1")
            mountpoint = await streaming.create_mountpoint("room-1-listen")
            await bridge.rtp_forward("room-1", mountpoint.port)
            ann = await bridge.join("room-1", "ann", "Ann")
            first_pid = janus.pid
            assert first_pid is not None

            os.kill(first_pid, signal.SIGKILL)
            killed = time.monotonic()
            at, error = await noticed(losses)
            print(f"janus killed: noticed after {at - killed:.3f} s ({error})")
            assert isinstance(error, JanusUnavailable)
            assert not link.available
            assert ParticipantLeft("room-1", "ann") in events

            await asyncio.wait_for(link.ready.wait(), RESTART_SECONDS)
            print(f"janus restarted and rooms made again after {time.monotonic() - killed:.2f} s")
            assert janus.pid != first_pid
            assert to_rejoin == [ann]
            assert await bridge.list_participants("room-1") == []
            await bridge.join("room-1", "ann", "Ann")
            assert muted(await bridge.list_participants("room-1")) == {"ann": True}
            await until_age(streaming, "room-1-listen", lambda age: age < FRESH_MS)
            assert streaming.mountpoints["room-1-listen"].port == mountpoint.port
        finally:
            await link.stop()


async def test_a_frozen_janus_is_noticed_by_the_keepalive(janus: OwnJanus) -> None:
    losses: list[tuple[float, JanusError]] = []
    async with JanusClient(
        janus.url,
        janus.options.api_secret,
        timeout_seconds=REQUEST_TIMEOUT_SECONDS,
        keepalive_seconds=KEEPALIVE_SECONDS,
    ) as client:
        session = await client.create_session(
            on_lost=lambda error: losses.append((time.monotonic(), error))
        )
        assert janus.pid is not None
        os.kill(janus.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            at, error = await noticed(losses)
        finally:
            os.kill(janus.pid, signal.SIGCONT)
        print(f"janus frozen: noticed after {at - frozen:.3f} s ({error})")
        assert isinstance(error, JanusUnavailable)
        assert session.ended.is_set()
        with pytest.raises(JanusUnavailable):
            await session.attach("janus.plugin.audiobridge")


async def test_a_session_janus_no_longer_knows_is_reported_gone(janus: OwnJanus) -> None:
    losses: list[tuple[float, JanusError]] = []
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        session = await client.create_session(
            on_lost=lambda error: losses.append((time.monotonic(), error))
        )
        # As after a restart: the session is no more, though nothing failed on the way.
        await client.post(session.path, {"janus": "destroy"})
        _, error = await noticed(losses)
        assert isinstance(error, SessionGone)
        assert session.lost is error
