"""The voice benchmark's plumbing: run at its smallest size against a real Janus, it prints
its figures, and the mix really flowed (the run checks every fake participant got it, and
that the probe heard speech only while its room talked). Its figures and checks are also
tested on made-up windows, so a check that could never fail would show."""

import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.voice import (
    PACKETS_PER_SECOND,
    Options,
    Window,
    check,
    fit,
    parse_options,
    summary,
    thread_kind,
    too_many,
)
from bench.voice_media import RtpSender, rtp_payload
from server.voice.audiobridge import AudioBridge, RoomOptions, RtpEndpoint
from server.voice.janus_client import JanusClient, PluginError
from server.voice.janus_process import LOOPBACK, OwnJanus, janus_binary
from tests.conftest import _missing

ROOT = Path(__file__).resolve().parents[2]
# The smallest run takes about 20 s here (espeak-ng and the encode, Janus's start, five
# windows of 2 s with their settling); far above that, it hung.
RUN_SECONDS = 120
ROW = re.compile(
    r"^\s+(?P<rooms>\d+)\s+(?P<people>\d+)\s+(?P<state>no rooms|idle|talking)\s+"
    r"(?P<cores>[\d.]+)\s+(?P<mix>-|[\d.]+ / [\d.]+)"
)


def window(state: str, *, rooms: int = 1, cores: float = 0.1, mix: float = 50.0) -> Window:
    level = -20.0 if state == "talking" else -math.inf
    return Window(
        rooms=rooms,
        people=10 * rooms,
        state=state,
        seconds=10.0,
        janus_cpu=cores * 10.0,
        machine_busy=5.0,
        generator_cpu=1.0,
        threads={},
        mix_min=mix,
        mix_mean=mix,
        levels={f"room-{i + 1}": level for i in range(rooms)},
    )


def options() -> Options:
    return parse_options([])


@pytest.mark.voice
def test_the_smallest_run_prints_its_figures_and_the_mix_flowed() -> None:
    if janus_binary() is None:
        _missing("Janus is not installed (`apt-get install janus`): no `janus` on the PATH")
    if shutil.which("espeak-ng") is None:
        _missing("espeak-ng is not installed (`apt-get install espeak-ng`)")
    result = subprocess.run(
        [sys.executable, "bench/voice.py", "--sizes", "1", "--window-seconds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {m["state"]: m for line in result.stdout.splitlines() if (m := ROW.match(line))}
    assert set(rows) == {"no rooms", "idle", "talking"}, result.stdout
    for state in ("idle", "talking"):
        assert rows[state]["rooms"] == "1" and rows[state]["people"] == "10"
        # Janus did work for the room: its mixer and ten encoders run every 20 ms.
        assert float(rows[state]["cores"]) > 0
        lowest, mean = (float(part) for part in rows[state]["mix"].split(" / "))
        assert mean >= lowest
        assert lowest >= 0.9 * PACKETS_PER_SECOND, result.stdout
    assert "% of a core a room" in result.stdout
    assert "one core at 70% holds" in result.stdout
    assert "PASSED" in result.stdout
    # Janus was stopped: nothing of the run is left on the machine.
    assert "Traceback" not in result.stderr


@pytest.mark.voice
async def test_plain_rtp_joins_only_rooms_that_allow_them_muted_on_loopback(
    janus: OwnJanus,
) -> None:
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        session = await client.create_session()
        try:
            bridge = await AudioBridge.open(session, janus.options.admin_key)
            await bridge.create_room("webrtc-only")
            await bridge.create_room("tools", RoomOptions(allow_rtp_participants=True))
            mine = RtpEndpoint(LOOPBACK, 40_000)
            with pytest.raises(PluginError):
                await bridge.join_rtp("webrtc-only", "ann", "Ann", mine)
            # Refused: nobody joined, no handle kept.
            assert await bridge.list_participants("webrtc-only") == []
            assert bridge.participations == []
            ann, janus_side = await bridge.join_rtp("tools", "ann", "Ann", mine, opus_quality=2)
            assert ann.room_id == "tools" and janus_side.host == LOOPBACK
            assert janus_side.port > 0 and janus_side.payload_type == mine.payload_type
            (person,) = await bridge.list_participants("tools")
            assert (person.participant_id, person.muted) == ("ann", True)
        finally:
            await session.destroy()


def test_a_mix_that_did_not_flow_fails_the_run() -> None:
    problems = check(options(), [window("idle", mix=0.4 * PACKETS_PER_SECOND)])
    assert len(problems) == 1 and "mix packets/s" in problems[0]


def test_speech_not_heard_while_talking_or_heard_while_idle_fails_the_run() -> None:
    silent_talk = window("talking")
    silent_talk.levels["room-1"] = -math.inf
    loud_idle = window("idle")
    loud_idle.levels["room-1"] = -25.0
    problems = check(options(), [silent_talk, loud_idle])
    assert [p.split(":")[0] for p in problems] == ["1 rooms talking", "1 rooms idle"]
    assert check(options(), [window("talking"), window("idle")]) == []


def test_the_fit_gives_the_cost_of_a_room_and_the_rooms_a_core_holds() -> None:
    line = fit([(1, 0.15), (2, 0.27), (4, 0.51), (8, 0.99)])
    assert line.fixed == pytest.approx(0.03)
    assert line.per_room == pytest.approx(0.12)
    assert line.r_squared == pytest.approx(1.0)
    windows = [window("talking", rooms=r, cores=0.03 + 0.12 * r) for r in (1, 2, 4, 8)]
    text = "\n".join(summary(options(), 16_000, windows))
    # 0.7 / 0.12 = 5.8: five rooms a core; 100 rooms need 12 cores.
    assert "12.00 % of a core a room, 1.200 % a person" in text
    assert "holds 5 rooms talking (50 people); 100 rooms talking need 12.00 cores" in text


def test_the_rooms_stop_growing_before_janus_would_pass_its_cap() -> None:
    four = window("talking", rooms=4, cores=0.48)
    assert too_many(four, 8, max_cores=1.4) is False
    assert too_many(four, 12, max_cores=1.4) is True


def test_janus_threads_are_told_apart_by_their_names() -> None:
    assert thread_kind("mixer room-1") == "a room's mixer"
    assert thread_kind("mixer room-1 ro") == "a person's encoder"
    assert thread_kind("rtp room-1 room") == "a person's RTP in"
    assert thread_kind("SCTP timer") == "the rest"


def test_rtp_packets_carry_their_payload_and_advance_20_ms_each() -> None:
    sender = RtpSender(ssrc=0x01020304, payload_type=100)
    first, second = sender.packet(b"abc"), sender.packet(b"de")
    assert rtp_payload(first) == b"abc" and rtp_payload(second) == b"de"
    assert first[1] == 100 and first[8:12] == bytes([1, 2, 3, 4])
    assert int.from_bytes(second[2:4], "big") == 1
    assert int.from_bytes(second[4:8], "big") == 960
    assert rtp_payload(b"\x00" * 20) is None


def test_bad_sizes_and_rates_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--sizes", "0"], ["--sizes", "a"], ["--sampling-rates", "44100"]):
        with pytest.raises(SystemExit) as exit_info:
            parse_options(argv)
        assert exit_info.value.code == 2
    assert "AudioBridge mixes at" in capsys.readouterr().err
