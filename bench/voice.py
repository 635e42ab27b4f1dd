"""What voice costs the media server: Janus's CPU for rooms of 10 with one speaker each.

Starts palabre's own Janus (server/voice/janus_process.py: loopback only, its own config, a
fresh API secret) and drives it with palabre's own AudioBridge client, as the server does:
each room is made with palabre's room options (16 kHz mix by default, talking events on) and
each person joins muted. The people are fake: plain RTP participants on 127.0.0.1 (an
AudioBridge room option meant for tools, never for browsers), so the load generator needs no
WebRTC stack. Every person sends a 20 ms Opus packet every 20 ms, as a browser with a live
microphone does: the speaker real speech (espeak-ng, encoded once by libopus through ctypes),
the listeners encoded silence. Janus mixes each room and sends each person their own mix (the
room minus themselves), which every fake participant receives and counts on its own UDP
socket; one listener a room (the probe) decodes it, to tell speech from silence.

The rooms grow through `--sizes` (1, 2, 4 and 8 rooms by default). At each size Janus's CPU
is measured over a window (`--window-seconds`) twice: idle, everyone joined and muted (as a
room waiting for its first turn), and talking, each room's speaker unmuted by the moderator's
`unmute` (as `floor_granted` does). A window with no rooms gives Janus's own cost. The figure
is the CPU time Janus used (utime + stime of its process, all its threads, from /proc), not
wall time, so other programs on the machine change it little; the run still prints how busy
the machine was. A least-squares line through the sizes gives the cost of one room talking
and idle, and from it how many rooms one core holds with headroom (`--headroom`).

What it checks, each window: every fake participant received its mix at 50 packets a second
(at least 90 % of them), each probe heard speech in its room when talking (`--speech-dbfs`)
and silence when idle. A run that fails a check exits with status 1: its figures would not
measure what they claim. The rooms stop growing before a size that would take Janus past
`--max-janus-cores` (70 % of the machine's cores by default): beyond that Janus would compete
with the load generator and the rest of the machine, and the mix would fall behind.

Every loop is bounded in count and time: the sizes are a short list, each wait has a timeout,
the RTP pump stops at `--cap-seconds`, and Janus is stopped at the end, on failure, Ctrl-C and
SIGTERM (and by the kernel if this process dies: palabre's own Janus exits with its parent).

Run: `make bench-voice`, or `.venv/bin/python bench/voice.py --help` for the sizes.
"""

import argparse
import asyncio
import contextlib
import math
import operator
import os
import random
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import machine_cpu_seconds, temporary_folder
from bench.voice_media import (
    FRAME_MS,
    OpusDecoder,
    OpusUnavailable,
    RtpSender,
    SpeechUnavailable,
    opus_frames,
    rtp_payload,
    silence_frames,
    speech_pcm,
)
from server.voice.audiobridge import (
    OPUS_PAYLOAD_TYPE,
    SAMPLING_RATE_HZ,
    AudioBridge,
    RoomOptions,
    RtpEndpoint,
)
from server.voice.janus_client import JanusClient, JanusSession
from server.voice.janus_process import (
    LOOPBACK,
    JanusNotInstalled,
    JanusOptions,
    JanusStartFailed,
    OwnJanus,
    janus_binary,
    own_janus,
)

PACKETS_PER_SECOND = 1000 // FRAME_MS
# The rates AudioBridge can mix at.
SAMPLING_RATES_HZ = (8_000, 12_000, 16_000, 24_000, 48_000)
# A fake participant that got less than this share of its mix's packets was not served.
MIX_DELIVERED_FRACTION = 0.9
# The probe's level when its room is idle must stay under this (digital silence decodes to
# -inf; Opus's noise floor stays far below it).
SILENCE_DBFS = -60.0
# Different speakers start at different places of the recording, as real rooms would.
SILENCE_VARIANTS = 3
# Enough for one datagram of any Opus packet Janus sends.
RECEIVE_BYTES = 2_048
# The pump catches up after a stall this long instead of sending a burst.
PUMP_RESYNC_SECONDS = 0.1
PUMP_STOP_SECONDS = 5.0
# How long the mix takes to settle after a change (joins, unmutes): Janus's jitter buffers
# and the probe's decoder.
SETTLE_SECONDS = 2.0
# AudioBridge's default complexity of each person's Opus encoder (its `quality`).
JANUS_OPUS_QUALITY = 4
# Speech from the Opus bitrate a browser uses by default.
BITRATE_BPS = 32_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    sizes: tuple[int, ...]
    people: int
    sampling_rates: tuple[int, ...]
    window_seconds: float
    headroom: float
    speech_dbfs: float
    max_janus_cores: float
    cap_seconds: float
    opus_quality: int | None


