"""Issue 9's benchmark: palabre against B1 (a bare python-socketio server) and B2 (a bare Node
socket.io 4 server), with one Node socket.io-client load generator, over loopback.

For each workload and each server it starts the server in its own process (palabre as a
deployment runs it, `palabre serve`, on a fresh SQLite file; B1 under uvicorn like palabre; B2
under node), sets it up (for palabre: an assembly through the organiser's HTTP API and, for
W1, a breakout round the lead opens and starts), writes the plan the generator follows
(`bench/loadgen.mjs`), runs the generator and prints the figures side by side with the ratios
of palabre to B1 and to B2:

- W1: R rooms x (J jurors + O observers) + a facilitator each, and the lead: every socket
  connects and syncs (the time, the server's CPU, its RSS growth per connection); then one
  juror of each room has the floor and speaks once a second (palabre's `speak`, one
  `statement_made` event; B1 and B2 stamp and broadcast the same payload): fan-out latency from
  the sender's emit to each receipt, ack latency, deliveries counted per client and seq (lost,
  duplicated), the server's CPU per 1,000 deliveries.
- W2: one room, J jurors + O observers, one juror speaking twice a second: the share delivered
  within 3 s, p99, and the same counts.
- `--ceiling`: W1's rate per room raised step by step (1, 2, 4... commands a second per room)
  on the same connections, until the fan-out p99 passes 250 ms or a delivery is lost.
- `--palabre-processes N` (N >= 2): palabre also as the reference deployment, N `palabre
  serve` processes on one PostgreSQL database and one Redis with nginx in front
  (deploy/nginx.py, the generator connecting through nginx), next to palabre as one process
  on PostgreSQL; then the scale-out figures: deliveries (exactly once), server CPU per
  delivery against the one process (goal at most 1.25x), nginx's CPU, and each process's
  share of the work (CPU while sending, and sockets, from nginx's log; goal within 10% of
  an even share).

The defaults are small (W1: 10 rooms; W2: 300 observers; 10 s each) so a run takes about two
minutes; `--full` gives issue 9's sizes (W1: 100 rooms, 2,101 sockets; W2: 3,011 sockets; 30 s).
The generator runs in one Node process on the same machine and reports its own CPU: if it
nears one core, it, not the server, set the pace. Every loop is bounded (sockets, commands,
steps, timeouts, drains), and nothing leaves 127.0.0.1. Each server process is always stopped.

Run: `make bench-scale` (which installs bench/'s npm packages first), or
`.venv/bin/python bench/scale.py --help`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
import socketio
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import (
    PALABRE_SERVE,
    ROOT,
    ServerProcess,
    SetupFailed,
    fresh_postgres,
    open_and_start_round,
    organise,
    people,
    round_rooms,
    temporary_folder,
)
from bench.room_script import STATEMENTS
from deploy.nginx import Balancer, NginxFailed

BENCH = ROOT / "bench"
SERVERS = ("palabre", "b1", "b2")
WORKLOADS = ("w1", "w2")
LABELS = {"palabre": "palabre", "b1": "B1 python-socketio", "b2": "B2 Node socket.io"}
# palabre as N processes behind nginx (`--palabre-processes N`), labelled with its N.
SCALED = "palabre-n"
# Of each process's share of the work: how far from an even share is still "shared evenly".
EVEN_WITHIN = 0.10
# The scale-out goal: CPU per delivery of N processes against one process's.
CPU_RATIO_GOAL = 1.25
# How long nginx may take to log the sockets the generator closed.
ACCESS_LOG_SECONDS = 10.0
ASSEMBLY_ID = "scale"
PLENARY = "plenary"
# No limit of palabre's may refuse the load: it measures the server, not its throttles.
NO_LIMITS = {
    "PALABRE_RATE_PER_SECOND": "100000",
    "PALABRE_RATE_BURST": "100000",
    "PALABRE_CONNECT_RATE_PER_SECOND": "100000",
    "PALABRE_CONNECT_BURST": "100000",
    # Voice is issue 8's, not this benchmark's: no Janus process of palabre's own.
    "PALABRE_JANUS_URLS": "",
}
# The longest a turn may last (facilitation/limits.py): the speaker keeps the floor all run.
TURN_LIMIT_MS = 30 * 60_000
B1_LAUNCH = (
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "bench.bare_python:create_app",
    "--ws",
    "websockets-sansio",
    "--log-level",
    "warning",
)
STOP_AT_P99_MS = 250.0
# palabre starts in a few seconds, but on a machine other programs keep busy it can take more.
SERVER_START_SECONDS = 120.0
# The generator's own bounds beyond the plan: connecting, and the wait after the last send.
DRAIN_SECONDS = 15.0
GENERATOR_MARGIN_SECONDS = 60.0


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    servers: tuple[str, ...]
    workloads: tuple[str, ...]
    w1_rooms: int
    w1_jurors: int
    w1_observers: int
    w1_rate: float
    w2_jurors: int
    w2_observers: int
    w2_rate: float
    seconds: float
    ceiling: bool
    ceiling_rates: tuple[float, ...]
    ceiling_seconds: float
    connect_concurrency: int
    connect_cap_seconds: float
    timeout_seconds: float
    json_out: Path | None
    # More PALABRE_* settings for palabre's process, to measure one (GC, deflate) against B1.
    palabre_settings: tuple[tuple[str, str], ...] = ()
    palabre_processes: int = 1
    postgres_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    redis_url: str = "redis://127.0.0.1:6379/13"


def setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("PALABRE_"):
        raise argparse.ArgumentTypeError("PALABRE_NAME=value")
    return name, value


def names(text: str, allowed: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(allowed)}")
    return chosen


def rates(text: str) -> tuple[float, ...]:
    try:
        chosen = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of numbers") from None
    if not chosen or min(chosen) <= 0:
        raise argparse.ArgumentTypeError("rates must be above 0")
    return chosen


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="Issue 9: palabre against bare python-socketio (B1) and Node socket.io "
        "(B2) servers, with one Node socket.io-client load generator, over loopback."
    )
    add = parser.add_argument
    add("--servers", type=lambda t: names(t, SERVERS), default=SERVERS,
        help="comma-separated, among palabre,b1,b2 (default all three)")  # fmt: skip
    add("--workloads", type=lambda t: names(t, (*WORKLOADS, "ceiling")), default=WORKLOADS,
        help="among w1,w2,ceiling, comma-separated (default w1,w2)")  # fmt: skip
    add("--full", action="store_true",
        help="issue 9's sizes: W1 100 rooms, W2 3,000 observers, 30 s each "
        "(the other size options still override)")  # fmt: skip
    add("--w1-rooms", type=int, help="W1's rooms (default 10; 100 with --full)")
    add("--w1-jurors", type=int, default=10, help="jurors per W1 room (default 10)")
    add("--w1-observers", type=int, default=10, help="observers per W1 room (default 10)")
    add("--w1-rate", type=float, default=1.0,
        help="commands a second in each W1 room (default 1)")  # fmt: skip
    add("--w2-jurors", type=int, default=10, help="W2's jurors (default 10)")
    add("--w2-observers", type=int, help="W2's observers (default 300; 3,000 with --full)")
    add("--w2-rate", type=float, default=2.0, help="W2's commands a second (default 2)")
    add(
        "--seconds",
        type=float,
        help="seconds of commands per workload (default 10; 30 with --full)",
    )
    add("--ceiling", action="store_true",
        help="also raise W1's rate step by step until the fan-out p99 passes 250 ms or a "
        "delivery is lost")  # fmt: skip
    add("--ceiling-rates", type=rates, default=(1.0, 2.0, 4.0, 8.0, 16.0),
        help="the ceiling's rates per room, in order (default 1,2,4,8,16)")  # fmt: skip
    add("--ceiling-seconds", type=float, default=10.0,
        help="seconds of each ceiling step (default 10)")  # fmt: skip
    add("--connect-concurrency", type=int, default=100,
        help="sockets connecting at once (default 100)")  # fmt: skip
    add("--connect-cap-seconds", type=float, default=600.0,
        help="the most the generator spends connecting; the sockets left are not tried "
        "(default 600)")  # fmt: skip
    add("--timeout-seconds", type=float, default=30.0,
        help="timeout of any one connection, sync or ack (default 30)")  # fmt: skip
    add("--json-out", type=Path, help="also write every figure to this JSON file")
    add("--palabre-setting", type=setting, action="append", default=[],
        metavar="PALABRE_NAME=VALUE",
        help="a setting for palabre's process (repeatable), e.g. "
        "PALABRE_GC_FREEZE=false")  # fmt: skip
    add("--palabre-processes", type=int, default=1,
        help="2 or more: also palabre as that many processes behind nginx on PostgreSQL and "
        "Redis, and the one process on PostgreSQL too, for the scale-out figures (default 1: "
        "one process on SQLite)")  # fmt: skip
    add("--postgres-url", default=Options.postgres_url,
        help="with --palabre-processes: the PostgreSQL server on which each run's fresh "
        "database is made, and dropped after")  # fmt: skip
    add("--redis-url", default=Options.redis_url,
        help="with --palabre-processes: the Redis database of the runs, flushed before and "
        "after (default db 13)")  # fmt: skip
    args = parser.parse_args(argv)
    options = Options(
        servers=args.servers,
        workloads=tuple(w for w in args.workloads if w != "ceiling"),
        w1_rooms=args.w1_rooms if args.w1_rooms is not None else (100 if args.full else 10),
        w1_jurors=args.w1_jurors,
        w1_observers=args.w1_observers,
        w1_rate=args.w1_rate,
        w2_jurors=args.w2_jurors,
        w2_observers=(
            args.w2_observers if args.w2_observers is not None else (3000 if args.full else 300)
        ),
        w2_rate=args.w2_rate,
        seconds=args.seconds if args.seconds is not None else (30.0 if args.full else 10.0),
        ceiling=args.ceiling or "ceiling" in args.workloads,
        ceiling_rates=args.ceiling_rates,
        ceiling_seconds=args.ceiling_seconds,
        connect_concurrency=args.connect_concurrency,
        connect_cap_seconds=args.connect_cap_seconds,
        timeout_seconds=args.timeout_seconds,
        json_out=args.json_out,
        palabre_settings=tuple(args.palabre_setting),
        palabre_processes=args.palabre_processes,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )
    if options.palabre_processes < 1:
        parser.error("--palabre-processes must be at least 1")
    if min(options.w1_rooms, options.w1_jurors, options.w2_jurors) < 1:
        parser.error("--w1-rooms, --w1-jurors and --w2-jurors must be at least 1")
    if min(options.w1_observers, options.w2_observers) < 0:
        parser.error("--w1-observers and --w2-observers cannot be negative")
    if min(options.w1_rate, options.w2_rate, options.seconds, options.ceiling_seconds) <= 0:
        parser.error("rates and seconds must be above 0")
    if (
        options.connect_concurrency < 1
        or min(options.timeout_seconds, options.connect_cap_seconds) <= 0
    ):
        parser.error(
            "--connect-concurrency must be at least 1, --timeout-seconds and "
            "--connect-cap-seconds above 0"
        )
    return options


# --- What the generator is told ---------------------------------------------------------------


@dataclass
class Plan:
    """Who connects with which auth, what each room does first, who sends what: the servers'
    differences end here; the generator treats them all alike."""

    # Each socket: {"id": a name for this plan, "auth": the socket.io auth}.
    sockets: list[dict[str, Any]]
    # Per room, the commands to send one after the other before the workload (palabre: the
    # speaker gets the floor), as (socket id, command, payload, errors that are fine).
    prepare: list[list[tuple[str, str, dict[str, Any], list[str]]]]
    # Per room, its speaker: (socket id, room, command, payload without the room).
    senders: list[tuple[str, str, str, dict[str, Any]]]

    def for_generator(
        self,
        url: str,
        pids: Sequence[int],
        steps: list[dict[str, float]],
        options: Options,
        stop: bool,
        balancer_pids: Sequence[int] = (),
    ) -> dict[str, Any]:
        """The JSON the generator reads: the sockets in arrival order (shuffled with a fixed
        seed, as people arrive in no particular order), and ids turned into indexes."""
        sockets = list(self.sockets)
        random.Random(11).shuffle(sockets)
        index = {socket["id"]: n for n, socket in enumerate(sockets)}
        return {
            "url": url,
            "serverPids": list(pids),
            "balancerPids": list(balancer_pids),
            "clockTicks": os.sysconf("SC_CLK_TCK"),
            "sockets": [{"auth": socket["auth"]} for socket in sockets],
            "prepare": [
                [
                    {"socket": index[who], "command": command, "payload": payload, "allow": allow}
                    for who, command, payload, allow in steps_of_room
                ]
                for steps_of_room in self.prepare
            ],
            "senders": [
                {"socket": index[who], "room": room, "command": command, "payload": payload}
                for who, room, command, payload in self.senders
            ],
            "steps": steps,
            "stopAtP99Ms": STOP_AT_P99_MS if stop else None,
            "connectConcurrency": options.connect_concurrency,
            "connectCapSeconds": options.connect_cap_seconds,
            "timeoutSeconds": options.timeout_seconds,
            "drainSeconds": DRAIN_SECONDS,
        }


def statement(n: int) -> dict[str, Any]:
    return {"text": STATEMENTS[n % len(STATEMENTS)]}


def bare_plan(rooms: list[str], jurors: int, observers: int, facilitators: bool) -> Plan:
    """B1 and B2: the same people as palabre's, named by their auth (no invites, no roster)."""
    sockets: list[dict[str, Any]] = [
        {"id": "lead", "auth": {"name": "lead", "streams": rooms, "observer": False}}
    ]
    senders: list[tuple[str, str, str, dict[str, Any]]] = []
    for room in rooms:
        if facilitators:
            sockets.append({"id": f"{room}-f", "auth": {"name": f"{room}-f", "streams": [room]}})
        for n in range(jurors):
            name = f"{room}-j{n}"
            sockets.append({"id": name, "auth": {"name": name, "streams": [room]}})
        for n in range(observers):
            auth = {"name": f"{room}-o{n}", "streams": [room], "observer": True}
            sockets.append({"id": f"{room}-o{n}", "auth": auth})
        senders.append((f"{room}-j0", room, "speak", statement(len(senders))))
    return Plan(sockets, [[] for _ in rooms], senders)


