"""A soak of the live server: a lively assembly deliberating for minutes on two palabre processes
that share PostgreSQL and Redis, while one of them is killed (kill -9) and restarted every
couple of minutes and its clients come back; at the end, every client's view must equal a
fresh snapshot and a replay of the log, and the servers' memory must have stayed flat.

The run, all on loopback:

1. a fresh PostgreSQL database (dropped at the end) and a Redis database of its own (flushed);
2. two `palabre serve` processes on them, with the same secrets;
3. through the organiser's HTTP API, a pseudonymous assembly with a lead, a facilitator a room
   and 4 to 5 jurors a room; the lead opens and starts a breakout round; every person connects
   (python-socketio, over websocket) to one process or the other, alternately, and so do
   anonymous observers of the rooms;
4. every room plays bench/room_script.py's lively script at a human pace (`--pace-ms` between
   two steps of a room, drawn from 0.5x to 1.5x): hands, turns granted and yielded with
   statements, a question, a position, arguments, endorsements, a poll everyone votes in;
5. every `--kill-every-seconds`, one process (a, then b, then a...) is killed with SIGKILL and
   started again on its port; its clients notice the drop, wait a random moment, connect to
   one of the processes (the other one, or the restarted one once it answers) and `sync`
   from the last seq of each stream;
6. after `--minutes`, each room stops at the end of the part of its cycle it is in, every
   chair revokes the floor (so no turn can expire during the checks), and the run waits until
   every client has applied every stream it follows up to the head of the log.

Then it checks, and prints the figures:

- the log, read back from PostgreSQL: every stream's hash chain (`palabre verify`'s check) and
  a replay of all of it through the core (`facilitation.replay`);
- each process's state: what it serves the lead on a fresh connection, against the views of
  the replayed log;
- each client's state, built by the pages' own code (web/static/js/state.js, through
  tests/web/replay.mjs) from its snapshots and the events it applied, against the fresh
  snapshots a new connection with its invite gets from its process, and against the log;
- duplicates and lasting gaps seen by the clients (bench/soak_client.py says what counts);
- each process's resident memory (VmRSS), sampled every `--rss-every-seconds`: for each start
  of a process, the growth from its first sample after `--warm-up-seconds` to its last.

Exit status 0 when every check held; 1 on any mismatch, duplicate, gap, client that could not
come back, memory growth beyond `--max-growth-mib`, or a run that could not complete. Every
wait is bounded, and the processes, the database and the Redis database are cleaned up on
success, failure and Ctrl-C (or SIGTERM).

Run: `make soak` (10 minutes, about 11 in all), or a smoke run:
`.venv/bin/python bench/soak.py --minutes 1 --kill-every-seconds 20`.
"""

import argparse
import asyncio
import os
import random
import secrets
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.live import (
    PALABRE_SERVE,
    ServerProcess,
    SetupFailed,
    fresh_postgres,
    open_and_start_round,
    organise,
    people,
    round_rooms,
    seat,
    temporary_folder,
)
from bench.room_script import CreatedIds, RoomScript
from bench.soak_check import (
    DETAILS_SHOWN,
    Expected,
    Verdict,
    check_clients,
    check_processes,
    log_heads,
    read_log,
)
from bench.soak_client import SharedPayloads, SoakClient, Tally, Unanswered, fresh_sync
from bench.soak_report import (
    READY_SECONDS,
    Kill,
    Timeline,
    Usage,
    Workload,
    print_checks,
    print_delivery,
    print_memory,
    print_server_logs,
    print_usage,
    print_workload,
)
from server.store import Store

# A run's own assembly id: Redis pub/sub channels are shared by every database number, so a
# fixed id could hear another run's (or a test's) messages.
ASSEMBLY_PREFIX = "soak"
# The rooms' cycles are bounded by time; this bounds them by count as well.
MAX_CYCLES = 10_000
# After the workload's time is up, a room finishes the part of its cycle it is in (a few steps
# at the pace); past this, it is cut wherever it is.
FINISH_SECONDS = 60.0
# How often the soak looks at its clock (kills, memory samples) and for lasting gaps.
TICK_SECONDS = 1.0
QUIET_POLL_SECONDS = 0.5