def _numbers(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"give one or more positive numbers: {text!r}")
    return values


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="Janus CPU for palabre's voice rooms: rooms of 10 with one speaker each, "
        "fake participants as plain RTP on 127.0.0.1."
    )
    parser.add_argument(
        "--sizes",
        type=_numbers,
        default=(1, 2, 4, 8),
        help="numbers of rooms, measured in this order as the rooms grow; a size that would take "
        "Janus past --max-janus-cores is skipped (default 1,2,4,8)",
    )
    parser.add_argument(
        "--people", type=int, default=10, help="people a room, one of them the speaker (10)"
    )
    parser.add_argument(
        "--sampling-rates",
        type=_numbers,
        default=(SAMPLING_RATE_HZ,),
        help=f"the rooms' mix rate in Hz, each a run of its own (default {SAMPLING_RATE_HZ}, "
        "palabre's; AudioBridge takes 8000, 12000, 16000, 24000, 48000)",
    )
    parser.add_argument(
        "--window-seconds",
        type=float,
        default=8.0,
        help="how long Janus's CPU is measured in each state at each size (default 8)",
    )
    parser.add_argument(
        "--headroom",
        type=float,
        default=0.7,
        help="the share of a core Janus may use when rooms are counted per core (default 0.7)",
    )
    parser.add_argument(
        "--speech-dbfs",
        type=float,
        default=-45.0,
        help="the level above which a probe hears speech in its room (default -45)",
    )
    parser.add_argument(
        "--max-janus-cores",
        type=float,
        default=max(0.5, (os.cpu_count() or 1) * 0.7),
        help="the rooms stop growing before Janus would use more cores than this (default 70%% "
        "of the machine's)",
    )
    parser.add_argument(
        "--cap-seconds",
        type=float,
        default=600.0,
        help="wall-clock cap on the RTP pump of each run (default 600)",
    )
    parser.add_argument(
        "--opus-quality",
        type=int,
        choices=range(11),
        metavar="0-10",
        default=None,
        help="the complexity of Janus's encoder of each person's mix (AudioBridge's `quality`); "
        f"by default Janus's own ({JANUS_OPUS_QUALITY}), which palabre leaves as it is",
    )
    args = parser.parse_args(argv)
    if args.people < 2:
        parser.error("--people: a room needs a speaker and at least one listener")
    if args.window_seconds <= 0 or args.cap_seconds <= 0:
        parser.error("--window-seconds and --cap-seconds must be positive")
    if not set(args.sampling_rates) <= set(SAMPLING_RATES_HZ):
        parser.error(f"--sampling-rates: AudioBridge mixes at {SAMPLING_RATES_HZ} Hz only")
    if not 0 < args.headroom <= 1:
        parser.error("--headroom is a share of a core, above 0 and at most 1")
    return Options(
        sizes=tuple(sorted(set(args.sizes))),
        people=args.people,
        sampling_rates=args.sampling_rates,
        window_seconds=args.window_seconds,
        headroom=args.headroom,
        speech_dbfs=args.speech_dbfs,
        max_janus_cores=args.max_janus_cores,
        cap_seconds=args.cap_seconds,
        opus_quality=args.opus_quality,
    )


# --- Fake participants and the RTP pump -------------------------------------------------------


@dataclass
class FakeParticipant:
    """One person of a room as plain RTP: a UDP socket on loopback where Janus sends their mix,
    and the frames they send to Janus's port for them."""

    room_id: str
    participant_id: str
    sock: socket.socket
    frames: Sequence[bytes]
    sender: RtpSender
    next_frame: int
    decoder: OpusDecoder | None = None
    janus_address: tuple[str, int] | None = None
    received_packets: int = 0
    received_bytes: int = 0

    def send_and_drain(self) -> None:
        if self.janus_address is not None:
            payload = self.frames[self.next_frame % len(self.frames)]
            self.next_frame += 1
            self.sock.sendto(self.sender.packet(payload), self.janus_address)
        while True:
            try:
                packet = self.sock.recv(RECEIVE_BYTES)
            except BlockingIOError:
                return
            self.received_packets += 1
            self.received_bytes += len(packet)
            if self.decoder is not None:
                mixed = rtp_payload(packet)
                if mixed is not None:
                    self.decoder.decode(mixed)


