"""One person's socket through the soak: it applies events in seq order per stream, each once,
from its snapshots (docs/protocol.md's rules, as tests/server/harness.py's Client follows them),
keeps every step it applied for the final replay, and comes back when its process is killed.

What it counts, over every client (`Tally`):

- a duplicate: the same event (stream and seq) sent twice as a live `event` on one connection;
- an overlap: an event the client already held (from a snapshot, or from a `sync` reply racing
  the live fan-out), which the protocol says to drop: expected around every (re)connection;
- a gap: after its `sync`, an event arrived that does not follow the last one applied, and the
  missing events had still not come `GAP_SECONDS` later (what makes a page sync again);
- an out-of-order arrival: a gap that filled itself within `GAP_SECONDS`.
"""

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from bench.live import ServerProcess
from bench.room_script import CreatedIds

# How long a page waits for a gap to fill before it syncs again (web/static/js/streams.js).
GAP_SECONDS = 3.0
# A client whose socket drops waits a random moment (as socket.io's backoff does, so a whole
# process's clients do not come back in the same instant), then picks a process at random, the
# other one or the one restarting, and keeps trying it for PREFERRED_SECONDS, so that both keep
# clients; then any live one, for at most RECONNECT_SECONDS in all.
RECONNECT_DELAY_SECONDS = (0.2, 2.0)
RETRY_SECONDS = 0.5
PREFERRED_SECONDS = 20.0
RECONNECT_SECONDS = 60.0
AUDIENCE_OF_ROLE = {"lead": "mod", "facilitator": "mod", "juror": "member", "observer": "obs"}

Payload = dict[str, Any]


class Unanswered(Exception):
    """A command got no ack: its socket dropped (its process was killed) or it timed out."""


@dataclass(frozen=True)
class Gap:
    client: str
    stream: str
    expected: int
    received: int
    process: str
    at_seconds: float

    def __str__(self) -> str:
        return (
            f"{self.client} on {self.process} at {self.at_seconds:.0f} s: {self.stream} "
            f"waited for #{self.expected}, got #{self.received} and on"
        )


@dataclass
class Tally:
    """What every client saw, added up."""

    started: float = field(default_factory=time.perf_counter)
    live_events: int = 0
    sync_events: int = 0
    overlaps: int = 0
    out_of_order: int = 0
    duplicates: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    reconnects: int = 0
    reconnect_seconds: list[float] = field(default_factory=list)
    # Streams resumed with the events missed, and streams given a fresh snapshot instead.
    resumed_streams: int = 0
    snapshot_streams: int = 0
    lost: list[str] = field(default_factory=list)


class SharedPayloads:
    """Clients of one audience receive equal payloads: keep one copy of each for the replay."""

    def __init__(self) -> None:
        self._kept: dict[tuple[str, int, str], Payload] = {}

    def share(self, audience: str, payload: Payload) -> Payload:
        key = (payload["room"], payload["seq"], audience)
        kept = self._kept.setdefault(key, payload)
        return kept if kept == payload else payload


