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
import math
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import socketio
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "bench-admin-token"
SECRET_KEY = "bench-secret-key"
ASSEMBLY_ID = "bench"
ASSEMBLY_STREAM = "assembly"
# High enough that the per-connection rate limit never refuses a command of the workload.
RATE_PER_SECOND = 10_000
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 10.0
# The import adds people one commit at a time: a thousand take seconds, not minutes.
IMPORT_SECONDS = 300.0
# After the last ack, how long to wait for the last events to reach everyone.
DRAIN_QUIET_SECONDS = 0.5
DRAIN_MAX_SECONDS = 10.0
# Above this, something besides the server, the load generator (and its database) was busy.
BUSY_MACHINE_CORES = 0.25
ATTRIBUTES = {
    "age": ("18-29", "30-44", "45-64", "65+"),
    "gender": ("f", "m", "x"),
    "region": ("north", "south", "east", "west", "centre"),
}
# Which figures each command's ack latency is reported under.
COMMAND_GROUPS = {
    "raise_hand": "floor",
    "lower_hand": "floor",
    "grant_floor": "floor",
    "speak": "floor",
    "yield_floor": "floor",
    "pose_question": "posts",
    "post_position": "posts",
    "post_argument": "posts",
    "endorse": "posts",
    "open_poll": "polls",
    "vote": "polls",
    "close_poll": "polls",
}
GROUPS = ("floor", "posts", "polls")
AUDIENCES = ("members", "moderators", "observers")
# Events whose id (a post's node, a poll) later steps of a room's script refer to.
ID_FIELDS = {
    "question_posed": "node_id",
    "position_posted": "node_id",
    "argument_posted": "node_id",
    "poll_opened": "poll_id",
}
STATEMENTS = (
    "I think we should look at the costs first, and at who pays them in the end.",
    "Rents have doubled in ten years here; wages have not.",
    "Briefly: the evidence we heard this morning points the other way.",
    "I agree with the last speaker, but only if it is enforced.",
)


class SetupFailed(Exception):
    """The run cannot go on: the server did not start or died, or the setup was refused."""


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


# --- Figures ----------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def latency_row(label: str, seconds: Sequence[float]) -> str:
    """count, p50, p95, p99 and max in milliseconds, as one aligned line."""
    ordered = sorted(seconds)
    cells = [percentile(ordered, f) * 1000 for f in (0.50, 0.95, 0.99)]
    top = ordered[-1] * 1000 if ordered else float("nan")
    figures = "".join(f"{value:>9.1f}" for value in (*cells, top))
    return f"  {label:<12}{len(ordered):>9,}{figures}"


def latency_header(title: str) -> str:
    return f"{title}\n  {'':<12}{'count':>9}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