class RtpPump:
    """A thread that, every 20 ms, sends each fake participant's next packet and takes in what
    Janus sent them; paced on an absolute schedule, so the rate holds while the event loop
    talks to Janus."""

    def __init__(self, cap_seconds: float) -> None:
        self._participants: list[FakeParticipant] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cap_seconds = cap_seconds
        self._thread = threading.Thread(target=self._run, name="rtp-pump", daemon=True)
        self.ticks = 0
        self.late_ticks = 0
        self.capped = False
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def add(self, participant: FakeParticipant) -> None:
        with self._lock:
            self._participants = [*self._participants, participant]

    @property
    def participants(self) -> list[FakeParticipant]:
        return self._participants

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(PUMP_STOP_SECONDS)

    def _run(self) -> None:
        started = time.monotonic()
        deadline = started + self._cap_seconds
        due = started
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now > deadline:
                    self.capped = True
                    return
                for participant in self._participants:
                    participant.send_and_drain()
                self.ticks += 1
                due += FRAME_MS / 1000
                now = time.monotonic()
                if now - due > PUMP_RESYNC_SECONDS:
                    self.late_ticks += 1
                    due = now
                self._stop.wait(max(0.0, due - now))
        except BaseException as error:
            self.failure = error


# --- Janus's CPU ------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command come state (field 3) ... utime (14) and stime (15).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_kind(name: str) -> str:
    """What an AudioBridge thread does, from its name (cut at 15 characters by the kernel):
    `mixer <room>` mixes a room, `mixer <room> <person>` encodes one person's mix, `rtp <room>
    <person>` takes in a plain RTP participant's packets."""
    words = name.split()
    if words[:1] == ["mixer"]:
        return "a room's mixer" if len(words) == 2 else "a person's encoder"
    if words[:1] == ["rtp"]:
        return "a person's RTP in"
    return "the rest"


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds by kind of thread, from /proc/<pid>/task."""
    by_kind: dict[str, float] = defaultdict(float)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            text = (task / "stat").read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            by_kind[thread_kind(name)] += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return dict(by_kind)


@dataclass
class Window:
    """What one measurement window saw."""

    rooms: int
    people: int
    state: str
    seconds: float
    janus_cpu: float
    machine_busy: float
    # This process: the fake participants and the control of Janus.
    generator_cpu: float
    threads: dict[str, float]
    mix_min: float
    mix_mean: float
    # Each probe's level over the window, by room.
    levels: dict[str, float] = field(default_factory=dict)
    late_ticks: int = 0

    @property
    def janus_cores(self) -> float:
        return self.janus_cpu / self.seconds

    @property
    def machine_cores(self) -> float:
        return self.machine_busy / self.seconds

    @property
    def generator_cores(self) -> float:
        return self.generator_cpu / self.seconds


async def measure(
    janus: OwnJanus, pump: RtpPump, rooms: int, people: int, state: str, seconds: float
) -> Window:
    pid = janus.pid
    if pid is None:
        raise JanusStartFailed("Janus is not running")
    participants = pump.participants
    for probe in participants:
        if probe.decoder is not None:
            probe.decoder.take_level()
    packets = [p.received_packets for p in participants]
    late = pump.late_ticks
    threads = thread_cpu_seconds(pid)
    cpu, busy, own = process_cpu_seconds(pid), machine_cpu_seconds(), time.process_time()
    start = time.monotonic()
    await asyncio.sleep(seconds)
    cpu, busy = process_cpu_seconds(pid) - cpu, machine_cpu_seconds() - busy
    own = time.process_time() - own
    elapsed = time.monotonic() - start
    after = thread_cpu_seconds(pid)
    rates = [
        (p.received_packets - before) / elapsed
        for p, before in zip(participants, packets, strict=True)
    ]
    levels = {p.room_id: p.decoder.take_level() for p in participants if p.decoder is not None}
    return Window(
        rooms=rooms,
        people=people,
        state=state,
        seconds=elapsed,
        janus_cpu=cpu,
        machine_busy=busy,
        generator_cpu=own,
        threads={kind: after[kind] - threads.get(kind, 0.0) for kind in after},
        mix_min=min(rates, default=0.0),
        mix_mean=sum(rates) / len(rates) if rates else 0.0,
        levels=levels,
        late_ticks=pump.late_ticks - late,
    )


# --- The run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audio:
    speech: list[bytes]
    silence: list[bytes]
    seconds: float


def prepare_audio(folder: Path) -> Audio:
    speech = opus_frames(speech_pcm(folder), BITRATE_BPS)
    return Audio(
        speech, silence_frames(SILENCE_VARIANTS, BITRATE_BPS), len(speech) * FRAME_MS / 1000
    )


async def add_room(
    bridge: AudioBridge,
    pump: RtpPump,
    audio: Audio,
    index: int,
    options: Options,
    sampling_rate: int,
    sockets: list[socket.socket],
) -> str:
    """A room as palabre makes it, with `people` fake participants joined muted: the first
    speaks, the second is the probe."""
    room_id = f"room-{index + 1}"
    await bridge.create_room(
        room_id,
        RoomOptions(
            description=f"bench {room_id}",
            sampling_rate_hz=sampling_rate,
            allow_rtp_participants=True,
        ),
    )
    for seat in range(options.people):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sockets.append(sock)
        sock.bind((LOOPBACK, 0))
        sock.setblocking(False)
        speaker = seat == 0
        participant = FakeParticipant(
            room_id=room_id,
            participant_id=f"{room_id}-p{seat + 1}",
            sock=sock,
            frames=audio.speech if speaker else audio.silence,
            sender=RtpSender(secrets.randbits(32), OPUS_PAYLOAD_TYPE),
            next_frame=random.randrange(len(audio.speech)) if speaker else 0,
            decoder=OpusDecoder() if seat == 1 else None,
        )
        _, janus_side = await bridge.join_rtp(
            room_id,
            participant.participant_id,
            f"{'speaker' if speaker else 'listener'} {seat + 1}",
            RtpEndpoint(LOOPBACK, sock.getsockname()[1], OPUS_PAYLOAD_TYPE),
            opus_quality=options.opus_quality,
        )
        if janus_side.host != LOOPBACK:
            raise JanusStartFailed(f"Janus takes RTP on {janus_side.host}, not on loopback")
        participant.janus_address = (janus_side.host, janus_side.port)
        pump.add(participant)
    return room_id


async def sweep(options: Options, audio: Audio, folder: Path, sampling_rate: int) -> list[Window]:
    """One Janus, the rooms grown through the sizes, each size measured idle then talking."""
    binary = janus_binary()
    if binary is None:
        raise JanusNotInstalled("no `janus` on the PATH (`apt-get install janus`)")
    janus_options = JanusOptions(
        folder=folder / f"janus-{sampling_rate}",
        api_secret=secrets.token_urlsafe(16),
        admin_key=secrets.token_urlsafe(16),
        binary=binary,
    )
    windows: list[Window] = []
    sockets: list[socket.socket] = []
    pump = RtpPump(options.cap_seconds)
    started = time.monotonic()
    async with own_janus(janus_options) as janus:
        print(
            f"\n{sampling_rate} Hz rooms: Janus pid {janus.pid}, answering in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        print(header(), flush=True)
        async with (
            JanusClient(janus.url, janus_options.api_secret) as client,
            session_of(client) as session,
        ):
            bridge = await AudioBridge.open(session, janus_options.admin_key)
            pump.start()
            try:
                await asyncio.sleep(SETTLE_SECONDS)
                windows.append(await measure(janus, pump, 0, 0, "no rooms", options.window_seconds))
                print(row(windows[-1]), flush=True)
                rooms: list[str] = []
                for size in options.sizes:
                    while len(rooms) < size:
                        rooms.append(
                            await add_room(
                                bridge, pump, audio, len(rooms), options, sampling_rate, sockets
                            )
                        )
                    people = size * options.people
                    await asyncio.sleep(SETTLE_SECONDS)
                    idle = await measure(janus, pump, size, people, "idle", options.window_seconds)
                    windows.append(idle)
                    print(row(idle), flush=True)
                    for room_id in rooms:
                        await bridge.unmute(room_id, f"{room_id}-p1")
                    await asyncio.sleep(SETTLE_SECONDS)
                    talking = await measure(
                        janus, pump, size, people, "talking", options.window_seconds
                    )
                    windows.append(talking)
                    print(row(talking), flush=True)
                    for room_id in rooms:
                        await bridge.mute(room_id, f"{room_id}-p1")
                    pump_problem(pump)
                    if check(options, [idle, talking]):
                        print(
                            f"  the checks failed at {size} rooms (see below): the rooms stop "
                            "growing here",
                            flush=True,
                        )
                        break
                    following = [later for later in options.sizes if later > size]
                    if following and too_many(talking, following[0], options.max_janus_cores):
                        print(
                            f"  {following[0]} rooms would take Janus past "
                            f"{options.max_janus_cores:.2f} cores: the rooms stop growing here",
                            flush=True,
                        )
                        break
                print(thread_breakdown(windows), flush=True)
            finally:
                pump.stop()
                for sock in sockets:
                    sock.close()
                for participant in pump.participants:
                    if participant.decoder is not None:
                        participant.decoder.close()
    return windows


def too_many(talking: Window, rooms: int, max_cores: float) -> bool:
    """Whether `rooms` talking would cost Janus more than `max_cores`, at this window's cost a
    room: past it, the rooms would compete for the machine and the mix fall behind."""
    return talking.janus_cores / talking.rooms * rooms > max_cores


def pump_problem(pump: RtpPump) -> None:
    if pump.failure is not None:
        raise RuntimeError(f"the RTP pump failed: {pump.failure!r}") from pump.failure
    if pump.capped:
        raise RuntimeError("the RTP pump reached --cap-seconds before the run ended")


@contextlib.asynccontextmanager
async def session_of(client: JanusClient) -> AsyncIterator[JanusSession]:
    session = await client.create_session()
    try:
        yield session
    finally:
        await session.destroy()


# --- Figures ----------------------------------------------------------------------------------


def header() -> str:
    return (
        f"  {'rooms':>5} {'people':>6}  {'state':<9}{'Janus cores':>12}"
        f"{'mix pkt/s min / mean':>22}  {'probe dBFS':>20}{'this process':>14}"
        f"{'machine':>9}"
    )


def row(window: Window) -> str:
    levels = list(window.levels.values())
    if not levels:
        heard = "-"
    elif window.state == "talking":
        heard = f"quietest {min(levels):.1f}"
    else:
        loudest = max(levels)
        heard = "loudest -inf" if math.isinf(loudest) else f"loudest {loudest:.1f}"
    mix = f"{window.mix_min:.1f} / {window.mix_mean:.1f}" if window.people else "-"
    late = f"  ({window.late_ticks} late ticks)" if window.late_ticks else ""
    return (
        f"  {window.rooms:>5} {window.people:>6}  {window.state:<9}{window.janus_cores:>12.4f}"
        f"{mix:>22}  {heard:>20}{window.generator_cores:>14.2f}{window.machine_cores:>9.2f}"
        f"{late}"
    )


def thread_breakdown(windows: list[Window]) -> str:
    """Where Janus's CPU went in the largest talking window, by kind of thread."""
    talking = [w for w in windows if w.state == "talking"]
    if not talking:
        return ""
    largest = talking[-1]
    total = sum(largest.threads.values()) or 1.0
    parts = sorted(largest.threads.items(), key=operator.itemgetter(1), reverse=True)
    shown = ", ".join(f"{kind} {seconds / total:.0%}" for kind, seconds in parts)
    return f"  Janus's CPU by thread at {largest.rooms} rooms talking: {shown}"


