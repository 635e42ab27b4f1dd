"""Real servers and real clients for the integration tests: uvicorn on a loopback port, and a
python-socketio client that applies events the way a browser must (in seq order, once)."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import socketio
import uvicorn
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from facilitation import Command, Role, RoomCommand
from server.app import Palabre
from server.organiser import IssuedLink, Organiser, Person
from server.scheduler import Clock, wall_clock_ms
from server.schema import protocol_schema
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Long enough for a slow CI machine, short enough that a hang fails the test quickly.
WAIT_SECONDS = 10.0

# Every payload a test client receives is checked against the protocol's JSON Schema.
PROTOCOL = protocol_schema()
_VALIDATORS: dict[str, Draft202012Validator] = {}


def protocol_problem(definition: str, payload: Any) -> str | None:
    """Why `payload` does not match `#/$defs/<definition>` of the protocol, or None."""
    validator = _VALIDATORS.get(definition)
    if validator is None:
        schema = {**PROTOCOL, "$ref": f"#/$defs/{definition}"}
        validator = _VALIDATORS[definition] = Draft202012Validator(schema)
    error = best_match(validator.iter_errors(payload))
    if error is None:
        return None
    return f"{definition} breaks the protocol at {error.json_path}: {error.message}; {payload!r}"


def palabre(env: dict[str, str] | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The `palabre` command line, run as a process in `env` (this one's when None)."""
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


GENEROUS_ADDRESS_LIMITS = {
    "connect_burst": 100_000,
    "sse_burst": 100_000,
    "sse_streams_per_address": 100_000,
    "api_burst": 100_000,
}


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    port = overrides.pop("port", None) or free_port()
    url = f"http://127.0.0.1:{port}"
    given: dict[str, Any] = {
        "public_url": url,
        "allowed_origins": [url],
        "secret_key": "test-secret-key",
        "admin_token": "test-admin-token",
        # Every test client comes from 127.0.0.1: limits per address are lifted unless a test
        # sets its own.
        **GENEROUS_ADDRESS_LIMITS,
        # No voice unless a test gives a Janus (tests/voice): a server per test must not start
        # a Janus of its own.
        "janus_urls": [],
        **overrides,
    }
    return Settings(database_url=database_url, data_dir=data_dir, port=port, **given)