def floor_for(
    chair: str, speaker: str, room: str
) -> list[tuple[str, str, dict[str, Any], list[str]]]:
    """palabre: the chair lets turns last the run, the speaker raises a hand and gets the floor
    (which raising a hand may already have given: then `grant_floor` finds it taken)."""
    return [
        (chair, "set_room_rules", {"room": room, "turn_limit_ms": TURN_LIMIT_MS}, []),
        (speaker, "raise_hand", {"room": room}, []),
        (chair, "grant_floor", {"room": room, "participant": speaker}, ["floor_taken"]),
    ]


async def palabre_w1(url: str, options: Options) -> Plan:
    """An assembly of R x J jurors and R facilitators; the lead opens and starts a round of R
    rooms (over a socket of its own, closed before the generator connects everyone)."""
    tokens = await organise(
        url, ASSEMBLY_ID, "Scale", people(options.w1_rooms * options.w1_jurors, options.w1_rooms)
    )
    lead = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await lead.connect(url, auth={"token": tokens["lead"]}, transports=["websocket"])
    try:
        await open_and_start_round(lead.call, options.w1_rooms, options.timeout_seconds)
        reply = await lead.call("sync", {"resume": {}}, timeout=options.timeout_seconds)
    finally:
        await lead.disconnect()
    rooms = round_rooms(reply)
    sockets = [{"id": name, "auth": {"token": token}} for name, token in tokens.items()]
    prepare: list[list[tuple[str, str, dict[str, Any], list[str]]]] = []
    senders: list[tuple[str, str, str, dict[str, Any]]] = []
    for plan in rooms:
        room = plan["room_id"]
        for n in range(options.w1_observers):
            sockets.append({"id": f"{room}-o{n}", "auth": {"assembly": ASSEMBLY_ID, "watch": room}})
        speaker = plan["jurors"][0]
        chair = plan["facilitators"][0] if plan["facilitators"] else "lead"
        prepare.append(floor_for(chair, speaker, room))
        senders.append((speaker, room, "speak", statement(len(senders))))
    return Plan(sockets, prepare, senders)