@dataclass(frozen=True)
class Line:
    """cores = fixed + per_room x rooms, fitted by least squares."""

    fixed: float
    per_room: float
    r_squared: float


def fit(points: list[tuple[int, float]]) -> Line:
    count = len(points)
    mean_x = sum(x for x, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return Line(0.0, mean_y / mean_x if mean_x else 0.0, float("nan"))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    fixed = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for _, y in points)
    residual = sum((y - fixed - slope * x) ** 2 for x, y in points)
    return Line(fixed, slope, 1 - residual / total if total else float("nan"))


def summary(options: Options, sampling_rate: int, windows: list[Window]) -> list[str]:
    """The line through the windows that passed their checks (one whose mix fell behind
    measured a Janus that could not do its work), and the rooms a core holds."""
    lines = [f"\n{sampling_rate} Hz rooms of {options.people}, cores = fixed + per room x rooms:"]
    failed = [w for w in windows if check(options, [w])]
    if failed:
        lines.append(
            "  left out, as they failed their checks: "
            + ", ".join(f"{w.rooms} rooms {w.state}" for w in failed)
        )
    per_room: dict[str, float] = {}
    for state in ("idle", "talking"):
        points = [(w.rooms, w.janus_cores) for w in windows if w.state == state and w not in failed]
        if not points:
            continue
        line = fit(points)
        per_room[state] = line.per_room
        shape = (
            f"{line.fixed:.4f} + {line.per_room:.5f} x rooms (r² {line.r_squared:.3f})"
            if len(points) > 1
            else f"{line.per_room:.5f} x rooms (one size: no fixed part told apart)"
        )
        lines.append(
            f"  {state:<8} {shape}: {line.per_room * 100:.2f} % of a core a room, "
            f"{line.per_room * 100 / options.people:.3f} % a person"
        )
    talking = per_room.get("talking")
    if talking and talking > 0:
        held = math.floor(options.headroom / talking)
        lines.append(
            f"  one core at {options.headroom:.0%} holds {held} rooms talking "
            f"({held * options.people:,} people); 100 rooms talking need "
            f"{100 * talking:.2f} cores"
        )
    return lines