# --- The server process -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """palabre served by uvicorn in its own process, as in production."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.data_dir = data_dir
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PALABRE_") and key not in {"DATABASE_URL", "REDIS_URL"}
        }
        return {
            **inherited,
            "DATABASE_URL": self.database_url,
            "PALABRE_DATA_DIR": str(self.data_dir),
            "PALABRE_PUBLIC_URL": self.url,
            "PALABRE_ALLOWED_ORIGINS": self.url,
            "PALABRE_ADMIN_TOKEN": ADMIN_TOKEN,
            "PALABRE_SECRET_KEY": SECRET_KEY,
            "PALABRE_RATE_PER_SECOND": str(RATE_PER_SECOND),
            "PALABRE_RATE_BURST": str(RATE_PER_SECOND),
        }

    async def start(self) -> float:
        """Start the server; return the seconds until `/healthz` answered."""
        started = time.perf_counter()
        command = [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = started + SERVER_START_SECONDS
        async with httpx.AsyncClient(base_url=self.url, timeout=1.0) as http:
            while time.perf_counter() < deadline:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return time.perf_counter() - started
                await asyncio.sleep(0.1)
        raise SetupFailed(f"the server did not answer /healthz within {SERVER_START_SECONDS} s")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise SetupFailed(f"the server process exited (status {code})\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far, all its threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the command name: state is field 3 of proc(5); utime and stime are 14 and 15.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def peak_rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def log_tail(self, lines: int = 10) -> str:
        """The server's last words: its log's last lines, leaving out the routine ones."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        telling = [line for line in text.splitlines() if '"level": "info"' not in line]
        return "\n".join(telling[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(SERVER_STOP_SECONDS)


async def on_postgres(url: str, statement: str) -> None:
    """Run a statement outside a transaction, as CREATE and DROP DATABASE must be."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def database(options: Options, folder: Path) -> AsyncIterator[str]:
    """The database URL for the run: a SQLite file, or a fresh PostgreSQL database dropped after."""
    if options.database_url is None:
        yield f"sqlite+aiosqlite:///{folder / 'palabre.sqlite3'}"
        return
    name = f"palabre_bench_{secrets.token_hex(4)}"
    await on_postgres(options.database_url, f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(options.database_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        await on_postgres(options.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Setup through the organiser's API --------------------------------------------------------


def people(options: Options) -> list[dict[str, Any]]:
    """The lead, the facilitators and the jurors, with attributes drawn for the allocation."""
    draw = random.Random(7)
    roster: list[dict[str, Any]] = [{"id": "lead", "name": "Lead", "role": "lead"}]
    roster += [
        {"id": f"f{n:03d}", "name": f"Facilitator {n}", "role": "facilitator"}
        for n in range(options.facilitators)
    ]
    roster += [
        {
            "id": f"j{n:04d}",
            "name": f"Juror {n}",
            "role": "juror",
            "attributes": {key: draw.choice(values) for key, values in ATTRIBUTES.items()},
        }
        for n in range(options.jurors)
    ]
    return roster


async def organise(server: ServerProcess, options: Options) -> dict[str, str]:
    """Create the assembly and import everyone: participant id -> invite token."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(
        base_url=server.url, headers=headers, timeout=IMPORT_SECONDS
    ) as http:
        created = await http.post(
            "/api/assemblies",
            json={"id": ASSEMBLY_ID, "title": "Load benchmark", "pseudonymous": True},
        )
        if created.status_code != 201:
            raise SetupFailed(f"creating the assembly: {created.status_code} {created.text}")
        imported = await http.post(
            f"/api/assemblies/{ASSEMBLY_ID}/people", json={"people": people(options)}
        )
        if imported.status_code != 201 or imported.json()["refused"]:
            raise SetupFailed(f"importing people: {imported.status_code} {imported.text[:500]}")
        return {
            link["participant"]: link["link"].rsplit("/", 1)[1] for link in imported.json()["links"]
        }


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
    # (room, seq) -> the id of the post or poll that event created.
    ids: dict[tuple[str, int], str] = field(default_factory=dict)
    _waiting: dict[tuple[str, int], list[asyncio.Future[str]]] = field(default_factory=dict)

    def arrived(self, receiver: int, payload: dict[str, Any], at: float) -> None:
        key = (payload["room"], payload["seq"])
        if self.recording:
            self.arrivals.append((*key, at, receiver))
        id_field = ID_FIELDS.get(payload["type"])
        if id_field is not None and key not in self.ids:
            self.ids[key] = payload[id_field]
            for waiter in self._waiting.pop(key, []):
                if not waiter.done():
                    waiter.set_result(payload[id_field])

    async def id_at(self, command: str, room: str, seq: int, timeout: float) -> str | None:
        """The id created by event `seq` of `room`, once any client has received it."""
        key = (room, seq)
        if key in self.ids:
            return self.ids[key]
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self.refusals[f"{command}: acked, but its event never came"] += 1
            return None

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


class RoomDriver:
    """Runs one room's cycles, one step after another, as its people would."""

    def __init__(self, room: Room, recorder: Recorder, options: Options, deadline: float) -> None:
        self.room = room
        self.recorder = recorder
        self.timeout = options.timeout_seconds
        self.pace = options.pace_ms / 1000
        self.deadline = deadline
        self.cut = False
        # Paced rooms drift apart, as real ones do, instead of voting all at the same moment.
        self.draw = random.Random(room.id)

    async def pause(self) -> None:
        if self.pace:
            await asyncio.sleep(self.pace * self.draw.uniform(0.5, 1.5))

    async def run(self, cycles: int) -> None:
        try:
            await self.pause()
            for cycle in range(cycles):
                await self.cycle(cycle)
        except CapReached:
            self.cut = True

    async def send(self, peer: Peer, command: str, **fields: Any) -> int | None:
        """Send one command and wait for its ack; the seq of its event, or None if refused."""
        started = time.perf_counter()
        if started >= self.deadline:
            raise CapReached
        try:
            ack = await peer.sio.call(
                command, {**fields, "room": self.room.id}, timeout=self.timeout
            )
        except Exception as problem:
            self.recorder.failed(command, problem)
            return None
        seq = self.recorder.acked(
            command, self.room.id, peer.index, started, time.perf_counter(), ack
        )
        await self.pause()
        return seq

    async def created(self, peer: Peer, command: str, **fields: Any) -> str | None:
        """Send a command that creates a post or a poll; the new id, from its event."""
        seq = await self.send(peer, command, **fields)
        if seq is None:
            return None
        return await self.recorder.id_at(command, self.room.id, seq, self.timeout)

    async def cycle(self, cycle: int) -> None:
        jurors, chair = self.room.jurors, self.room.chair
        a, b, c, d = (jurors[(cycle + offset) % len(jurors)] for offset in range(4))
        await self.turns(chair, a, b, c, cycle)
        await self.argue(chair, a, b, c, d, cycle)
        await self.poll(chair, cycle)

    async def turns(self, chair: Peer, a: Peer, b: Peer, c: Peer, cycle: int) -> None:
        """Three hands up; the first two get the floor in turn and speak; the third gives up."""
        for juror in (a, b, c):
            await self.send(juror, "raise_hand")
        await self.send(chair, "grant_floor")
        await self.send(a, "speak", text=STATEMENTS[cycle % len(STATEMENTS)])
        await self.send(a, "speak", text=STATEMENTS[(cycle + 1) % len(STATEMENTS)])
        await self.send(a, "yield_floor")
        await self.send(chair, "grant_floor")
        await self.send(b, "speak", text=STATEMENTS[(cycle + 2) % len(STATEMENTS)])
        await self.send(b, "yield_floor")
        await self.send(c, "lower_hand")

    async def argue(self, chair: Peer, a: Peer, b: Peer, c: Peer, d: Peer, cycle: int) -> None:
        """A question, a position on it, an argument each way, two endorsements."""
        question = await self.created(chair, "pose_question", text=f"Question {cycle}: who pays?")
        if question is None:
            return
        position = await self.created(
            b, "post_position", question_id=question, text="Landlords should carry part of it."
        )
        if position is None:
            return
        argument = await self.created(
            c, "post_argument", position_id=position, stance="for", text="It keeps families."
        )
        await self.send(
            d,
            "post_argument",
            position_id=position,
            stance="against",
            text="Rents would rise elsewhere.",
        )
        await self.send(a, "endorse", node_id=position)
        if argument is not None:
            await self.send(d, "endorse", node_id=argument)

    async def poll(self, chair: Peer, cycle: int) -> None:
        """A poll, every juror of the room voting at once, then its close."""
        poll = await self.created(
            chair, "open_poll", question="Agree?", kind="single", options=["Yes", "No", "Unsure"]
        )
        if poll is None:
            return
        await asyncio.gather(
            *(
                self.send(juror, "vote", poll_id=poll, choices=[(cycle + n) % 3])
                for n, juror in enumerate(self.room.jurors)
            )
        )
        await self.send(chair, "close_poll", poll_id=poll)


# --- Setting the rooms up ---------------------------------------------------------------------


async def start_round(lead: Peer, options: Options) -> list[dict[str, Any]]:
    """The lead opens and starts the round; its rooms, with who sits in each."""
    for command, fields in (
        ("open_round", {"room_count": options.rooms, "seed": 1}),
        ("start_round", {}),
    ):
        started = time.perf_counter()
        ack = await lead.sio.call(command, fields, timeout=options.timeout_seconds)
        if not ack.get("ok"):
            raise SetupFailed(f"{command} refused: {ack}")
        print(f"  {command}: {(time.perf_counter() - started) * 1000:.0f} ms")
    # Afresh, so the lead starts every room's stream from its snapshot.
    reply = await lead.sync(options.timeout_seconds)
    current = reply["snapshots"][ASSEMBLY_STREAM].get("round")
    if not current or not current.get("started"):
        raise SetupFailed(f"the round did not start: {current}")
    rooms: list[dict[str, Any]] = current["rooms"]
    return rooms


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


def seat(rooms: list[dict[str, Any]], lead: Peer, peers: list[Peer]) -> list[Room]:
    """Each room of the round with its chair (its first facilitator, or the lead) and jurors."""
    by_name = {peer.name: peer for peer in peers}
    seated = []
    for plan in rooms:
        jurors = [by_name[name] for name in plan["jurors"]]
        for juror in jurors:
            if juror.you.get("room") != plan["room_id"]:
                raise SetupFailed(f"{juror.name} sits in {juror.you.get('room')}, not in {plan}")
        chair = by_name[plan["facilitators"][0]] if plan["facilitators"] else lead
        seated.append(Room(plan["room_id"], chair, jurors))
    return seated


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


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used since boot, all cores (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


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
    tokens = await organise(server, options)
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
            await measure(options, server, lead, peers, seat(rooms, lead, peers))
        finally:
            await asyncio.gather(lead.leave(), *(peer.leave() for peer, _ in plans))


async def run(options: Options) -> int:
    """The whole run; 1 when it could not complete. The server is stopped whatever happens."""
    print(describe(options), flush=True)
    try:
        with temporary_folder() as folder:
            async with database(options, folder) as url:
                server = ServerProcess(url, folder)
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


@contextlib.contextmanager
def temporary_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="palabre-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    sys.exit(asyncio.run(run(parse_options())))


if __name__ == "__main__":
    main()