async def palabre_w2(url: str, options: Options) -> Plan:
    """An assembly of J jurors in its plenary, with the lead as its chair; no round."""
    tokens = await organise(url, ASSEMBLY_ID, "Scale", people(options.w2_jurors, 0))
    sockets = [{"id": name, "auth": {"token": token}} for name, token in tokens.items()]
    for n in range(options.w2_observers):
        sockets.append({"id": f"o{n}", "auth": {"assembly": ASSEMBLY_ID, "watch": PLENARY}})
    speaker = min(name for name in tokens if name.startswith("j"))
    return Plan(
        sockets,
        [floor_for("lead", speaker, PLENARY)],
        [(speaker, PLENARY, "speak", statement(0))],
    )


async def make_plan(server: str, workload: str, url: str, options: Options) -> Plan:
    if server in ("palabre", SCALED):
        return await (palabre_w1 if workload == "w1" else palabre_w2)(url, options)
    if workload == "w1":
        rooms = [f"r{n:03d}" for n in range(1, options.w1_rooms + 1)]
        return bare_plan(rooms, options.w1_jurors, options.w1_observers, facilitators=True)
    return bare_plan([PLENARY], options.w2_jurors, options.w2_observers, facilitators=False)


# --- Running one server and one workload ------------------------------------------------------


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise SetupFailed("node is not on PATH: the load generator and B2 need Node.js 20")
    if not (BENCH / "node_modules" / "socket.io-client").is_dir():
        raise SetupFailed("bench/node_modules is missing: run `make bench-install` (npm ci)")
    return found