class SoakClient:
    def __init__(
        self,
        name: str,
        role: str,
        auth: dict[str, str],
        *,
        tally: Tally,
        payloads: SharedPayloads,
        created: CreatedIds,
        http: aiohttp.ClientSession,
        timeout: float,
        seed: int,
    ) -> None:
        self.name = name
        self.role = role
        self.auth = auth
        self.audience = AUDIENCE_OF_ROLE[role]
        self.tally = tally
        self.payloads = payloads
        self.created = created
        self.http = http
        self.timeout = timeout
        self.draw = random.Random(seed)
        self.server: ServerProcess | None = None
        self.sio: socketio.AsyncClient | None = None
        self.you: dict[str, Any] = {}
        # Per stream: the last seq applied, and what came after a gap, by seq.
        self.last: dict[str, int] = {}
        self.early: dict[str, dict[int, Payload]] = {}
        self.gap_since: dict[str, float] = {}
        # What the replay needs: the first snapshots, then every step in the order applied.
        self.snapshots: dict[str, Any] | None = None
        self.steps: list[dict[str, Any]] = []
        # Set while connected and synced; `lost` is set when this connection drops.
        self.ready = asyncio.Event()
        self.lost = asyncio.Event()
        self.synced = False
        self.live_seen: dict[str, set[int]] = {}
        self.closing = False
        self.servers: Sequence[ServerProcess] = ()
        self._coming_back: asyncio.Task[None] | None = None

    # --- Connecting, and coming back ---------------------------------------------------------

    async def join(self, server: ServerProcess) -> None:
        """Connect to `server` and sync (from scratch the first time, then resuming)."""
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self.http)
        lost = asyncio.Event()
        sio.on("event", lambda payload: self._on_event(sio, payload))
        sio.on("moved", lambda data: self._on_moved(sio, data))
        sio.on("disconnect", lambda *_: self._on_disconnect(sio, lost))
        self.sio, self.lost, self.server = sio, lost, server
        self.live_seen, self.synced = {}, False
        try:
            await sio.connect(
                server.url, auth=self.auth, transports=["websocket"], wait_timeout=self.timeout
            )
            await self.sync()
        except BaseException:
            await self._close(sio)
            raise
        self.ready.set()

    def _on_disconnect(self, sio: socketio.AsyncClient, lost: asyncio.Event) -> None:
        lost.set()
        if sio is not self.sio:
            return
        self.ready.clear()
        self.synced = False
        if self.closing or (self._coming_back is not None and not self._coming_back.done()):
            return
        self._coming_back = asyncio.create_task(self._come_back(), name=f"back-{self.name}")

    async def _come_back(self) -> None:
        """Reconnect to the other process or to the restarted one, and resume."""
        dropped = time.perf_counter()
        deadline = dropped + RECONNECT_SECONDS
        await asyncio.sleep(self.draw.uniform(*RECONNECT_DELAY_SECONDS))
        preferred = self.draw.choice(self.servers)
        attempt = 0
        while time.perf_counter() < deadline and not self.closing:
            target = self.servers[attempt % len(self.servers)]
            if time.perf_counter() - dropped < PREFERRED_SECONDS:
                target = preferred
            attempt += 1
            if target.alive():
                with contextlib.suppress(Exception):
                    await self.join(target)
                    self.tally.reconnects += 1
                    self.tally.reconnect_seconds.append(time.perf_counter() - dropped)
                    return
            await asyncio.sleep(RETRY_SECONDS)
        if not self.closing:
            self.tally.lost.append(f"{self.name}: no process took it back in {RECONNECT_SECONDS} s")

    async def leave(self) -> None:
        self.closing = True
        if self._coming_back is not None:
            self._coming_back.cancel()
            await asyncio.gather(self._coming_back, return_exceptions=True)
        if self.sio is not None:
            await self._close(self.sio)

    @staticmethod
    async def _close(sio: socketio.AsyncClient) -> None:
        with contextlib.suppress(Exception):
            await sio.disconnect()

    # --- Commands -----------------------------------------------------------------------------

    async def until_ready(self, seconds: float) -> bool:
        """Wait until connected and synced (after a kill, until back); whether it was in time.
        Ready again may not last until this task runs: then it waits again, within the bound."""
        deadline = time.perf_counter() + seconds
        while not self.ready.is_set():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), remaining)
        return True

    async def call(self, command: str, fields: dict[str, Any]) -> Any:
        """Send one command and wait for its ack. Raises `Unanswered` when the connection
        drops first (its process was killed) or the ack takes longer than the timeout."""
        if not self.ready.is_set():
            raise Unanswered("not connected")
        sio, lost = self.sio, self.lost
        assert sio is not None
        answer = asyncio.ensure_future(sio.call(command, fields, timeout=self.timeout + 1))
        dropped = asyncio.ensure_future(lost.wait())
        done, _ = await asyncio.wait(
            {answer, dropped}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        dropped.cancel()
        if answer in done and answer.exception() is None:
            return answer.result()
        answer.cancel()
        await asyncio.gather(answer, dropped, return_exceptions=True)
        raise Unanswered("disconnected" if lost.is_set() else "timeout")

    # --- Applying what arrives ----------------------------------------------------------------

    async def sync(self) -> None:
        """Send `sync` with the last seq of each stream; take its snapshots, then its events."""
        assert self.sio is not None
        reply = await self.sio.call("sync", {"resume": dict(self.last)}, timeout=self.timeout)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.name}: sync refused: {reply}")
        resumed = set(self.last)
        streams_before = set(self.last)
        self.you = reply["you"]
        snapshots = reply["snapshots"]
        if self.snapshots is None:
            self.snapshots = snapshots
        elif snapshots or set(self.you["streams"]) != streams_before:
            self.steps.append({"moved": {"you": self.you, "snapshots": snapshots}})
        self._follow(self.you["streams"], snapshots)
        self.tally.resumed_streams += len(resumed - set(snapshots))
        self.tally.snapshot_streams += len(resumed & set(snapshots))
        for payload in reply["events"]:
            self.tally.sync_events += 1
            self.created.arrived(payload)
            self._receive(payload)
        self.synced = True
        now = time.perf_counter()
        for stream in self.early:
            self._drain(stream)
            if self.early.get(stream):
                self.gap_since.setdefault(stream, now)

    def _on_moved(self, sio: socketio.AsyncClient, data: dict[str, Any]) -> None:
        if sio is not self.sio:
            return
        self.you = data["you"]
        self.steps.append({"moved": data})
        self._follow(self.you["streams"], data["snapshots"])

    def _follow(self, streams: list[str], snapshots: dict[str, Any]) -> None:
        """Drop the streams no longer followed; restart the others from their snapshots."""
        for stream in set(self.last) - set(streams):
            del self.last[stream]
            self.early.pop(stream, None)
            self.gap_since.pop(stream, None)
        for stream, view in snapshots.items():
            self.last[stream] = view["seq"]
            self._drain(stream)

    def _on_event(self, sio: socketio.AsyncClient, payload: Payload) -> None:
        if sio is not self.sio:
            return
        self.tally.live_events += 1
        self.created.arrived(payload)
        stream, seq = payload["room"], payload["seq"]
        seen = self.live_seen.setdefault(stream, set())
        if seq in seen:
            self.tally.duplicates.append(
                f"{self.name} on {self.server.name if self.server else '?'}: {stream}#{seq} "
                f"sent twice on one connection"
            )
            return
        seen.add(seq)
        self._receive(payload)

    def _receive(self, payload: Payload) -> None:
        stream, seq = payload["room"], payload["seq"]
        last = self.last.get(stream)
        if last is not None and seq <= last:
            self.tally.overlaps += 1
            return
        if last is None or seq > last + 1:
            # No starting point yet (before the first sync), or after a gap: keep it for later.
            self.early.setdefault(stream, {})[seq] = payload
            if last is not None and self.synced:
                self.gap_since.setdefault(stream, time.perf_counter())
            return
        self._apply(payload)
        self._drain(stream)

    def _apply(self, payload: Payload) -> None:
        self.steps.append({"event": self.payloads.share(self.audience, payload)})
        self.last[payload["room"]] = payload["seq"]

    def _drain(self, stream: str) -> None:
        """Apply what now follows, drop what is no longer needed, and end a gap that filled."""
        waiting = self.early.get(stream)
        last = self.last.get(stream)
        if not waiting or last is None:
            return
        for seq in sorted(waiting):
            if seq <= last:
                del waiting[seq]
                self.tally.overlaps += 1
            elif seq == last + 1:
                self._apply(waiting.pop(seq))
                last = seq
            else:
                break
        if not waiting:
            del self.early[stream]
            if self.gap_since.pop(stream, None) is not None:
                self.tally.out_of_order += 1

    async def check_gaps(self) -> None:
        """A gap open longer than `GAP_SECONDS` is counted, then the client syncs again (as a
        page does) so that the run goes on."""
        if not self.ready.is_set():
            return
        now = time.perf_counter()
        lasting = [s for s, since in self.gap_since.items() if now - since > GAP_SECONDS]
        if not lasting:
            return
        for stream in lasting:
            del self.gap_since[stream]
            waiting = self.early.get(stream)
            self.tally.gaps.append(
                Gap(
                    client=self.name,
                    stream=stream,
                    expected=self.last[stream] + 1,
                    received=min(waiting) if waiting else self.last[stream] + 1,
                    process=self.server.name if self.server else "?",
                    at_seconds=now - self.tally.started,
                )
            )
        with contextlib.suppress(Exception):
            await self.sync()

    def behind(self, heads: dict[str, int]) -> dict[str, tuple[int, int]]:
        """The streams this client follows that it has not applied up to `heads`."""
        return {
            stream: (last, heads.get(stream, 0))
            for stream, last in self.last.items()
            if last != heads.get(stream, 0)
        }

    def fixture(self, label: str) -> dict[str, Any]:
        """Its steps for tests/web/replay.mjs, ending with one look at the state."""
        return {
            "name": self.name,
            "audience": self.audience,
            "snapshots": self.snapshots or {},
            "steps": [*self.steps, {"check": {"label": label, "at": []}}],
        }


async def fresh_sync(
    server: ServerProcess, auth: dict[str, str], http: aiohttp.ClientSession, timeout: float
) -> dict[str, Any]:
    """What someone joining now with `auth` gets: the `sync` reply of a new connection."""
    sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http)
    try:
        await sio.connect(server.url, auth=auth, transports=["websocket"], wait_timeout=timeout)
        reply: dict[str, Any] = await sio.call("sync", {"resume": {}}, timeout=timeout)
    finally:
        with contextlib.suppress(Exception):
            await sio.disconnect()
    if not reply.get("ok"):
        raise RuntimeError(f"sync refused: {reply}")
    return reply