def check(options: Options, windows: list[Window]) -> list[str]:
    """What makes the figures wrong: a mix not delivered, speech not heard, or heard in an
    idle room."""
    problems = []
    for window in windows:
        where = f"{window.rooms} rooms {window.state}"
        if window.people and window.mix_min < MIX_DELIVERED_FRACTION * PACKETS_PER_SECOND:
            problems.append(
                f"{where}: a fake participant received {window.mix_min:.1f} mix packets/s "
                f"(expected {PACKETS_PER_SECOND})"
            )
        for room_id, level in window.levels.items():
            if window.state == "talking" and not level >= options.speech_dbfs:
                problems.append(f"{where}: {room_id}'s probe heard {level:.1f} dBFS, not speech")
            if window.state == "idle" and level > SILENCE_DBFS:
                problems.append(f"{where}: {room_id}'s probe heard {level:.1f} dBFS, not silence")
    return problems


def describe(options: Options) -> str:
    rates = ", ".join(f"{rate} Hz" for rate in options.sampling_rates)
    sizes = ", ".join(str(size) for size in options.sizes)
    quality = (
        f"Opus quality {options.opus_quality}"
        if options.opus_quality is not None
        else f"Janus's Opus quality ({JANUS_OPUS_QUALITY})"
    )
    return (
        f"palabre voice benchmark: Janus AudioBridge, rooms of {options.people} (1 speaker), "
        f"{sizes} rooms; {rates}; {quality}; windows of {options.window_seconds:g} s; "
        "plain RTP on "
        f"{LOOPBACK}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start"
    )