class ManualClock:
    """A clock that moves only when told, so a test passes a deadline without waiting for it."""

    def __init__(self) -> None:
        self.now_ms = wall_clock_ms()

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class LiveServer:
    """A palabre app served by a real uvicorn inside the test's event loop; with a `clock`
    (a `ManualClock`), the server's time is the test's to move."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.palabre = Palabre(settings) if clock is None else Palabre(settings, clock=clock)
        self.organiser = self.palabre.organiser
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.palabre.asgi,
                host="127.0.0.1",
                port=settings.port,
                log_level="warning",
                lifespan="on",
                ws="websockets-sansio",
            )
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._server.started:
            if self._task.done():
                self._task.result()
            assert time.monotonic() < deadline, "uvicorn did not start"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, WAIT_SECONDS)

    def wake_schedulers(self) -> None:
        """After moving a `ManualClock`: every live assembly looks at its deadlines again."""
        for runtime in self.palabre.hub.live():
            runtime.scheduler.wake()


@contextlib.asynccontextmanager
async def serving(settings: Settings, *, clock: Clock | None = None) -> AsyncIterator[LiveServer]:
    server = LiveServer(settings, clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class ServerProcess:
    """palabre in its own process, for what only a process can show (kill -9, restarts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.settings.database_url,
            "PALABRE_DATA_DIR": str(self.settings.data_dir),
            "PALABRE_PUBLIC_URL": self.url,
            "PALABRE_ALLOWED_ORIGINS": self.url,
            "PALABRE_SECRET_KEY": self.settings.signing_key,
            "PALABRE_ADMIN_TOKEN": self.settings.admin_key,
            "PALABRE_JANUS_URLS": ",".join(self.settings.janus_urls or []),
            **{
                f"PALABRE_{name.upper()}": str(getattr(self.settings, name))
                for name in GENEROUS_ADDRESS_LIMITS
            },
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "server.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.settings.port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + WAIT_SECONDS * 2
        while True:
            assert self.process.poll() is None, "the server process exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            assert time.monotonic() < deadline, "the server process did not become healthy"
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, nothing but what was already committed survives."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(WAIT_SECONDS)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Client:
    """A socket.io client keeping, per stream, the events it applied, in order, each once."""

    url: str
    sio: socketio.AsyncClient = field(
        default_factory=lambda: socketio.AsyncClient(reconnection=False)
    )
    auth: dict[str, Any] = field(default_factory=dict)
    applied: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    you: dict[str, Any] = field(default_factory=dict)
    presence: dict[str, list[str]] = field(default_factory=dict)
    duplicates: int = 0
    # Payloads received that the protocol schema refuses (handlers cannot fail a test directly).
    off_protocol: list[str] = field(default_factory=list)
    _early: list[dict[str, Any]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.sio.on("event", self._on_event)
        self.sio.on("moved", self._on_moved)
        self.sio.on("presence", self._on_presence)

    async def connect(self, **auth: Any) -> None:
        self.auth = auth
        await self.sio.connect(
            self.url, auth=auth, transports=["websocket"], wait_timeout=WAIT_SECONDS
        )
        await self.sync()

    async def reconnect(self) -> None:
        """Come back after a drop, asking for exactly what was missed."""
        self.sio = socketio.AsyncClient(reconnection=False)
        self.__post_init__()
        await self.sio.connect(
            self.url, auth=self.auth, transports=["websocket"], wait_timeout=WAIT_SECONDS
        )
        await self.sync()

    async def drop(self) -> None:
        await self.sio.disconnect()

    async def sync(self) -> None:
        reply = await self.sio.call("sync", {"resume": dict(self.last)}, timeout=WAIT_SECONDS)
        self._check("sync_reply", reply)
        assert reply["ok"], reply
        self.you = reply["you"]
        self._take_snapshots(reply["snapshots"])
        for payload in reply["events"]:
            self._apply(payload)
        self._drain()

    async def send(self, command: str, **fields: Any) -> dict[str, Any]:
        reply: dict[str, Any] = await self.sio.call(command, fields, timeout=WAIT_SECONDS)
        self._check("ack", reply)
        return reply

    async def raw(self, event: str, data: Any) -> Any:
        return await self.sio.call(event, data, timeout=WAIT_SECONDS)

    async def wait_for(self, condition: Callable[[], bool], what: str = "condition") -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition():
            assert not self.off_protocol, self.off_protocol[0]
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {what}"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))

    async def wait_seq(self, stream: str, seq: int) -> None:
        await self.wait_for(lambda: self.last.get(stream, 0) >= seq, f"{stream}#{seq}")

    def types(self, stream: str) -> list[str]:
        return [payload["type"] for payload in self.applied.get(stream, [])]

    # --- applying events the way a real client must -------------------------------------

    def _check(self, definition: str, payload: Any) -> None:
        problem = protocol_problem(definition, payload)
        if problem is not None:
            self.off_protocol.append(problem)
            raise AssertionError(problem)

    def _on_event(self, payload: dict[str, Any]) -> None:
        self._check("event", payload)
        stream = payload["room"]
        if stream not in self.last:
            self._early.append(payload)
        else:
            self._apply(payload)
            self._drain()
        self._changed.set()

    def _on_moved(self, data: dict[str, Any]) -> None:
        self._check("moved", data)
        self.you = data["you"]
        followed = set(self.you["streams"])
        for stream in list(self.last):
            if stream not in followed:
                del self.last[stream]
        self._take_snapshots(data["snapshots"])
        self._drain()
        self._changed.set()

    def _on_presence(self, data: dict[str, Any]) -> None:
        self._check("presence", data)
        self.presence[data["room"]] = data["present"]
        self._changed.set()

    def _take_snapshots(self, snapshots: dict[str, dict[str, Any]]) -> None:
        for stream, view in snapshots.items():
            self.snapshots[stream] = view
            self.last[stream] = view["seq"]
            self.applied.setdefault(stream, [])

    def _apply(self, payload: dict[str, Any]) -> None:
        stream, seq = payload["room"], payload["seq"]
        last = self.last.get(stream)
        if last is None or seq > last + 1:
            self._early.append(payload)
            return
        if seq <= last:
            self.duplicates += 1
            return
        self.applied.setdefault(stream, []).append(payload)
        self.last[stream] = seq

    def _drain(self) -> None:
        progress = True
        while progress and self._early:
            progress = False
            for payload in sorted(self._early, key=lambda p: (p["room"], p["seq"])):
                stream, seq = payload["room"], payload["seq"]
                if stream in self.last and seq <= self.last[stream] + 1:
                    self._early.remove(payload)
                    self._apply(payload)
                    progress = True


@contextlib.asynccontextmanager
async def connected(url: str, **auth: Any) -> AsyncIterator[Client]:
    client = Client(url)
    await client.connect(**auth)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            await client.drop()


async def demo_people(
    organiser: Organiser,
    assembly_id: str = "jury",
    *,
    jurors: int = 3,
    public: bool = True,
    pseudonymous: bool = False,
) -> dict[str, str]:
    """An assembly with lead, two facilitators, jurors and an observer: name -> invite token."""
    outcome = await organiser.create_assembly(
        assembly_id, "Citizens' jury on housing", public=public, pseudonymous=pseudonymous
    )
    assert outcome.ok, outcome
    people = [
        Person("lead", "Lea", Role.LEAD),
        Person("f1", "Fatou", Role.FACILITATOR),
        Person("f2", "Farid", Role.FACILITATOR),
        Person("obs", "Olga", Role.OBSERVER),
    ]
    people += [
        Person(f"j{n}", f"Juror Number{n}", Role.JUROR, {"age": "30-44"})
        for n in range(1, jurors + 1)
    ]
    result = await organiser.add_people(assembly_id, people)
    assert not result.refused, result.refused
    return {link.participant or "": token_of(link) for link in result.links}


def token_of(link: IssuedLink) -> str:
    return link.link.rsplit("/", 1)[1]


@dataclass(frozen=True)
class SseMessage:
    event: str
    id: int | None
    data: Any


class EventStream:
    """A Server-Sent Events reader, as a newsroom's script would be: it collects the messages
    of one `GET` as they arrive. A refused request keeps its status and JSON body instead."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.refusal: Any = None
        self.messages: list[SseMessage] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.status != 200:
            self.refusal = json.loads(await self.response.aread())
            return
        self._task = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.response.aclose()

    @property
    def last_id(self) -> int | None:
        return next((m.id for m in reversed(self.messages) if m.id is not None), None)

    def events(self) -> list[dict[str, Any]]:
        return [m.data for m in self.messages if m.event == "event"]

    async def wait_id(self, seq: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.last_id is None or self.last_id < seq:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for SSE id {seq}, got {self.last_id}"
            assert self._task is not None and not self._task.done(), "the SSE stream ended"
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))

    async def wait_ended(self) -> None:
        """Until the server ends the stream (a bounded wait)."""
        assert self._task is not None, "the stream never started"
        await asyncio.wait_for(asyncio.shield(self._task), WAIT_SECONDS)

    async def _read(self) -> None:
        fields: dict[str, list[str]] = {}
        async for line in self.response.aiter_lines():
            if line.startswith(":"):
                continue  # a comment: sse-starlette's keep-alive ping
            if line:
                name, _, value = line.partition(":")
                fields.setdefault(name, []).append(value.removeprefix(" "))
                continue
            if "data" in fields:
                ids = fields.get("id")
                self.messages.append(
                    SseMessage(
                        event=fields.get("event", ["message"])[-1],
                        id=int(ids[-1]) if ids else None,
                        data=json.loads("\n".join(fields["data"])),
                    )
                )
                self._changed.set()
            fields = {}


@contextlib.asynccontextmanager
async def event_stream(
    url: str, *, last_event_id: int | str | None = None, **params: str
) -> AsyncIterator[EventStream]:
    """`GET` a Server-Sent Events stream, resuming after `last_event_id` when given."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    # No read timeout: a quiet stream is normal; every wait on it is bounded instead.
    timeout = httpx.Timeout(WAIT_SECONDS, read=None)
    async with httpx.AsyncClient(timeout=timeout) as http:
        request = http.build_request("GET", url, headers=headers, params=params)
        stream = EventStream(await http.send(request, stream=True))
        try:
            await stream.start()
            yield stream
        finally:
            await stream.close()


# A well-formed payload for every command (room commands name the plenary), so a refusal seen
# with it is the rules' answer, never the parser's.
PLAUSIBLE_FIELDS: dict[str, dict[str, Any]] = {
    "create_assembly": {"title": "Another jury"},
    "add_participant": {"participant": "x1", "display_name": "Xavier", "role": "juror"},
    "open_round": {"room_count": 1},
    "adjust_allocation": {"participant": "j1", "to_room": "r1-1"},
    "start_round": {},
    "move_participant": {"participant": "j1", "to_room": "plenary"},
    "set_round_timer": {"duration_ms": 60_000},
    "expire_round_timer": {"round_id": "r1"},
    "broadcast": {"text": "Back in five minutes."},
    "close_round": {"after_ms": 60_000},
    "cancel_recall": {},
    "recall_round": {"round_id": "r1"},
    "set_fairness_alarms": {"unspoken_after_ms": 900_000},
    "send_facilitator_note": {"text": "Who has not spoken yet?"},
    "raise_hand": {},
    "lower_hand": {},
    "request_reply": {},
    "withdraw_reply": {},
    "grant_floor": {"participant": "j1"},
    "next_speaker": {},
    "yield_floor": {},
    "expire_turn": {"turn_id": "t1"},
    "extend_turn": {"by_ms": 10_000},
    "revoke_floor": {"reason": "Time."},
    "set_room_rules": {"turn_limit_ms": 60_000},
    "reorder_queue": {"order": ["j1"]},
    "move_to_top": {"participant": "j1"},
    "remove_from_queue": {"participant": "j1"},
    "speak": {"text": "I agree."},
    "interject": {"text": "One minute left."},
    "mute_participant": {"participant": "j1", "reason": "Noise."},
    "unmute_participant": {"participant": "j1"},
    "remove_participant": {"participant": "j1", "reason": "Abuse."},
    "lock_room": {},
    "unlock_room": {},
    "pause_room": {},
    "resume_room": {},
    "record_voice_activity": {"from_ms": 0, "to_ms": 10_000, "voiced_ms": {"j1": 1_000}},
    "add_agenda_item": {"title": "Rents", "duration_ms": 600_000},
    "advance_agenda": {},
    "extend_agenda_item": {"by_ms": 60_000},
    "expire_agenda_item": {"item_id": "a1"},
    "pose_question": {"text": "Cap rents?"},
    "post_position": {"question_id": "n1", "text": "Yes."},
    "post_argument": {"position_id": "n2", "stance": "for", "text": "Families stay."},
    "post_reply": {"parent_id": "n3", "text": "Do they?"},
    "endorse": {"node_id": "n3"},
    "withdraw_endorsement": {"node_id": "n3"},
    "hide_post": {"node_id": "n3", "reason": "Off topic."},
    "unhide_post": {"node_id": "n3", "reason": "On topic after all."},
    "merge_nodes": {"duplicate_id": "n4", "into_id": "n3"},
    "link_turn": {"node_id": "n3"},
    "open_poll": {"question": "Cap rents?", "kind": "single", "options": ["yes", "no"]},
    "vote": {"poll_id": "p1", "choices": [0]},
    "close_poll": {"poll_id": "p1"},
    "propose_carry": {"positions": ["n2"], "arguments": ["n3"]},
    "object_to_carry": {"reason": "Our dissent is missing."},
    "propose_merges": {
        "round_id": "r1",
        "candidates": [{"first": "r1-1/n2", "second": "r1-2/n2", "similarity": 0.8, "shared": []}],
    },
    "confirm_merge": {"proposal_id": "m1"},
    "reject_merge": {"proposal_id": "m1"},
}


def plausible(command: str, room: str = "plenary") -> dict[str, Any]:
    """A well-formed payload of `command`, naming `room` when it acts in one."""
    fields = dict(PLAUSIBLE_FIELDS[command])
    if issubclass(Command.registry[command], RoomCommand):
        fields["room"] = room
    return fields


async def connect_refusal(url: str, **auth: Any) -> Any:
    """Connect with `auth`, expecting a refusal: what the server's `connect_error` said."""
    sio = socketio.AsyncClient(reconnection=False)
    said: list[Any] = []
    sio.on("connect_error", said.append)
    try:
        await sio.connect(url, auth=auth, transports=["websocket"], wait_timeout=WAIT_SECONDS)
    except socketio.exceptions.ConnectionError:
        assert said, "refused without a connect_error"
        problem = protocol_problem("connect_error", said[-1])
        assert problem is None, problem
        return said[-1]
    await sio.disconnect()
    raise AssertionError(f"the server accepted {auth!r}")


async def acked(client: Client, command: str, **fields: Any) -> int:
    """Send a command that must succeed; the seq its ack names."""
    ack = await client.send(command, **fields)
    assert ack["ok"], (command, fields, ack)
    seq: int = ack["seq"]
    return seq
