"""The fan-out's encode-once path (server/broadcast.py): the text it puts on the wire is exactly
python-socketio's, each audience of an event is encoded once and every socket gets its copy
with no task per recipient, and a socket that cannot keep up or must wait holds back nobody."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import engineio.packet
import pytest
from socketio.packet import EVENT
from websockets.asyncio.client import ClientConnection, connect

from facilitation import PLENARY_ROOM
from server.broadcast import encode_json, event_packet, start_eagerly
from server.wire import DepthLimitedPacket
from tests.server.harness import (
    WAIT_SECONDS,
    LiveServer,
    acked,
    connected,
    demo_people,
    serving,
    settings_for,
)

PAYLOADS = [
    {"type": "statement_made", "seq": 3, "room": "plenary", "text": "Les loyers ont augmenté"},
    {"nested": {"list": [1, 2.5, None, True, 'é\u2028"quoted"\\'], "empty": {}}},
    {"emoji": "\U0001f5f3 vote", "control": "\x00\x1f", "big": 2**60},
    {},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_event_text_is_byte_for_byte_what_python_socketio_encodes(payload: Any) -> None:
    """Pins the wire format written by hand in server/broadcast.py to python-socketio's own
    encoder: an upgrade that changed the format would fail here, not in the browsers."""
    theirs = DepthLimitedPacket(EVENT, namespace="/", data=["event", payload]).encode()
    ours = event_packet("event", encode_json(payload))
    assert ours.encode() == engineio.packet.Packet(engineio.packet.MESSAGE, theirs).encode()
    # And it reads back as the same event.
    decoded = DepthLimitedPacket(encoded_packet=ours.encode()[1:])
    assert (decoded.packet_type, decoded.data) == (EVENT, ["event", payload])


async def test_a_send_that_need_not_wait_runs_at_once_without_a_task() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    before = len(asyncio.all_tasks())
    assert start_eagerly(send()) is None
    assert done == ["sent"]
    assert len(asyncio.all_tasks()) == before


async def test_a_send_that_must_wait_finishes_in_a_task_while_the_caller_goes_on() -> None:
    release = asyncio.Event()
    steps: list[str] = []

    async def slow() -> str:
        steps.append("started")
        await release.wait()
        steps.append("finished")
        return "value"

    task = start_eagerly(slow())
    steps.append("caller went on")
    assert task is not None
    assert steps == ["started", "caller went on"]
    release.set()
    assert await asyncio.wait_for(task, WAIT_SECONDS) == "value"
    assert steps == ["started", "caller went on", "finished"]


async def test_a_waiting_send_can_be_cancelled_and_cleans_up() -> None:
    cleaned: list[str] = []

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("cleaned")

    task = start_eagerly(stuck())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned"]


async def test_a_failing_send_is_logged_and_not_raised_into_the_fan_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> None:
        raise OSError("connection reset")

    with caplog.at_level(logging.ERROR, logger="palabre.broadcast"):
        assert start_eagerly(broken()) is None
    assert "a send to one socket failed" in caplog.text


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = settings_for(database_url, tmp_path, rate_per_second=1000.0, rate_burst=1000)
    async with serving(settings) as live:
        yield live


def counted(server: LiveServer, name: str) -> float:
    value = server.palabre.metrics.registry.get_sample_value(f"{name}_total")
    return value or 0.0


async def test_each_audience_is_encoded_once_and_gets_its_own_text(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, jurors=3, pseudonymous=True)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
        connected(server.url, token=tokens["j3"]) as j3,
        connected(server.url, assembly="jury", watch=PLENARY_ROOM) as o1,
        connected(server.url, assembly="jury", watch=PLENARY_ROOM) as o2,
    ):
        everyone = (lead, j1, j2, j3, o1, o2)
        encoded, sent = (
            counted(server, "palabre_fanout_encoded"),
            counted(server, "palabre_fanout_sent"),
        )
        seq = await acked(j1, "raise_hand")
        for client in everyone:
            await client.wait_seq(PLENARY_ROOM, seq)
        # One event of the plenary: three audiences, three texts, one copy per socket.
        assert counted(server, "palabre_fanout_encoded") - encoded == 3
        assert counted(server, "palabre_fanout_sent") - sent == len(everyone)
        copies = [client.applied[PLENARY_ROOM][-1] for client in everyone]
        assert all(copy["seq"] == seq and copy["type"] == "hand_raised" for copy in copies)
        # Members and moderators see the juror's id; observers only their pseudonym.
        assert {copy["actor"] for copy in copies[:4]} == {"j1"}
        assert copies[4] == copies[5]
        assert copies[4]["actor"] not in ("j1", "")
        assert "j1" not in json.dumps(copies[4])
        assert all(client.duplicates == 0 for client in everyone)


async def raw_observer(url: str, assembly: str) -> ClientConnection:
    """An observer on a bare websocket that speaks engine.io by hand and never answers a ping."""
    ws = await connect(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        compression=None,
        open_timeout=WAIT_SECONDS,
    )
    opened = await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
    assert str(opened).startswith("0{")
    await ws.send("40" + json.dumps({"assembly": assembly, "watch": PLENARY_ROOM}))
    admitted = await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
    assert str(admitted).startswith("40{"), admitted
    return ws


# A short ping cycle, so that a socket's missing pong is overdue within the test.
PING_INTERVAL_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 2.0


async def test_a_dead_socket_whose_goodbye_is_slow_holds_back_nobody_else(
    server: LiveServer,
) -> None:
    """A socket found dead by a send (its pong overdue) is closed there and then, which runs the
    disconnect handlers, voice's among them (a request to Janus). One that takes its time must
    not hold up the other recipients, nor the next events."""
    eio = server.palabre.sio.eio
    eio.ping_interval, eio.ping_timeout = PING_INTERVAL_SECONDS, PING_TIMEOUT_SECONDS
    goodbye = asyncio.Event()
    leaving: list[str] = []

    async def slow_goodbye(sid: str) -> None:
        leaving.append(sid)
        await goodbye.wait()

    server.palabre.gateway.on_disconnect.append(slow_goodbye)
    tokens = await demo_people(server.organiser, jurors=1)
    # Joined first, so it comes before the others in its audience's sockets.
    dead = await raw_observer(server.url, "jury")

    async def keep_talking() -> None:
        # Engine.io noops keep its reader from timing out, so that only the send finds it dead.
        while True:
            await dead.send("6")
            await asyncio.sleep(0.2)

    talking = asyncio.create_task(keep_talking())
    try:
        async with (
            connected(server.url, token=tokens["lead"]) as lead,
            connected(server.url, assembly="jury", watch=PLENARY_ROOM) as watcher,
        ):
            await asyncio.sleep(PING_INTERVAL_SECONDS + PING_TIMEOUT_SECONDS + 0.5)
            assert not leaving
            first = await acked(lead, "interject", room=PLENARY_ROOM, text="First.")
            second = await acked(lead, "interject", room=PLENARY_ROOM, text="Second.")
            # Both reached the others while the dead socket's goodbye still waits.
            await watcher.wait_seq(PLENARY_ROOM, second)
            await lead.wait_seq(PLENARY_ROOM, second)
            assert len(leaving) == 1
            assert not goodbye.is_set()
            assert [e["seq"] for e in watcher.applied[PLENARY_ROOM]][-2:] == [first, second]
            assert watcher.duplicates == 0
            goodbye.set()
    finally:
        talking.cancel()
        await dead.close()