@dataclass
class Served:
    """A server as the generator sees it: the URL it connects to, the processes whose CPU
    counts as the server's, and nginx in front when palabre runs as several processes."""

    url: str
    processes: list[ServerProcess]
    balancer: Balancer | None = None

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def connections_each(self, expected: int) -> dict[str, int]:
        """Websocket sessions each process held, from nginx's access log (a socket's line is
        written when it closes): waits, bounded, until the `expected` closed ones are there."""
        assert self.balancer is not None
        by_port = {f"127.0.0.1:{p.port}": p.name for p in self.processes}
        counts: dict[str, int] = {}
        deadline = time.monotonic() + ACCESS_LOG_SECONDS
        while True:
            counts = dict.fromkeys(by_port.values(), 0)
            for line in self.balancer.access_log():
                if "transport=websocket" in line and '" 101 ' in line:
                    upstream = line.split("upstream=", 1)[1].split(" ", 1)[0]
                    if upstream in by_port:
                        counts[by_port[upstream]] += 1
            if sum(counts.values()) >= expected or time.monotonic() > deadline:
                return counts
            time.sleep(0.2)


@contextlib.asynccontextmanager
async def serving(server: str, folder: Path, options: Options) -> AsyncIterator[Served]:
    """Start the server asked for; stop it (and drop its database, flush its Redis) after."""
    scaled = options.palabre_processes > 1
    if server in ("palabre", SCALED) and scaled:
        count = options.palabre_processes if server == SCALED else 1
        async with fresh_postgres(options.postgres_url, "palabre_scale") as url:
            redis_url = options.redis_url if server == SCALED else None
            if redis_url:
                await flush_redis(redis_url)
            settings = {**NO_LIMITS, **dict(options.palabre_settings)}
            processes = [
                ServerProcess(url, folder, name=f"p{n + 1}", redis_url=redis_url,
                              launch=PALABRE_SERVE, settings=dict(settings))
                for n in range(count)
            ]  # fmt: skip
            balancer = None
            if server == SCALED:
                balancer = Balancer([f"127.0.0.1:{p.port}" for p in processes])
                for process in processes:
                    # Links and origins are nginx's: the address the clients use.
                    process.settings.update(
                        PALABRE_PUBLIC_URL=balancer.url, PALABRE_ALLOWED_ORIGINS=balancer.url
                    )
            try:
                await asyncio.gather(
                    *(process.start(within=SERVER_START_SECONDS) for process in processes)
                )
                if balancer is not None:
                    balancer.start()
                    yield Served(balancer.url, processes, balancer)
                else:
                    yield Served(processes[0].url, processes)
            finally:
                if balancer is not None:
                    balancer.stop()
                for process in processes:
                    process.stop()
                if redis_url:
                    await asyncio.shield(flush_redis(redis_url))
        return
    if server == "palabre":
        url = f"sqlite+aiosqlite:///{folder / 'palabre.sqlite3'}"
        settings = {**NO_LIMITS, **dict(options.palabre_settings)}
        process = ServerProcess(url, folder, name=server, launch=PALABRE_SERVE, settings=settings)
    else:
        launch = B1_LAUNCH if server == "b1" else (node(), str(BENCH / "bare_node.mjs"))
        process = ServerProcess("", folder, name=server, launch=launch)
    try:
        await process.start(within=SERVER_START_SECONDS)
        yield Served(process.url, [process])
    finally:
        process.stop()


