"""End-to-end load on the live server, over loopback: many rooms deliberating at once.

Starts palabre in its own process (uvicorn, as in production, on a free loopback port, with a
fresh SQLite file or a fresh PostgreSQL database), sets up an assembly through the organiser's
HTTP API (a lead, facilitators, jurors with balancing attributes), has the lead open and start a
breakout round, connects every juror and facilitator plus anonymous observers with
python-socketio over websocket, and drives every room at once through a fixed number of cycles
of a lively deliberation: hands, turns with statements, a question with a position, arguments
and endorsements, a poll in which every juror votes. Each room waits for each ack before its next
step, as the people in it would, so every room keeps at most one command in flight (a whole
room's ballots during a vote) and the server sees as many concurrent writers as there are rooms.

It prints what decides whether a room feels live to the people in it:

- connection + sync time: what a juror waits for when opening the page (or after a drop);
- command ack latency by group (floor, posts, polls): what the sender of a command waits for;
- fan-out latency: from the ack at the sender to the same event (room, seq) reaching every
  other member, facilitator and observer of the room: how long the others wait to see it;
- commands/s and events delivered/s: the throughput the whole assembly gets;
- the server's peak RSS and CPU time, and its own `palabre_fanout_seconds` histogram (commit
  to the last emit handed to the sockets), to tell the server's share from the clients'.

By default each room sends its next step as soon as the last is acked: the run measures the
server's capacity, and its latencies are those of a saturated server (by Little's law, the
commands in flight over the throughput: they grow with the number of rooms). `--pace-ms` spaces
each room's steps (drawn from 0.5x to 1.5x the pace, so rooms drift apart as real ones do) to
measure latency at a given pace below capacity.

Every client runs in this one process, on the same machine as the server. The server is one
process with one event loop, so it uses at most about one core; the load generator needs about
half a core more. The CPU each used over the workload is printed, with what the rest of the
machine used (the database server, and any other program: a busy machine lowers every figure,
and the run says so). Latencies are measured with one clock (this process's), so fan-out needs
no clock synchronisation; an event may reach another client before the ack reaches its
sender, so a few fan-out figures are negative.

Every loop is bounded in count and in time: a fixed number of cycles per room, a timeout on
every call, and a wall-clock cap on the workload, past which the rooms stop and the figures
cover what was done. The run fails (exit status 1) only when it could not complete: the server
did not start or died, or the setup failed. The server process is always stopped.

Run: `make bench`, or `.venv/bin/python bench/server.py --help` for the sizes (the target is
1,000 jurors in 100 rooms: `--jurors 1000 --rooms 100 --facilitators 100 --observers 300`).
"""

import argparse
import asyncio
import contextlib
import os
import random
import resource
import sys
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import socketio
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import (
    ASSEMBLY_STREAM,
    ServerProcess,
    SetupFailed,
    fresh_postgres,
    latency_header,
    latency_row,
    machine_cpu_seconds,
    mib,
    open_and_start_round,
    organise,
    people,
    round_rooms,
    seat,
    temporary_folder,
)
from bench.room_script import COMMAND_GROUPS, GROUPS, CreatedIds, RoomScript