# --- Options ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    minutes: float
    kill_every_seconds: float
    rooms: int
    jurors: int
    facilitators: int
    observers: int
    pace_ms: int
    rss_every_seconds: float
    warm_up_seconds: float
    max_growth_mib: float
    quiesce_seconds: float
    timeout_seconds: float
    connect_concurrency: int
    postgres_url: str
    redis_url: str

    @property
    def seconds(self) -> float:
        return self.minutes * 60


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description="Soak: a lively assembly on two palabre processes, one killed and "
        "restarted again and again; every view checked against the log at the end."
    )
    add = parser.add_argument
    add("--minutes", type=float, default=10.0, help="length of the workload (default 10)")
    add("--kill-every-seconds", type=float, default=120.0, help="kill -9 period (default 120)")
    add("--rooms", type=int, default=100, help="breakout rooms (default 100)")
    add("--jurors", type=int, default=450, help="jurors, 4 to 5 a room (default 450)")
    add("--facilitators", type=int, default=100, help="facilitators (default 100)")
    add("--observers", type=int, default=100, help="anonymous observers (default 100)")
    add(
        "--pace-ms",
        type=int,
        default=2000,
        help="mean pause between two steps of a room, drawn from 0.5x to 1.5x (default 2000)",
    )
    add("--rss-every-seconds", type=float, default=30.0, help="memory samples (default 30)")
    add(
        "--warm-up-seconds",
        type=float,
        default=60.0,
        help="after each start of a process, before its memory must stay flat (default 60)",
    )
    add(
        "--max-growth-mib",
        type=float,
        default=64.0,
        help="largest memory growth allowed to a process after its warm-up (default 64)",
    )
    add(
        "--quiesce-seconds",
        type=float,
        default=90.0,
        help="bound on waiting for every client to catch up at the end (default 90)",
    )
    add("--timeout-seconds", type=float, default=10.0, help="any one call (default 10)")
    add("--connect-concurrency", type=int, default=50, help="joins at once (default 50)")
    add(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL server on which a fresh database is created, and dropped after",
    )
    add(
        "--redis-url",
        default="redis://127.0.0.1:6379/14",
        help="the Redis database of the run, flushed before and after (default db 14)",
    )
    args = parser.parse_args(argv)
    if min(args.rooms, args.facilitators, args.connect_concurrency) < 1 or args.minutes <= 0:
        parser.error("--minutes, --rooms, --facilitators and --connect-concurrency must be > 0")
    if args.jurors < 4 * args.rooms:
        parser.error("each room needs at least 4 jurors for the script: raise --jurors")
    if min(args.observers, args.pace_ms) < 0 or args.kill_every_seconds <= 0:
        parser.error("--observers and --pace-ms cannot be negative, nor the kill period 0")
    return Options(
        minutes=args.minutes,
        kill_every_seconds=args.kill_every_seconds,
        rooms=args.rooms,
        jurors=args.jurors,
        facilitators=args.facilitators,
        observers=args.observers,
        pace_ms=args.pace_ms,
        rss_every_seconds=args.rss_every_seconds,
        warm_up_seconds=args.warm_up_seconds,
        max_growth_mib=args.max_growth_mib,
        quiesce_seconds=args.quiesce_seconds,
        timeout_seconds=args.timeout_seconds,
        connect_concurrency=args.connect_concurrency,
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
    )


# --- The rooms and the clock -----------------------------------------------------------------


class SoakRoom(RoomScript[SoakClient]):
    """One room's script, until the workload's time is up."""

    def __init__(
        self,
        room_id: str,
        chair: SoakClient,
        jurors: list[SoakClient],
        *,
        pace_ms: int,
        workload: Workload,
        created: CreatedIds,
        timeout: float,
        until: float,
    ) -> None:
        super().__init__(room_id, chair, jurors, pace_ms)
        self.workload = workload
        self.created_ids = created
        self.timeout = timeout
        self.until = until

    def stopping(self) -> bool:
        return time.perf_counter() >= self.until

    async def run(self) -> None:
        await self.pause()
        for cycle in range(MAX_CYCLES):
            if self.stopping():
                return
            await self.cycle(cycle)

    async def send(self, person: SoakClient, command: str, **fields: Any) -> int | None:
        seq = await self.workload.send(person, command, {**fields, "room": self.room_id})
        await self.pause()
        return seq

    async def created(self, person: SoakClient, command: str, **fields: Any) -> str | None:
        seq = await self.send(person, command, **fields)
        if seq is None:
            return None
        found = await self.created_ids.wait(self.room_id, seq, self.timeout)
        if found is None:
            self.workload.eventless += 1
        return found