async def run(options: Options) -> int:
    """The whole run: 0 when every check held, 1 otherwise. Janus is stopped whatever
    happens."""
    print(describe(options), flush=True)
    problems: list[str] = []
    try:
        with temporary_folder("palabre-bench-voice-") as folder:
            audio = prepare_audio(folder)
            print(
                f"speech: {audio.seconds:.1f} s of espeak-ng in {len(audio.speech)} Opus frames "
                f"of {FRAME_MS} ms, {BITRATE_BPS // 1000} kb/s, looped; listeners send encoded "
                "silence",
                flush=True,
            )
            results = []
            for sampling_rate in options.sampling_rates:
                windows = await sweep(options, audio, folder, sampling_rate)
                results.append((sampling_rate, windows))
                problems.extend(check(options, windows))
            for sampling_rate, windows in results:
                print("\n".join(summary(options, sampling_rate, windows)), flush=True)
    except (JanusNotInstalled, JanusStartFailed, OpusUnavailable, SpeechUnavailable) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    except Exception:
        print("FAILED: the run broke off:", file=sys.stderr)
        traceback.print_exc()
        return 1
    if problems:
        print("\nchecks FAILED:\n  " + "\n  ".join(problems), flush=True)
        return 1
    print(
        f"\nchecks: every mix delivered (at least {MIX_DELIVERED_FRACTION:.0%} of "
        f"{PACKETS_PER_SECOND} packets/s to each person), speech heard in every talking room, "
        "silence in every idle one: PASSED",
        flush=True,
    )
    return 0


async def main_task(options: Options) -> int:
    """The run, cancelled by a SIGTERM as by a Ctrl-C; a second SIGTERM ends the process at
    once (the kernel then stops Janus, which exits with its parent)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        loop.remove_signal_handler(signal.SIGTERM)
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    return await run(options)


def main() -> None:
    options = parse_options()
    try:
        status = asyncio.run(main_task(options))
    except (KeyboardInterrupt, asyncio.CancelledError):
        # Janus was stopped on the way out (own_janus), the sockets closed, the folder removed.
        print("interrupted: Janus stopped", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":
    main()