ASSEMBLY_ID = "bench"
# High enough that the per-connection rate limit never refuses a command of the workload.
RATE_PER_SECOND = 10_000
UNLIMITED_RATE = {
    "PALABRE_RATE_PER_SECOND": str(RATE_PER_SECOND),
    "PALABRE_RATE_BURST": str(RATE_PER_SECOND),
}
# After the last ack, how long to wait for the last events to reach everyone.
DRAIN_QUIET_SECONDS = 0.5
DRAIN_MAX_SECONDS = 10.0
# Above this, something besides the server, the load generator (and its database) was busy.
BUSY_MACHINE_CORES = 0.25
AUDIENCES = ("members", "moderators", "observers")


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    jurors: int
    rooms: int
    facilitators: int
    observers: int
    cycles: int
    pace_ms: int
    cap_seconds: float
    connect_concurrency: int
    timeout_seconds: float
    database_url: str | None


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="End-to-end load benchmark of the live palabre server, over loopback."
    )
    parser.add_argument("--jurors", type=int, default=300, help="jurors (default 300)")
    parser.add_argument("--rooms", type=int, default=30, help="breakout rooms (default 30)")
    parser.add_argument(
        "--facilitators",
        type=int,
        default=30,
        help="facilitators, spread over the rooms by the "
        "round; a room without one is run by the lead (default 30)",
    )
    parser.add_argument(
        "--observers", type=int, default=100, help="anonymous observers (default 100)"
    )
    parser.add_argument("--cycles", type=int, default=6, help="cycles per room (default 6)")
    parser.add_argument(
        "--pace-ms",
        type=int,
        default=0,
        help="mean pause in each room between two steps, drawn from 0.5x to 1.5x; 0 sends "
        "the next as soon as acked (default)",
    )
    parser.add_argument(
        "--cap-seconds",
        type=float,
        default=180.0,
        help="wall-clock cap on the workload; the rooms stop there (default 180)",
    )
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=50,
        help="clients connecting at once (default 50)",
    )
    parser.add_argument(
        "--timeout-seconds", type=float, default=30.0, help="timeout of any one call (default 30)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to run on, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/"
        "test: a fresh database is created on it for the run and dropped after "
        "(default: a SQLite file in a temporary folder)",
    )
    args = parser.parse_args(argv)
    if min(args.jurors, args.rooms, args.cycles, args.connect_concurrency) < 1:
        parser.error("--jurors, --rooms, --cycles and --connect-concurrency must be at least 1")
    if min(args.facilitators, args.observers, args.pace_ms) < 0:
        parser.error("--facilitators, --observers and --pace-ms cannot be negative")
    if args.jurors < 4 * args.rooms:
        parser.error("each room needs at least 4 jurors for the script: raise --jurors")
    return Options(
        jurors=args.jurors,
        rooms=args.rooms,
        facilitators=args.facilitators,
        observers=args.observers,
        cycles=args.cycles,
        pace_ms=args.pace_ms,
        cap_seconds=args.cap_seconds,
        connect_concurrency=args.connect_concurrency,
        timeout_seconds=args.timeout_seconds,
        database_url=args.database_url,
    )


@contextlib.asynccontextmanager
async def database(options: Options, folder: Path) -> AsyncIterator[str]:
    """The database URL for the run: a SQLite file, or a fresh PostgreSQL database dropped after."""
    if options.database_url is None:
        yield f"sqlite+aiosqlite:///{folder / 'palabre.sqlite3'}"
        return
    async with fresh_postgres(options.database_url, "palabre_bench") as url:
        yield url


# --- What every client hears ------------------------------------------------------------------


@dataclass
class Recorder:
    """Every ack and every event arrival, timed on this process's one clock."""

    recording: bool = False
    # (room, seq, arrival time, receiver index) of each event received while recording.
    arrivals: list[tuple[str, int, float, int]] = field(default_factory=list)
    # (room, seq) -> (ack time, sender index), for fan-out latency.
    acks: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)
    ack_seconds: dict[str, list[float]] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)
    created: CreatedIds = field(default_factory=CreatedIds)

    def arrived(self, receiver: int, payload: dict[str, Any], at: float) -> None:
        if self.recording:
            self.arrivals.append((payload["room"], payload["seq"], at, receiver))
        self.created.arrived(payload)

    async def id_at(self, command: str, room: str, seq: int, timeout: float) -> str | None:
        """The id created by event `seq` of `room`, once any client has received it."""
        found = await self.created.wait(room, seq, timeout)
        if found is None:
            self.refusals[f"{command}: acked, but its event never came"] += 1
        return found

    def acked(
        self, command: str, room: str, sender: int, sent_at: float, acked_at: float, ack: Any
    ) -> int | None:
        """Note one answered command; the seq of its event when it was accepted."""
        self.ack_seconds.setdefault(command, []).append(acked_at - sent_at)
        if not isinstance(ack, dict) or not ack.get("ok"):
            error = ack.get("error") if isinstance(ack, dict) else repr(ack)
            self.refusals[f"{command}: {error}"] += 1
            return None
        seq = int(ack["seq"])
        self.acks.setdefault((room, seq), (acked_at, sender))
        return seq

    def failed(self, command: str, problem: BaseException) -> None:
        self.refusals[f"{command}: {type(problem).__name__}"] += 1


