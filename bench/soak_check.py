"""The end of a soak: the log read back from the database and replayed through the core, against
what each process serves and what each client built from the events it applied."""

import asyncio
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.live import ASSEMBLY_STREAM, ROOT, ServerProcess
from bench.soak_client import SoakClient, fresh_sync
from facilitation import Assembly, replay
from facilitation.record import verify_chain
from server.audience import Audience
from server.fanout import stream_view
from server.store import Store, StoredEvent

# tests/web/replay.mjs runs the pages' own state code (web/static/js/state.js) under Node.
REPLAY_SCRIPT = ROOT / "tests" / "web" / "replay.mjs"
# Clients replayed per Node process: each one's steps are held in memory at once.
REPLAY_CHUNK = 50
REPLAY_SECONDS = 600.0
# Fresh connections at once when taking the final snapshots.
FRESH_CONCURRENCY = 20
DETAILS_SHOWN = 12
END_LABEL = "end of the soak"

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Mismatch:
    """One place where two views of a stream differ."""

    check: str
    who: str
    stream: str
    path: JsonPath
    got: Any
    wanted: Any

    def __str__(self) -> str:
        where = ".".join(map(str, self.path)) or "(whole view)"
        got, wanted = (json.dumps(v)[:160] for v in (self.got, self.wanted))
        return f"{self.check}: {self.who}, {self.stream} {where}: {got} where {wanted} was due"


@dataclass
class Log:
    """The whole log of the assembly as stored, and what replaying it gives."""

    records: list[StoredEvent]
    heads: dict[str, int]
    chain_problems: list[str]
    state: Assembly | None
    replay_problem: str | None


@dataclass
class Verdict:
    mismatches: list[Mismatch] = field(default_factory=list)
    # check -> how many (client or process, stream) pairs were compared by it.
    compared: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


async def read_log(database_url: str, assembly_id: str) -> Log:
    store = Store(database_url)
    await store.start()
    try:
        records = await store.events(assembly_id)
    finally:
        await store.close()
    heads: dict[str, int] = {}
    for record in records:
        heads[record.event.room] = max(heads.get(record.event.room, 0), record.event.seq)
    problems = verify_chain(record.record() for record in records)
    try:
        state: Assembly | None = replay(record.event for record in records)
        replay_problem = None
    except Exception as error:
        state, replay_problem = None, f"{type(error).__name__}: {error}"
    return Log(records, heads, problems, state, replay_problem)


async def log_heads(store: Store, assembly_id: str, heads: dict[str, int], after: int) -> int:
    """Bring `heads` (stream -> last seq) up to date from the store; the last position read."""
    for record in await store.events(assembly_id, after_position=after):
        heads[record.event.room] = record.event.seq
        after = record.position
    return after


class Expected:
    """Each stream's view for each audience, as the replayed log gives it."""

    def __init__(self, state: Assembly, assembly_id: str) -> None:
        self.state = state
        self.assembly_id = assembly_id
        self.now_ms = time.time_ns() // 1_000_000
        self._views: dict[tuple[str, str], Any] = {}

    def view(self, stream: str, audience: str) -> Any:
        key = (stream, audience)
        if key not in self._views:
            shown = stream_view(
                self.state, self.assembly_id, stream, Audience(audience), self.now_ms
            )
            # What a client receives: tuples become lists, keys become strings.
            self._views[key] = json.loads(json.dumps(shown))
        return self._views[key]


def differences(
    actual: Any, expected: Any, path: JsonPath = ()
) -> Iterator[tuple[JsonPath, Any, Any]]:
    """Every place where two JSON values differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual or key not in expected:
                yield (*path, key), actual.get(key, "<missing>"), expected.get(key, "<missing>")
            else:
                yield from differences(actual[key], expected[key], (*path, key))
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            yield from differences(a, e, (*path, index))
    elif actual != expected or type(actual) is not type(expected):
        yield path, actual, expected


def compare(
    verdict: Verdict, check: str, who: str, views: dict[str, Any], wanted: dict[str, Any]
) -> None:
    """Note every difference between two sets of stream views, stream by stream."""
    for stream in sorted(set(views) | set(wanted)):
        verdict.compared[check] += 1
        if stream not in views or stream not in wanted:
            got, due = views.get(stream, "<not followed>"), wanted.get(stream, "<not followed>")
            verdict.mismatches.append(Mismatch(check, who, stream, (), got, due))
            continue
        for path, got, due in differences(views[stream], wanted[stream]):
            verdict.mismatches.append(Mismatch(check, who, stream, path, got, due))


def without_people(views: dict[str, Any]) -> dict[str, Any]:
    """Views as the pages keep them: a room's `people` go to the page's directory of names."""
    return {
        stream: {key: value for key, value in view.items() if key != "people"}
        for stream, view in views.items()
    }


def replay_in_node(clients: Sequence[SoakClient], folder: Path) -> dict[str, dict[str, Any]]:
    """Each client's state as the pages' code builds it from its snapshots and steps, by name:
    stream -> view."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: the soak replays the clients with Node.js 20+")
    built: dict[str, dict[str, Any]] = {}
    for start in range(0, len(clients), REPLAY_CHUNK):
        chunk = clients[start : start + REPLAY_CHUNK]
        fixture, result = folder / "replay-in.json", folder / "replay-out.json"
        fixture.write_text(json.dumps({"viewers": [c.fixture(END_LABEL) for c in chunk]}))
        done = subprocess.run(
            [node, str(REPLAY_SCRIPT), str(fixture), str(result)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=REPLAY_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"replay.mjs failed:\n{done.stdout}\n{done.stderr[-2000:]}")
        for viewer in json.loads(result.read_text())["viewers"]:
            state = viewer["checks"][-1]["client"]
            built[viewer["name"]] = {ASSEMBLY_STREAM: state["assembly"], **state["rooms"]}
    return built


async def check_processes(
    verdict: Verdict,
    expected: Expected,
    servers: Sequence[ServerProcess],
    lead_auth: dict[str, str],
    http: aiohttp.ClientSession,
    timeout: float,
) -> None:
    """What each process serves the lead (every stream, in full) against the replayed log."""
    for server in servers:
        reply = await fresh_sync(server, lead_auth, http, timeout)
        wanted = {stream: expected.view(stream, "mod") for stream in reply["you"]["streams"]}
        compare(
            verdict, "process state = log", f"process {server.name}", reply["snapshots"], wanted
        )


async def check_clients(
    verdict: Verdict,
    expected: Expected,
    clients: Sequence[SoakClient],
    http: aiohttp.ClientSession,
    folder: Path,
    timeout: float,
) -> None:
    """Every client's state against what it would get by joining now, and against the log."""
    gate = asyncio.Semaphore(FRESH_CONCURRENCY)

    async def fresh(client: SoakClient) -> dict[str, Any]:
        assert client.server is not None
        async with gate:
            return await fresh_sync(client.server, client.auth, http, timeout)

    replies = await asyncio.gather(*(fresh(client) for client in clients), return_exceptions=True)
    built = await asyncio.to_thread(replay_in_node, clients, folder)
    for client, reply in zip(clients, replies, strict=True):
        if isinstance(reply, BaseException):
            verdict.problems.append(f"{client.name}: could not join afresh: {reply!r}")
            continue
        views = built[client.name]
        snapshots = without_people(reply["snapshots"])
        wanted = without_people(
            {stream: expected.view(stream, client.audience) for stream in snapshots}
        )
        compare(verdict, "client = fresh snapshot", client.name, views, snapshots)
        compare(verdict, "client = log", client.name, views, wanted)