async def flush_redis(url: str) -> None:
    client = redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def steps_of(workload: str, options: Options, ceiling: bool) -> list[dict[str, float]]:
    if ceiling:
        return [
            {"rate": rate, "seconds": options.ceiling_seconds} for rate in options.ceiling_rates
        ]
    rate = options.w1_rate if workload == "w1" else options.w2_rate
    return [{"rate": rate, "seconds": options.seconds}]


async def run_one(server: str, workload: str, options: Options, ceiling: bool) -> dict[str, Any]:
    """Start the server, set it up, run the generator on it; the generator's figures."""
    generator = node()
    with temporary_folder(f"palabre-scale-{server}-") as folder:
        async with serving(server, folder, options) as served:
            plan = await make_plan(server, workload, served.url, options)
            steps = steps_of(workload, options, ceiling)
            plan_path, out_path = folder / "plan.json", folder / "result.json"
            pids = [process.pid for process in served.processes]
            balancer_pids = served.balancer.pids() if served.balancer else []
            plan_path.write_text(
                json.dumps(
                    plan.for_generator(served.url, pids, steps, options, ceiling, balancer_pids)
                )
            )
            bound = (
                options.connect_cap_seconds
                + sum(step["seconds"] + DRAIN_SECONDS + options.timeout_seconds for step in steps)
                + GENERATOR_MARGIN_SECONDS
            )
            ran = await asyncio.to_thread(
                subprocess.run,
                [generator, str(BENCH / "loadgen.mjs"), "--plan", str(plan_path), "--out",
                 str(out_path)],
                cwd=ROOT, capture_output=True, text=True, timeout=bound, check=False,
            )  # fmt: skip
            served.check_alive()
            if not out_path.exists():
                raise SetupFailed(f"the generator wrote no result:\n{ran.stderr[-2000:]}")
            result: dict[str, Any] = json.loads(out_path.read_text())
            if ran.returncode != 0:
                raise SetupFailed(f"the generator failed: {result.get('error') or ran.stderr}")
            if result["prepareProblems"]:
                raise SetupFailed(f"setting the rooms up failed: {result['prepareProblems'][:3]}")
            if server == "palabre":
                result["gc"] = await collections_of(served.processes[0].url)
            result["processes"] = [process.name for process in served.processes]
            if served.balancer is not None:
                # The setup's lead socket came through nginx too.
                expected = result["connect"]["connected"] + (1 if workload == "w1" else 0)
                result["connectionsEach"] = await asyncio.to_thread(
                    served.connections_each, expected
                )
            return result