class Peer:
    """One person's socket: a juror, a facilitator, the lead or an observer."""

    def __init__(
        self, index: int, name: str, role: str, recorder: Recorder, http: aiohttp.ClientSession
    ) -> None:
        self.index = index
        self.name = name
        self.role = role
        self.recorder = recorder
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http)
        self.sio.on("event", self._on_event)
        self.you: dict[str, Any] = {}
        # Per stream: the seq the client started from, and every seq received after.
        self.start: dict[str, int] = {}
        self.seen: dict[str, set[int]] = {}
        self.duplicates = 0

    @property
    def audience(self) -> str:
        return {"juror": "members", "observer": "observers"}.get(self.role, "moderators")

    def _on_event(self, payload: dict[str, Any]) -> None:
        at = time.perf_counter()
        seen = self.seen.setdefault(payload["room"], set())
        if payload["seq"] in seen:
            self.duplicates += 1
        seen.add(payload["seq"])
        self.recorder.arrived(self.index, payload, at)

    async def join(self, url: str, auth: dict[str, str], timeout: float) -> float:
        """Connect and sync from scratch; return the seconds it took."""
        started = time.perf_counter()
        await self.sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=timeout)
        await self.sync(timeout)
        return time.perf_counter() - started

    async def sync(self, timeout: float) -> dict[str, Any]:
        """Sync from scratch: a snapshot of every stream followed; the reply."""
        reply: dict[str, Any] = await self.sio.call("sync", {"resume": {}}, timeout=timeout)
        if not reply.get("ok"):
            raise SetupFailed(f"{self.name}: sync refused: {reply}")
        self.you = reply["you"]
        for stream, view in reply["snapshots"].items():
            self.start[stream] = view["seq"]
        for event in reply["events"]:
            self.start[event["room"]] = max(self.start.get(event["room"], 0), event["seq"])
        return reply

    async def leave(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()

    def missing(self, heads: dict[str, int]) -> int:
        """Events of the rooms this client follows that it never received."""
        lost = 0
        for stream, start in self.start.items():
            if stream == ASSEMBLY_STREAM:
                continue
            received = {seq for seq in self.seen.get(stream, ()) if seq > start}
            lost += max(0, heads.get(stream, start) - start - len(received))
        return lost


# --- The room script --------------------------------------------------------------------------


class CapReached(Exception):
    """The workload's wall-clock cap passed: the room stops where it is."""


@dataclass
class Room:
    id: str
    chair: Peer
    jurors: list[Peer]


class RoomDriver(RoomScript[Peer]):
    """Plays one room's cycles, each command timed by the recorder, until the cap."""

    def __init__(self, room: Room, recorder: Recorder, options: Options, deadline: float) -> None:
        super().__init__(room.id, room.chair, room.jurors, options.pace_ms)
        self.recorder = recorder
        self.timeout = options.timeout_seconds
        self.deadline = deadline
        self.cut = False

    async def run(self, cycles: int) -> None:
        try:
            await self.pause()
            for cycle in range(cycles):
                await self.cycle(cycle)
        except CapReached:
            self.cut = True

    async def send(self, person: Peer, command: str, **fields: Any) -> int | None:
        """Send one command and wait for its ack; the seq of its event, or None if refused."""
        started = time.perf_counter()
        if started >= self.deadline:
            raise CapReached
        try:
            ack = await person.sio.call(
                command, {**fields, "room": self.room_id}, timeout=self.timeout
            )
        except Exception as problem:
            self.recorder.failed(command, problem)
            return None
        seq = self.recorder.acked(
            command, self.room_id, person.index, started, time.perf_counter(), ack
        )
        await self.pause()
        return seq

    async def created(self, person: Peer, command: str, **fields: Any) -> str | None:
        """Send a command that creates a post or a poll; the new id, from its event."""
        seq = await self.send(person, command, **fields)
        if seq is None:
            return None
        return await self.recorder.id_at(command, self.room_id, seq, self.timeout)


# --- Setting the rooms up ---------------------------------------------------------------------


async def start_round(lead: Peer, options: Options) -> list[dict[str, Any]]:
    """The lead opens and starts the round; its rooms, with who sits in each."""
    await open_and_start_round(lead.sio.call, options.rooms, options.timeout_seconds)
    # Afresh, so the lead starts every room's stream from its snapshot.
    return round_rooms(await lead.sync(options.timeout_seconds))


def crowd(
    tokens: dict[str, str],
    rooms: list[dict[str, Any]],
    options: Options,
    recorder: Recorder,
    http: aiohttp.ClientSession,
) -> list[tuple[Peer, dict[str, str]]]:
    """Every client but the lead, with its auth: facilitators and jurors, then observers spread
    over the rooms; shuffled (with a fixed seed), as people arrive in no particular order."""
    plans: list[tuple[Peer, dict[str, str]]] = []
    for name, token in sorted(tokens.items()):
        if name != "lead":
            role = "juror" if name.startswith("j") else "facilitator"
            plans.append((Peer(len(plans) + 1, name, role, recorder, http), {"token": token}))
    for n in range(options.observers):
        watch = rooms[n % len(rooms)]["room_id"]
        observer = Peer(len(plans) + 1, f"observer-{n}", "observer", recorder, http)
        plans.append((observer, {"assembly": ASSEMBLY_ID, "watch": watch}))
    random.Random(11).shuffle(plans)
    return plans


async def join_all(
    url: str, plans: list[tuple[Peer, dict[str, str]]], options: Options
) -> list[float]:
    """Connect and sync every client, a bounded number at a time; each one's seconds."""
    gate = asyncio.Semaphore(options.connect_concurrency)

    async def join(peer: Peer, auth: dict[str, str]) -> float:
        async with gate:
            return await peer.join(url, auth, options.timeout_seconds)

    outcomes = await asyncio.gather(
        *(join(peer, auth) for peer, auth in plans), return_exceptions=True
    )
    failures = [
        (peer.name, o)
        for (peer, _), o in zip(plans, outcomes, strict=True)
        if isinstance(o, BaseException)
    ]
    if failures:
        name, problem = failures[0]
        raise SetupFailed(
            f"{len(failures)} of {len(plans)} clients could not connect; "
            f"first: {name}: {type(problem).__name__}: {problem}"
        )
    return [o for o in outcomes if isinstance(o, float)]


def seat_rooms(rooms: list[dict[str, Any]], lead: Peer, peers: list[Peer]) -> list[Room]:
    return [Room(room_id, chair, jurors) for room_id, chair, jurors in seat(rooms, lead, peers)]


# --- Driving the rooms ------------------------------------------------------------------------


async def drive(
    rooms: list[Room], recorder: Recorder, options: Options, server: ServerProcess
) -> tuple[float, bool]:
    """Every room's cycles at once, within the cap; the seconds it took and whether it was cut."""
    started = time.perf_counter()
    deadline = started + options.cap_seconds
    drivers = [RoomDriver(room, recorder, options, deadline) for room in rooms]
    pending = {asyncio.create_task(driver.run(options.cycles)) for driver in drivers}
    while pending and time.perf_counter() < deadline and server.alive():
        _, pending = await asyncio.wait(pending, timeout=0.5)
    elapsed = time.perf_counter() - started
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    server.check_alive()
    return elapsed, bool(pending) or any(driver.cut for driver in drivers)


async def drain(recorder: Recorder) -> None:
    """Wait until events stop arriving: the last fan-outs may trail the last acks."""
    limit = time.perf_counter() + DRAIN_MAX_SECONDS
    count = -1
    while count != len(recorder.arrivals) and time.perf_counter() < limit:
        count = len(recorder.arrivals)
        await asyncio.sleep(DRAIN_QUIET_SECONDS)


async def scrape_fanout(server: ServerProcess) -> dict[str, float]:
    """The server's `palabre_fanout_seconds` histogram: cumulative bucket counts, sum, count."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
        text = (await http.get("/metrics")).text
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "palabre_fanout_seconds":
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                figures[sample.labels["le"]] = sample.value
            elif sample.name.endswith(("_sum", "_count")):
                figures[sample.name.rsplit("_", 1)[1]] = sample.value
    return figures


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far by the server, by this load generator and by the whole machine
    (other programs share it: the machine's figure shows what was left to the benchmark)."""

    server: float
    generator: float
    machine: float

    @staticmethod
    def now(server: ServerProcess) -> "Usage":
        return Usage(server.cpu_seconds(), time.process_time(), machine_cpu_seconds())

    def since(self, earlier: "Usage") -> "Usage":
        return Usage(
            self.server - earlier.server,
            self.generator - earlier.generator,
            self.machine - earlier.machine,
        )


# --- The report -------------------------------------------------------------------------------


def fanout_latencies(recorder: Recorder, peers: list[Peer]) -> dict[str, list[float]]:
    """Per audience: arrival of each acked event at each receiver but its sender, minus the ack."""
    audience = {peer.index: peer.audience for peer in peers}
    latencies: dict[str, list[float]] = {name: [] for name in AUDIENCES}
    acks = recorder.acks
    for room, seq, at, receiver in recorder.arrivals:
        acked = acks.get((room, seq))
        if acked is not None and acked[1] != receiver:
            latencies[audience[receiver]].append(at - acked[0])
    return latencies


def print_workload(options: Options, recorder: Recorder, elapsed: float, capped: bool) -> None:
    commands = sum(len(seconds) for seconds in recorder.ack_seconds.values())
    refused = sum(recorder.refusals.values())
    cut = f"; CUT at the {options.cap_seconds:g} s cap" if capped else ""
    print(
        f"workload: {commands:,} commands answered in {elapsed:.1f} s = "
        f"{commands / elapsed:,.0f} commands/s; {refused:,} refused, unanswered or without "
        f"their event{cut}"
    )
    for reason, count in recorder.refusals.most_common(8):
        print(f"  {reason} x {count}")


def print_acks(recorder: Recorder) -> None:
    print(latency_header("command ack latency (ms), from send to ack at the sender:"))
    grouped: dict[str, list[float]] = {group: [] for group in GROUPS}
    for command, seconds in recorder.ack_seconds.items():
        grouped[COMMAND_GROUPS[command]].extend(seconds)
    for group in GROUPS:
        print(latency_row(group, grouped[group]))
    print(latency_row("all", [s for seconds in grouped.values() for s in seconds]))


def print_fanout(recorder: Recorder, peers: list[Peer], elapsed: float) -> None:
    latencies = fanout_latencies(recorder, peers)
    every = [s for seconds in latencies.values() for s in seconds]
    print(latency_header("fan-out latency (ms), from the ack at the sender to each other client:"))
    for name in AUDIENCES:
        print(latency_row(name, latencies[name]))
    print(latency_row("all", every))
    early = sum(1 for s in every if s < 0)
    share = early / len(every) if every else 0.0
    print(f"  ({early:,} deliveries, {share:.1%}, reached a client before the sender's ack)")
    heads: dict[str, int] = {}
    for room, seq, _, _ in recorder.arrivals:
        heads[room] = max(heads.get(room, 0), seq)
    missing = sum(peer.missing(heads) for peer in peers)
    duplicates = sum(peer.duplicates for peer in peers)
    delivered = len(recorder.arrivals)
    print(
        f"events delivered: {delivered:,} in {elapsed:.1f} s = {delivered / elapsed:,.0f}/s "
        f"to the clients ({missing:,} missing, {duplicates:,} duplicates)"
    )


def print_server_histogram(before: dict[str, float], after: dict[str, float]) -> None:
    """The workload's share of the histogram, as bucket bounds: the server's own view."""
    delta = {key: value - before.get(key, 0.0) for key, value in after.items()}
    count = delta.get("count", 0.0)
    if count <= 0:
        print("server's palabre_fanout_seconds: no batch during the workload")
        return
    bounds = sorted((float(le), n) for le, n in delta.items() if le not in {"sum", "count"})

    def bucket(fraction: float) -> str:
        bound = next(b for b, n in bounds if n >= fraction * count)
        return f"<= {bound * 1000:g} ms" if bound != float("inf") else "> 1 s"

    mean = delta.get("sum", 0.0) / count * 1000
    print(
        f"server's palabre_fanout_seconds over the workload (commit to last emit): "
        f"{count:,.0f} batches, mean {mean:.1f} ms, p50 {bucket(0.5)}, p95 {bucket(0.95)}, "
        f"p99 {bucket(0.99)}"
    )


def print_usage(server: ServerProcess, usage: Usage, elapsed: float, whole: Usage) -> None:
    others = max(0.0, usage.machine - usage.server - usage.generator)
    print(
        f"CPU over the workload, in cores busy: server {usage.server / elapsed:.2f}, "
        f"load generator {usage.generator / elapsed:.2f}, the rest of the machine "
        f"{others / elapsed:.2f} (the database server, other programs), of {os.cpu_count()}"
    )
    if others / elapsed > BUSY_MACHINE_CORES:
        print(
            "  WARNING: other programs took CPU from the benchmark during the workload: "
            "its figures are lower than this machine gives palabre alone"
        )
    generator_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"server process: peak RSS {mib(server.peak_rss_kib())}, CPU {whole.server:.1f} s in all; "
        f"load generator: peak RSS {mib(generator_peak)}"
    )