async def kill_and_restart(
    timeline: Timeline, victim: ServerProcess, clients: Sequence[SoakClient]
) -> None:
    at, pid, rss = timeline.now(), victim.pid, victim.rss_kib()
    on_it = sum(1 for client in clients if client.server is victim and client.ready.is_set())
    victim.kill()
    # Its warm-up counts from now: a sample taken while it restarts belongs to the new start.
    timeline.started_at[victim.name] = at
    seconds = await victim.start()
    kill = Kill(at, victim.name, pid, rss, on_it, victim.pid, seconds)
    timeline.kills.append(kill)
    print(kill, flush=True)


async def keep_time(
    options: Options,
    timeline: Timeline,
    servers: Sequence[ServerProcess],
    clients: Sequence[SoakClient],
) -> None:
    """Until the workload's end: a memory sample every period, a kill every period, the
    processes alternating; a look for lasting gaps every tick. A sample due at the moment of a
    kill is taken first."""
    kills_due = int(options.seconds // options.kill_every_seconds)
    if kills_due * options.kill_every_seconds >= options.seconds:
        kills_due -= 1  # no kill at the very end: the checks follow
    next_sample, kills = 0.0, 0
    restarts: list[asyncio.Task[None]] = []
    try:
        for _ in range(int(options.seconds / TICK_SECONDS) + 2):
            now = timeline.now()
            if now >= options.seconds:
                break
            if now >= next_sample:
                timeline.sample(servers, clients)
                next_sample += options.rss_every_seconds
            if kills < kills_due and now >= (kills + 1) * options.kill_every_seconds:
                victim = servers[kills % len(servers)]
                restarts.append(asyncio.create_task(kill_and_restart(timeline, victim, clients)))
                kills += 1
            await asyncio.gather(*(client.check_gaps() for client in clients))
            await asyncio.sleep(max(0.0, TICK_SECONDS - (timeline.now() - now)))
    finally:
        # A restart that fails (SetupFailed) ends the run here.
        await asyncio.gather(*restarts)


# --- Setting up -------------------------------------------------------------------------------


def crowd(
    tokens: dict[str, str],
    rooms: list[dict[str, Any]],
    options: Options,
    assembly_id: str,
    make: Callable[[str, str, dict[str, str]], SoakClient],
) -> list[SoakClient]:
    """The facilitators and jurors, then the observers spread over the rooms, shuffled with a
    fixed seed, as people arrive in no particular order."""
    plans: list[tuple[str, str, dict[str, str]]] = []
    for name, token in sorted(tokens.items()):
        if name != "lead":
            role = "juror" if name.startswith("j") else "facilitator"
            plans.append((name, role, {"token": token}))
    for n in range(options.observers):
        watch = rooms[n % len(rooms)]["room_id"]
        plans.append((f"observer-{n}", "observer", {"assembly": assembly_id, "watch": watch}))
    random.Random(11).shuffle(plans)
    clients: list[SoakClient] = [make(name, role, auth) for name, role, auth in plans]
    return clients


async def join_all(
    clients: Sequence[SoakClient], servers: Sequence[ServerProcess], concurrency: int
) -> None:
    """Connect every client, alternately to each process, a bounded number at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def join(client: SoakClient, server: ServerProcess) -> None:
        async with gate:
            await client.join(server)

    outcomes = await asyncio.gather(
        *(join(c, servers[n % len(servers)]) for n, c in enumerate(clients)),
        return_exceptions=True,
    )
    failures = [(c.name, o) for c, o in zip(clients, outcomes, strict=True) if o is not None]
    if failures:
        name, problem = failures[0]
        raise SetupFailed(
            f"{len(failures)} of {len(clients)} clients could not connect; first: {name}: "
            f"{problem!r}"
        )


# --- The end: quiet, then checks --------------------------------------------------------------


async def finish(drivers: set[asyncio.Task[None]]) -> int:
    """Let every room finish the part of its cycle it is in; the rooms that had to be cut."""
    pending = drivers
    if drivers:
        _, pending = await asyncio.wait(drivers, timeout=FINISH_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*drivers, return_exceptions=True)
    return len(pending)


async def free_the_floors(rooms: list[tuple[str, SoakClient, list[SoakClient]]]) -> Counter[str]:
    """Every chair revokes the floor, so that no turn expires while the views are compared."""

    async def revoke(room_id: str, chair: SoakClient) -> str:
        if not await chair.until_ready(READY_SECONDS):
            return "not connected"
        try:
            ack = await chair.call("revoke_floor", {"room": room_id, "reason": "Time."})
        except Unanswered as problem:
            return str(problem)
        return "revoked" if ack.get("ok") else str(ack.get("error"))

    outcomes = await asyncio.gather(*(revoke(room_id, chair) for room_id, chair, _ in rooms))
    return Counter(outcomes)


async def quiesce(
    options: Options, database_url: str, assembly_id: str, clients: Sequence[SoakClient]
) -> tuple[float, dict[str, dict[str, tuple[int, int]]]]:
    """Wait until the log stops growing and every client has applied every stream it follows
    up to the log's head; the seconds it took and, if the bound passed, who is still behind."""
    started = time.perf_counter()
    store = Store(database_url)
    await store.start()
    heads: dict[str, int] = {}
    behind: dict[str, dict[str, tuple[int, int]]] = {}
    try:
        position = await log_heads(store, assembly_id, heads, 0)
        for _ in range(int(options.quiesce_seconds / QUIET_POLL_SECONDS) + 1):
            if time.perf_counter() - started > options.quiesce_seconds:
                break
            await asyncio.gather(*(client.check_gaps() for client in clients))
            moved = await log_heads(store, assembly_id, heads, position)
            behind = {c.name: lag for c in clients if (lag := c.behind(heads))}
            if moved == position and not behind:
                break
            position = moved
            await asyncio.sleep(QUIET_POLL_SECONDS)
    finally:
        await store.close()
    return time.perf_counter() - started, behind


# --- The run ----------------------------------------------------------------------------------


async def soak(options: Options, servers: list[ServerProcess], folder: Path, url: str) -> bool:
    """Everything that needs the processes; whether every check held."""
    started = await asyncio.gather(*(server.start() for server in servers))
    for server, seconds in zip(servers, started, strict=True):
        print(f"{server.name}: healthy in {seconds:.1f} s (pid {server.pid}, {server.url})")
    assembly_id = f"{ASSEMBLY_PREFIX}-{secrets.token_hex(3)}"
    clock = time.perf_counter()
    roster = people(options.jurors, options.facilitators)
    tokens = await organise(servers[0].url, assembly_id, "Soak", roster)
    print(f"setup: {len(tokens):,} people imported in {time.perf_counter() - clock:.1f} s")
    tally, payloads, created = Tally(), SharedPayloads(), CreatedIds()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        def make(name: str, role: str, auth: dict[str, str]) -> SoakClient:
            client = SoakClient(
                name,
                role,
                auth,
                tally=tally,
                payloads=payloads,
                created=created,
                http=http,
                timeout=options.timeout_seconds,
                seed=len(name) * 7919 + sum(map(ord, name)),
            )
            client.servers = servers
            return client

        lead = make("lead", "lead", {"token": tokens["lead"]})
        clients = [lead]
        try:
            await lead.join(servers[0])
            await open_and_start_round(
                lambda command, fields: lead.call(command, fields),
                options.rooms,
                options.timeout_seconds,
            )
            rooms = round_rooms(
                await fresh_sync(servers[0], lead.auth, http, options.timeout_seconds)
            )
            others = crowd(tokens, rooms, options, assembly_id, make)
            clock = time.perf_counter()
            await join_all(others, servers, options.connect_concurrency)
            clients = [lead, *others]
            print(
                f"  {len(clients):,} clients connected in {time.perf_counter() - clock:.1f} s, "
                f"half on each process"
            )
            return await deliberate(
                options, servers, clients, rooms, url, assembly_id, folder, http
            )
        finally:
            await asyncio.gather(*(client.leave() for client in clients))


async def deliberate(
    options: Options,
    servers: list[ServerProcess],
    clients: list[SoakClient],
    plans: list[dict[str, Any]],
    url: str,
    assembly_id: str,
    folder: Path,
    http: aiohttp.ClientSession,
) -> bool:
    """The workload, the quiet, the checks and the report."""
    lead, tally = clients[0], clients[0].tally
    rooms = seat(plans, lead, clients[1:])
    workload = Workload()
    timeline = Timeline(time.perf_counter())
    timeline.started_at = {server.name: 0.0 for server in servers}
    tally.started = timeline.began
    until = timeline.began + options.seconds
    print(f"workload: {options.minutes:g} min; kills:", flush=True)
    usage_before = Usage.now(servers)
    drivers = {
        asyncio.create_task(
            SoakRoom(
                room_id,
                chair,
                jurors,
                pace_ms=options.pace_ms,
                workload=workload,
                created=lead.created,
                timeout=options.timeout_seconds,
                until=until,
            ).run()
        )
        for room_id, chair, jurors in rooms
    }
    await keep_time(options, timeline, servers, clients)
    cut = await finish(drivers)
    elapsed = timeline.now()
    usage = Usage.now(servers).since(usage_before)
    timeline.sample(servers, clients)
    floors = await free_the_floors(rooms)
    waited, behind = await quiesce(options, url, assembly_id, clients)
    print(
        f"quiet after {waited:.1f} s" + (f"; still behind: {len(behind)} clients" if behind else "")
    )
    for name, lag in list(behind.items())[:DETAILS_SHOWN]:
        where = ", ".join(f"{stream} at #{last} of #{head}" for stream, (last, head) in lag.items())
        print(f"    {name}: {where}")

    log = await read_log(url, assembly_id)
    verdict = Verdict()
    log_problems = [*log.chain_problems[:DETAILS_SHOWN]]
    if log.replay_problem:
        log_problems.append(f"the log does not replay: {log.replay_problem}")
    if log.state is not None:
        expected = Expected(log.state, assembly_id)
        await check_processes(verdict, expected, servers, lead.auth, http, options.timeout_seconds)
        await check_clients(verdict, expected, clients, http, folder, options.timeout_seconds)

    print_workload(workload, elapsed, cut, floors)
    print_delivery(tally, len(log.records), len(clients))
    flat = print_memory(timeline, options.warm_up_seconds, options.max_growth_mib)
    print_usage(servers, usage, elapsed)
    print_server_logs(servers)
    print_checks(verdict, log_problems)
    failures = [
        *(["the log"] if log_problems else []),
        *(["views that differ"] if verdict.mismatches or verdict.problems else []),
        *(["duplicates"] if tally.duplicates else []),
        *(["gaps"] if tally.gaps else []),
        *(["clients lost"] if tally.lost else []),
        *(["clients still behind"] if behind else []),
        *(["memory growth"] if not flat else []),
    ]
    print("PASSED" if not failures else f"FAILED: {', '.join(failures)}")
    return not failures


async def flush_redis(url: str) -> None:
    client = redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def run(options: Options) -> int:
    """The whole soak; 0 when every check held. Processes, database and Redis are cleaned up
    whatever happens."""
    print(describe(options), flush=True)
    began = time.perf_counter()
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        with temporary_folder("palabre-soak-") as folder:
            await flush_redis(options.redis_url)
            try:
                async with fresh_postgres(options.postgres_url, "palabre_soak") as url:
                    servers = [
                        ServerProcess(
                            url,
                            folder,
                            name=name,
                            redis_url=options.redis_url,
                            launch=PALABRE_SERVE,
                        )
                        for name in ("a", "b")
                    ]
                    try:
                        passed = await soak(options, servers, folder, url)
                    except Exception:
                        for server in servers:
                            print(f"--- {server.name}'s last log lines:\n{server.log_tail()}")
                        raise
                    finally:
                        for server in servers:
                            server.stop()
            finally:
                await asyncio.shield(flush_redis(options.redis_url))
    except SetupFailed as problem:
        print(f"FAILED: {problem}", file=sys.stderr)
        return 1
    except Exception:
        print("FAILED: the run broke off:", file=sys.stderr)
        traceback.print_exc()
        return 1
    print(f"the whole run, setup and checks included: {(time.perf_counter() - began) / 60:.1f} min")
    return 0 if passed else 1


def describe(options: Options) -> str:
    return (
        f"palabre soak: {options.rooms} rooms, {options.jurors} jurors, {options.facilitators} "
        f"facilitators, {options.observers} observers and the lead; pace {options.pace_ms} ms; "
        f"{options.minutes:g} min, a process killed every {options.kill_every_seconds:g} s; "
        f"2 processes, PostgreSQL, Redis; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} at the start"
    )


def main() -> None:
    try:
        sys.exit(asyncio.run(run(parse_options())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