async def collections_of(url: str) -> dict[str, dict[str, float]]:
    """palabre's garbage collections over its life (`palabre_gc_pause_seconds`), by generation:
    how many, their seconds in all, and how many paused 100 ms or more."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        text = (await http.get(f"{url}/metrics")).text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "palabre_gc_pause_seconds":
            continue
        for sample in family.samples:
            generation = found.setdefault(sample.labels["generation"], {})
            if sample.name.endswith("_count"):
                generation["count"] = sample.value
            elif sample.name.endswith("_sum"):
                generation["seconds"] = sample.value
            elif sample.name.endswith("_bucket") and sample.labels["le"] == "0.1":
                generation["under_100ms"] = sample.value
    for generation in found.values():
        generation["over_100ms"] = generation.get("count", 0) - generation.pop("under_100ms", 0)
    return found


# --- The report -------------------------------------------------------------------------------

Cell = tuple[float | None, ...]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def connect_cells(result: dict[str, Any]) -> Cell:
    connect = result["connect"]
    return (connect["seconds"], connect["serverCpuSeconds"])


def first_step(result: dict[str, Any]) -> dict[str, Any]:
    steps: list[dict[str, Any]] = result["steps"]
    if not steps:
        raise SetupFailed("the generator ran no step")
    return steps[0]


@dataclass(frozen=True)
class Row:
    label: str
    workload: str
    cells: Callable[[dict[str, Any]], Cell]
    shown: Callable[[Cell], str]
    # Whether palabre's ratios to B1 and B2 mean something for this row.
    ratios: bool = True


def acked(result: dict[str, Any]) -> Cell:
    step = first_step(result)
    return (step["accepted"], step["commands"])


def acked_shown(cell: Cell) -> str:
    accepted, commands = cell
    return f"{accepted:,.0f} of {commands:,.0f}"


def cores(result: dict[str, Any]) -> Cell:
    """Cores busy: the generator while connecting and while sending; the rest of the machine
    (other programs) while sending."""
    connect, step = result["connect"], first_step(result)
    return (
        connect["generatorCpuSeconds"] / connect["seconds"],
        step["generatorCpuSeconds"] / step["seconds"],
        step["othersCpuSeconds"] / step["seconds"],
    )


def deliveries(cell: Cell) -> str:
    delivered, expected, lost, duplicates = cell
    # Missing: not arrived when the drain ended (15 s after the last ack), late or lost.
    return f"{delivered:,.0f} of {expected:,.0f}; {lost:,.0f} missing, {duplicates:,.0f} dup"


ROWS = (
    Row("W1 connect + sync, all sockets: s, server CPU-s", "w1", connect_cells,
        lambda c: f"{c[0]:.1f} s, {c[1]:.1f} CPU-s"),
    Row("W1 fan-out p50 / p99 (emit to each receipt)", "w1",
        lambda r: (first_step(r)["fanoutMs"]["p50"], first_step(r)["fanoutMs"]["p99"]),
        lambda c: f"{ms(c[0])} / {ms(c[1])} ms"),
    Row("W1 ack p50 / p99", "w1",
        lambda r: (first_step(r)["ackMs"]["p50"], first_step(r)["ackMs"]["p99"]),
        lambda c: f"{ms(c[0])} / {ms(c[1])} ms"),
    Row("W1 server CPU per 1,000 deliveries", "w1",
        lambda r: (first_step(r)["serverCpuMsPer1000"],), lambda c: f"{ms(c[0])} ms"),
    Row("W1 memory per connection (server RSS growth)", "w1",
        lambda r: (r["connect"]["kibPerConnection"],), lambda c: f"{ms(c[0])} KiB"),
    Row("W1 sync reply p50 / max (JSON)", "w1",
        lambda r: tuple(r["connect"]["syncBytes"][f] / 1024 for f in ("p50", "max")),
        lambda c: f"{c[0]:.1f} / {c[1]:.1f} KiB"),
    Row("W1 deliveries", "w1",
        lambda r: (first_step(r)["delivered"], first_step(r)["expected"], first_step(r)["lost"],
                   first_step(r)["duplicates"]), deliveries, ratios=False),
    Row("W1 sockets connected and synced", "w1",
        lambda r: (r["connect"]["connected"], r["connect"]["sockets"]), acked_shown,
        ratios=False),
    Row("W1 commands acked / sent", "w1", acked, acked_shown, ratios=False),
    Row("W1 cores: generator connecting / sending; other programs sending", "w1", cores,
        lambda c: f"{c[0]:.2f} / {c[1]:.2f}; {c[2]:.2f}", ratios=False),
    Row("W2 connect + sync, all sockets: s, server CPU-s", "w2", connect_cells,
        lambda c: f"{c[0]:.1f} s, {c[1]:.1f} CPU-s"),
    Row("W2 delivered within 3 s (of all sent) / fan-out p99", "w2",
        lambda r: (100 * (first_step(r)["inTimeShare"] or 0), first_step(r)["fanoutMs"]["p99"]),
        lambda c: f"{c[0]:.0f}% / {ms(c[1])} ms"),
    Row("W2 ack p50 / p99", "w2",
        lambda r: (first_step(r)["ackMs"]["p50"], first_step(r)["ackMs"]["p99"]),
        lambda c: f"{ms(c[0])} / {ms(c[1])} ms"),
    Row("W2 server CPU per 1,000 deliveries", "w2",
        lambda r: (first_step(r)["serverCpuMsPer1000"],), lambda c: f"{ms(c[0])} ms"),
    Row("W2 memory per connection (server RSS growth)", "w2",
        lambda r: (r["connect"]["kibPerConnection"],), lambda c: f"{ms(c[0])} KiB"),
    Row("W2 deliveries", "w2",
        lambda r: (first_step(r)["delivered"], first_step(r)["expected"], first_step(r)["lost"],
                   first_step(r)["duplicates"]), deliveries, ratios=False),
    Row("W2 sockets connected and synced", "w2",
        lambda r: (r["connect"]["connected"], r["connect"]["sockets"]), acked_shown,
        ratios=False),
    Row("W2 commands acked / sent", "w2", acked, acked_shown, ratios=False),
    Row("W2 cores: generator connecting / sending; other programs sending", "w2", cores,
        lambda c: f"{c[0]:.2f} / {c[1]:.2f}; {c[2]:.2f}", ratios=False),
)  # fmt: skip


def ratio(ours: Cell, theirs: Cell) -> str:
    parts = []
    for a, b in zip(ours, theirs, strict=True):
        parts.append("-" if a is None or b is None or b <= 0 else f"{a / b:.1f}x")
    return " / ".join(parts)


def label(server: str, options: Options) -> str:
    if server == SCALED:
        return f"palabre, {options.palabre_processes} processes behind nginx"
    if server == "palabre" and options.palabre_processes > 1:
        return "palabre, 1 process (PostgreSQL)"
    return LABELS[server]


def table(results: dict[tuple[str, str], dict[str, Any]], options: Options) -> str:
    """The figures in markdown, a column per server, then palabre's ratios to B1 and B2."""
    servers: list[str] = [s for s in ("b1", "b2", "palabre") if s in options.servers]
    if "palabre" in servers and options.palabre_processes > 1:
        servers.append(SCALED)
    ratio_to = [s for s in ("b1", "b2") if s in servers and "palabre" in servers]
    head = [
        "figure",
        *(label(s, options) for s in servers),
        *(f"palabre / {s.upper()}" for s in ratio_to),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in ROWS:
        if row.workload not in options.workloads:
            continue
        cells: dict[str, Cell | None] = {}
        shown = []
        for server in servers:
            result = results.get((server, row.workload))
            try:
                cells[server] = row.cells(result) if result else None
            except (KeyError, TypeError, ZeroDivisionError, SetupFailed):
                cells[server] = None
            cell = cells[server]
            shown.append("failed" if cell is None else row.shown(cell))
        for other in ratio_to:
            ours, theirs = cells.get("palabre"), cells.get(other)
            ok = row.ratios and ours is not None and theirs is not None
            shown.append(ratio(ours, theirs) if ok and ours and theirs else "")
        lines.append("| " + " | ".join([row.label, *shown]) + " |")
    return "\n".join(lines)


def ceiling_lines(results: dict[tuple[str, str], dict[str, Any]], options: Options) -> str:
    lines = [
        f"W1 ceiling: commands a second per room, raised until the fan-out p99 passes "
        f"{STOP_AT_P99_MS:g} ms or a delivery is lost ({options.w1_rooms} rooms)"
    ]
    for server in options.servers:
        result = results.get((server, "ceiling"))
        if result is None:
            lines.append(f"  {label(server, options)}: failed")
            continue
        passed = [
            s["rate"]
            for s in result["steps"]
            if (s["fanoutMs"]["p99"] or 0) <= STOP_AT_P99_MS and s["lost"] == 0 and not s["refused"]
        ]
        steps = ", ".join(
            f"{s['rate']:g}/s: p99 {ms(s['fanoutMs']['p99'])} ms, {s['lost']} lost"
            for s in result["steps"]
        )
        best = f"{max(passed):g}/s per room" if passed else "below the first step"
        lines.append(f"  {label(server, options)}: ceiling {best} ({steps})")
    return "\n".join(lines)


def scale_out_lines(results: dict[tuple[str, str], dict[str, Any]], options: Options) -> str:
    """Issue 9's goals for several processes, from W1 (or W2 when W1 was not run): exactly
    once, CPU per delivery against one process, and each process's share of the work."""
    n = options.palabre_processes
    workload = "w1" if "w1" in options.workloads else "w2"
    lines = [
        f"Scale-out ({workload.upper()}): {n} palabre processes behind nginx on PostgreSQL + "
        "Redis, against 1 process on PostgreSQL"
    ]
    one, many = results.get(("palabre", workload)), results.get((SCALED, workload))
    if many is None or one is None:
        lines.append("  failed: " + ("the scaled run" if many is None else "the one process"))
        return "\n".join(lines)
    step, single = first_step(many), first_step(one)
    counts = (step["delivered"], step["expected"], step["lost"], step["duplicates"])
    once = step["expected"] > 0 and step["delivered"] == step["expected"] and not step["duplicates"]
    lines.append(f"  delivered: {deliveries(counts)}" + (" (exactly once)" if once else ""))
    per_one, per_many = single["serverCpuMsPer1000"], step["serverCpuMsPer1000"]
    if per_one and per_many:
        ratio_value = per_many / per_one
        verdict = "met" if ratio_value <= CPU_RATIO_GOAL else "missed"
        lines.append(
            f"  server CPU per 1,000 deliveries: 1 process {ms(per_one)} ms, {n} processes "
            f"{ms(per_many)} ms: {ratio_value:.2f}x (goal at most {CPU_RATIO_GOAL:g}x: {verdict})"
        )
    if step["delivered"]:
        nginx_ms = step["balancerCpuSeconds"] * 1e6 / step["delivered"]
        lines.append(f"  nginx CPU per 1,000 deliveries, besides: {ms(nginx_ms)} ms")
    even = 1 / n
    each = step["serverCpuSecondsEach"]
    total = sum(each)
    if total > 0:
        shares = [cpu / total for cpu in each]
        off = max(abs(share - even) / even for share in shares)
        verdict = "met" if off <= EVEN_WITHIN else "missed"
        shown = ", ".join(
            f"{name} {100 * share:.1f}%"
            for name, share in zip(many["processes"], shares, strict=True)
        )
        lines.append(
            f"  CPU while sending, per process: {shown}; at most {100 * off:.1f}% off an even "
            f"share (goal within {100 * EVEN_WITHIN:g}%: {verdict})"
        )
    sockets = many.get("connectionsEach") or {}
    if sockets and sum(sockets.values()):
        counted = sum(sockets.values())
        off = max(abs(count / counted - even) / even for count in sockets.values())
        shown = ", ".join(f"{name} {count:,}" for name, count in sockets.items())
        lines.append(
            f"  sockets per process (nginx's log): {shown}; at most {100 * off:.1f}% off even"
        )
    return "\n".join(lines)


def collection_lines(results: dict[tuple[str, str], dict[str, Any]]) -> str:
    """palabre's full (generation 2) collections in each run, from its own metrics."""
    lines = []
    for (server, workload), result in results.items():
        full = result.get("gc", {}).get("2") if server == "palabre" else None
        if full is not None:
            lines.append(
                f"palabre {workload}: {full.get('count', 0):.0f} full collections "
                f"({full.get('seconds', 0):.2f} s in all, {full.get('over_100ms', 0):.0f} of "
                "100 ms or more) over the server's life"
            )
    return "\n".join(lines)


def describe(options: Options) -> str:
    w1 = options.w1_rooms * (options.w1_jurors + options.w1_observers + 1) + 1
    w2 = options.w2_jurors + options.w2_observers + 1
    return (
        f"issue 9 scale benchmark: W1 {options.w1_rooms} rooms x ({options.w1_jurors} jurors + "
        f"{options.w1_observers} observers) + a facilitator each, and the lead ({w1:,} sockets), "
        f"{options.w1_rate:g} command/s per room; W2 one room, {options.w2_jurors} jurors + "
        f"{options.w2_observers:,} observers and the lead ({w2:,} sockets), "
        f"{options.w2_rate:g} commands/s; {options.seconds:g} s each; "
        + (
            f"palabre as 1 process and as {options.palabre_processes} behind nginx, on "
            "PostgreSQL (+ Redis); "
            if options.palabre_processes > 1
            else ""
        )
        + f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start"
        + "".join(f"; {name}={value}" for name, value in options.palabre_settings)
    )


def printed(line: str) -> None:
    print(line, flush=True)


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    printed(f"  {label}: done in {time.perf_counter() - started:.0f} s")


async def run(options: Options) -> int:
    """Every server and workload asked for; 1 when any could not complete."""
    printed(describe(options))
    results: dict[tuple[str, str], dict[str, Any]] = {}
    failed = False
    servers = list(options.servers)
    if "palabre" in servers and options.palabre_processes > 1:
        servers.insert(servers.index("palabre") + 1, SCALED)
    jobs = [(server, workload) for workload in options.workloads for server in servers]
    if options.ceiling:
        jobs += [(server, "ceiling") for server in options.servers]
    for server, workload in jobs:
        try:
            with timed(f"{label(server, options)}, {workload}"):
                results[(server, workload)] = await run_one(
                    server, "w1" if workload == "ceiling" else workload, options,
                    ceiling=workload == "ceiling",
                )  # fmt: skip
        except (SetupFailed, NginxFailed, subprocess.TimeoutExpired, OSError) as problem:
            failed = True
            printed(f"  FAILED: {label(server, options)}, {workload}: {problem}")
    printed("")
    if options.workloads:
        printed(table(results, options))
    if options.ceiling:
        printed("")
        printed(ceiling_lines(results, options))
    collections = collection_lines(results)
    if collections:
        printed("")
        printed(collections)
    if options.palabre_processes > 1 and "palabre" in options.servers and options.workloads:
        printed("")
        printed(scale_out_lines(results, options))
    if options.json_out is not None:
        document = {
            "options": {**asdict(replace(options, json_out=None))},
            "results": {f"{server}/{workload}": r for (server, workload), r in results.items()},
        }
        options.json_out.write_text(json.dumps(document, indent=1, default=str))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_options(argv)))


if __name__ == "__main__":
    sys.exit(main())
