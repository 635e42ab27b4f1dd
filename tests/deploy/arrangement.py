"""The reference deployment on loopback, for the tests: two `palabre serve` processes on one
PostgreSQL database and one Redis, nginx in front (deploy/nginx.py), and the clients through
nginx only. Which process holds a client is read from the processes' own `/metrics`, so the
tests can say where each command arrived without trusting nginx to have balanced."""

import asyncio
import contextlib
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.live import (
    PALABRE_SERVE,
    ServerProcess,
    open_and_start_round,
    organise,
    people,
    round_rooms,
)
from deploy.nginx import Balancer
from server.store import Store
from tests.server.harness import GENEROUS_ADDRESS_LIMITS, WAIT_SECONDS, Client

PROCESSES = ("a", "b")
METRIC_LINE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
# After a kill, a client notices, then tries again through nginx this often, this many times.
RECONNECT_EVERY_SECONDS = 0.2
RECONNECT_TRIES = 50
# How often the tests look whether everyone has caught up with the log.
QUIET_POLL_SECONDS = 0.2
# A process answers /healthz in a few seconds; a machine busy with other work may take longer.
START_SECONDS = 120.0


@dataclass
class Deployment:
    balancer: Balancer
    processes: list[ServerProcess]
    database_url: str

    @property
    def url(self) -> str:
        return self.balancer.url

    async def metric(self, process: ServerProcess, name: str) -> Counter[str]:
        """A metric of one process, asked on its own port: label set -> value."""
        async with httpx.AsyncClient(timeout=WAIT_SECONDS) as http:
            text = (await http.get(f"{process.url}/metrics")).text
        found: Counter[str] = Counter()
        for line in text.splitlines():
            match = METRIC_LINE.match(line)
            if match and match["name"] == name:
                found[match["labels"] or ""] += round(float(match["value"]))
        return found

    async def connections(self) -> dict[str, int]:
        """Open sockets per process (the `palabre_connections` gauge, every role)."""
        counts = await asyncio.gather(*(self.metric(p, "palabre_connections") for p in self.live()))
        return {p.name: sum(c.values()) for p, c in zip(self.live(), counts, strict=True)}

    async def commands(self) -> dict[str, int]:
        """Commands received per process (`palabre_commands_total`, every type)."""
        counts = await asyncio.gather(
            *(self.metric(p, "palabre_commands_total") for p in self.live())
        )
        return {p.name: sum(c.values()) for p, c in zip(self.live(), counts, strict=True)}

    def live(self) -> list[ServerProcess]:
        return [p for p in self.processes if p.alive()]

    async def log(self, assembly_id: str) -> dict[str, list[tuple[int, str]]]:
        """The store's log per stream: (seq, event type), in seq order."""
        store = Store(self.database_url)
        await store.start()
        try:
            records = await store.events(assembly_id)
        finally:
            await store.close()
        streams: dict[str, list[tuple[int, str]]] = {}
        for record in records:
            streams.setdefault(record.event.room, []).append((record.event.seq, record.event.name))
        for events in streams.values():
            events.sort()
        return streams


@contextlib.asynccontextmanager
async def deployed(postgres_url: str, redis_url: str, folder: Path) -> AsyncIterator[Deployment]:
    """Two processes and nginx, stopped (and nginx's folder removed) whatever happens."""
    processes = [
        ServerProcess(
            postgres_url, folder / name, name=name, redis_url=redis_url, launch=PALABRE_SERVE
        )
        for name in PROCESSES
    ]
    balancer = Balancer([f"127.0.0.1:{p.port}" for p in processes])
    public = {
        # Links and origins are nginx's, the address people use; no Janus of their own.
        "PALABRE_PUBLIC_URL": balancer.url,
        "PALABRE_ALLOWED_ORIGINS": balancer.url,
        "PALABRE_JANUS_URLS": "",
        **{
            f"PALABRE_{name.upper()}": str(value) for name, value in GENEROUS_ADDRESS_LIMITS.items()
        },
    }
    for process in processes:
        (folder / process.name).mkdir(parents=True)
        process.settings.update(public)
    try:
        await asyncio.gather(*(process.start(within=START_SECONDS) for process in processes))
        balancer.start()
        yield Deployment(balancer, processes, postgres_url)
    finally:
        balancer.stop()
        for process in processes:
            process.stop()