# --- The run ----------------------------------------------------------------------------------


async def measure(
    options: Options, server: ServerProcess, lead: Peer, peers: list[Peer], rooms: list[Room]
) -> None:
    """The workload, timed, and every figure of it."""
    recorder = lead.recorder
    before = await scrape_fanout(server)
    usage_before = Usage.now(server)
    recorder.recording = True
    elapsed, capped = await drive(rooms, recorder, options, server)
    await drain(recorder)
    recorder.recording = False
    usage = Usage.now(server).since(usage_before)
    after = await scrape_fanout(server)
    print_workload(options, recorder, elapsed, capped)
    print_acks(recorder)
    print_fanout(recorder, [lead, *peers], elapsed)
    print_server_histogram(before, after)
    print_usage(server, usage, elapsed, Usage.now(server))


async def benchmark(options: Options, server: ServerProcess) -> None:
    """Set up, connect, drive, report: everything that needs the running server."""
    print(f"server: healthy in {await server.start():.1f} s (pid {server.pid}, {server.url})")
    started = time.perf_counter()
    roster = people(options.jurors, options.facilitators)
    tokens = await organise(server.url, ASSEMBLY_ID, "Load benchmark", roster)
    print(
        f"setup: assembly created, {len(tokens):,} people imported over the API in "
        f"{time.perf_counter() - started:.1f} s"
    )
    recorder = Recorder()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        lead = Peer(0, "lead", "lead", recorder, http)
        plans: list[tuple[Peer, dict[str, str]]] = []
        try:
            await lead.join(server.url, {"token": tokens["lead"]}, options.timeout_seconds)
            rooms = await start_round(lead, options)
            plans = crowd(tokens, rooms, options, recorder, http)
            started = time.perf_counter()
            seconds = await join_all(server.url, plans, options)
            wall = time.perf_counter() - started
            print(
                latency_header(
                    f"connect + sync: {len(seconds):,} clients in {wall:.1f} s, "
                    f"{options.connect_concurrency} at a time (ms):"
                )
            )
            print(latency_row("each", seconds))
            peers = [peer for peer, _ in plans]
            await measure(options, server, lead, peers, seat_rooms(rooms, lead, peers))
        finally:
            await asyncio.gather(lead.leave(), *(peer.leave() for peer, _ in plans))


async def run(options: Options) -> int:
    """The whole run; 1 when it could not complete. The server is stopped whatever happens."""
    print(describe(options), flush=True)
    try:
        with temporary_folder("palabre-bench-") as folder:
            async with database(options, folder) as url:
                server = ServerProcess(url, folder, settings=UNLIMITED_RATE)
                try:
                    await benchmark(options, server)
                finally:
                    server.stop()
    except SetupFailed as problem:
        print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    except Exception:
        # Anything else (the database server unreachable, a client that could not connect...)
        # also means no figures: say what, with where.
        print("FAILED: the run broke off:", file=sys.stderr)
        traceback.print_exc()
        return 1
    return 0


def describe(options: Options) -> str:
    where = "PostgreSQL" if options.database_url else "SQLite"
    return (
        f"palabre server benchmark: {options.jurors:,} jurors in {options.rooms} rooms, "
        f"{options.facilitators} facilitators, {options.observers} observers and the lead; "
        f"{options.cycles} cycles per room, pace {options.pace_ms} ms; {where}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start"
    )


def main() -> None:
    sys.exit(asyncio.run(run(parse_options())))


if __name__ == "__main__":
    main()