class WatchedClient(Client):
    """The tests' client, which also notes each duplicate it dropped (the stream, the seq, and
    whether it came since its last reconnection and before that sync's reply was applied)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not hasattr(self, "dropped"):
            self.dropped: list[tuple[str, int, str]] = []
            self.phase = "live"

    async def reconnect(self) -> None:
        self.phase = "resuming"
        try:
            await super().reconnect()
        finally:
            self.phase = "live"

    def _apply(self, payload: dict[str, Any]) -> None:
        before = self.duplicates
        super()._apply(payload)
        if self.duplicates > before:
            self.dropped.append((payload["room"], payload["seq"], self.phase))


@dataclass
class Person:
    """A client through nginx, the process that holds it, and what it saw at each moment."""

    name: str
    role: str
    auth: dict[str, Any]
    client: WatchedClient
    process: str = ""
    # The seq of each stream's snapshot at the first sync: what it must receive comes after.
    start: dict[str, int] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)
    reconnections: int = 0


async def join(deployment: Deployment, person: Person) -> None:
    """Connect one client through nginx, and find which process took it: the one whose
    connection count rose (clients join one at a time, so nothing else moves it)."""
    before = await deployment.connections()
    await person.client.connect(**person.auth)
    after = await deployment.connections()
    risen = [name for name in after if after[name] != before.get(name)]
    assert len(risen) == 1 and after[risen[0]] == before[risen[0]] + 1, (before, after)
    person.process = risen[0]
    person.start = dict(person.client.last)


@dataclass
class Assembly:
    assembly_id: str
    lead: Person
    # Per room: its chair, its jurors, its observers.
    rooms: dict[str, tuple[Person, list[Person], list[Person]]]

    def everyone(self) -> list[Person]:
        people = [self.lead]
        for chair, jurors, observers in self.rooms.values():
            people += [chair, *jurors, *observers]
        return people


async def assemble(deployment: Deployment, *, rooms: int, jurors: int, observers: int) -> Assembly:
    """An assembly set up through nginx (organiser API, then the lead opens and starts a
    breakout round), and everyone connected through nginx, room by room."""
    assembly_id = f"deploy-{secrets.token_hex(4)}"
    tokens = await organise(
        deployment.url, assembly_id, "Behind nginx", people(rooms * jurors, rooms)
    )
    lead = Person("lead", "lead", {"token": tokens["lead"]}, WatchedClient(deployment.url))
    await join(deployment, lead)

    async def call(command: str, fields: dict[str, Any]) -> dict[str, Any]:
        return await lead.client.send(command, **fields)

    await open_and_start_round(call, rooms, WAIT_SECONDS)
    # Who sits where, from a fresh look (the lead's own client keeps applying events).
    fresh = await lead.client.raw("sync", {"resume": {}})
    seated: dict[str, tuple[Person, list[Person], list[Person]]] = {}
    for plan in round_rooms(fresh):
        room = plan["room_id"]
        chair_name = plan["facilitators"][0]
        chair = Person(
            chair_name, "facilitator", {"token": tokens[chair_name]}, WatchedClient(deployment.url)
        )
        members = [
            Person(name, "juror", {"token": tokens[name]}, WatchedClient(deployment.url))
            for name in plan["jurors"]
        ]
        watchers = [
            Person(f"{room}-o{n}", "observer", {"assembly": assembly_id, "watch": room},
                   WatchedClient(deployment.url))
            for n in range(observers)
        ]  # fmt: skip
        for person in (chair, *members, *watchers):
            await join(deployment, person)
        seated[room] = (chair, members, watchers)
    return Assembly(assembly_id, lead, seated)


# How a test sends one command: (person, command, **fields) -> the ack.
Send = Callable[..., Awaitable[dict[str, Any]]]


async def turns(
    room: str,
    chair: Person,
    jurors: list[Person],
    count: int,
    send: Send,
    after_turn: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """A room's deliberation, `count` turns: every juror raises a hand at once (commands of
    one room racing from both processes), the chair gives the floor to the next juror, who
    speaks and yields, and the others lower their hands, at once again."""
    for turn in range(count):
        speaker = jurors[turn % len(jurors)]
        await asyncio.gather(*(send(j, "raise_hand", room=room) for j in jurors))
        await send(chair, "grant_floor", room=room, participant=speaker.name)
        await send(speaker, "speak", room=room, text=f"Turn {turn} in {room}: rents first.")
        await send(speaker, "yield_floor", room=room)
        others = [j for j in jurors if j is not speaker]
        await asyncio.gather(*(send(j, "lower_hand", room=room) for j in others))
        if after_turn is not None:
            await after_turn(turn)


async def caught_up(deployment: Deployment, assembly: Assembly) -> dict[str, list[tuple[int, str]]]:
    """Wait (bounded) until every client has applied every stream it follows up to the
    store's head; the store's log."""
    deadline = time.monotonic() + WAIT_SECONDS * 2
    while True:
        log = await deployment.log(assembly.assembly_id)
        heads = {stream: events[-1][0] for stream, events in log.items()}
        behind = {
            person.name: {s: (last, heads.get(s, 0)) for s, last in person.client.last.items()
                          if last < heads.get(s, 0)}
            for person in assembly.everyone()
        }  # fmt: skip
        behind = {name: lag for name, lag in behind.items() if lag}
        if not behind:
            return log
        assert time.monotonic() < deadline, f"clients still behind the log: {behind}"
        await asyncio.sleep(QUIET_POLL_SECONDS)


def received_exactly_the_log(person: Person, log: dict[str, list[tuple[int, str]]]) -> None:
    """What the client applied, per stream it follows, is the store's log after its first
    snapshot: every event, once, in the log's order, with no gap; and nothing received twice,
    also by a client that came back after its process died (an event reaches a connection
    live or in its `sync` reply, never both)."""
    client = person.client
    assert not client.dropped, f"{person.name} received events twice: {client.dropped}"
    assert not client._early, f"{person.name} holds events past a gap: {client._early[:3]}"
    assert not client.off_protocol, client.off_protocol[0]
    for stream, start in person.start.items():
        got = [(p["seq"], p["type"]) for p in client.applied.get(stream, []) if p["seq"] > start]
        expected = [(seq, kind) for seq, kind in log.get(stream, []) if seq > start]
        assert got == expected, f"{person.name} on {stream}: {got} != {expected}"
