"""One assembly live in this process: its state, caught up from the store, and its one writer.

Commands queue up; a single writer task takes whatever has queued, decides and applies each
command in turn, and appends all their events in one transaction (group commit: one fsync for
a burst of commands). Only after the commit are the senders acknowledged and the events
published. If another process wrote first (a seq conflict), the writer reloads and decides the
batch again; if the store fails, it reloads and answers `unavailable`, so nothing that was not
committed is ever acknowledged or shown.
"""

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from facilitation import (
    ASSEMBLY_STREAM,
    SYSTEM_ACTOR,
    Assembly,
    Command,
    Refusal,
    RoomCommand,
    decide,
    evolve,
)
from facilitation.messages import Event
from server.audience import Audience, PseudonymCache, payloads
from server.scheduler import Clock, Scheduler, deadlines_from, deadlines_in
from server.store import SeqConflict, Store, StoredEvent

log = logging.getLogger("palabre.runtime")
T = TypeVar("T")

UNAVAILABLE = "unavailable"
# A burst larger than this waits for the next commit: bounds the latency of one transaction.
MAX_BATCH_COMMANDS = 256
# Conflicts mean another process writes the same assembly: retrying a few times is enough.
MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class Outcome:
    """The answer to one command: its ack on the wire."""

    ok: bool
    seq: int = 0
    error: str = ""
    detail: str = ""

    def ack(self) -> dict[str, Any]:
        if self.ok:
            return {"ok": True, "seq": self.seq}
        return {"ok": False, "error": self.error, "detail": self.detail}


@dataclass(frozen=True)
class Delivery:
    """A committed event and what each audience of its stream receives."""

    record: StoredEvent
    payloads: dict[Audience, dict[str, Any]]


Publish = Callable[["AssemblyRuntime", list[Delivery]], None]
# Told of this process's own commits, to pass them to the other processes (the bus).
Broadcast = Callable[["AssemblyRuntime", list[StoredEvent]], None]


@dataclass
class _Pending:
    command: Command
    actor: str
    future: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Absorb:
    """Events another process committed, arriving over the bus."""

    records: list[StoredEvent]
    # Also read the store for anything missed (after the bus was away).
    catch_up: bool = False


@dataclass
class _Read:
    """A look at the state between two commits, never at a batch still being written."""

    look: Callable[[Assembly], Any]
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AssemblyRuntime:
    def __init__(
        self,
        assembly_id: str,
        store: Store,
        *,
        clock: Clock,
        publish: Publish,
        snapshot_every_events: int = 500,
        recent_per_stream: int = 200,
        broadcast: Broadcast | None = None,
    ) -> None:
        self.id = assembly_id
        self.store = store
        self.clock = clock
        self.state = Assembly()
        self.position = 0
        self._publish = publish
        self._broadcast = broadcast
        self._snapshot_every = snapshot_every_events
        self._since_snapshot = 0
        self._queue: asyncio.Queue[_Pending | _Read | _Absorb] = asyncio.Queue()
        # The last deliveries of each stream, so a client that reconnects gets exactly what it
        # missed, redacted as it was sent. Older gaps, or any gap after a restart: a snapshot.
        self._recent_per_stream = recent_per_stream
        self._recent: dict[str, deque[Delivery]] = {}
        self._writer: asyncio.Task[None] | None = None
        self.scheduler = Scheduler(self._expire, clock)
        self._names = PseudonymCache()

    async def start(self) -> None:
        await self.load()
        self.scheduler.add(deadlines_in(self.state))
        self.scheduler.start()
        self._writer = asyncio.create_task(self._write_forever(), name=f"palabre-writer-{self.id}")

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None

    async def load(self) -> None:
        """Rebuild the state from the latest snapshot and the log after it.

        What was remembered for resuming is dropped: those clients get a snapshot instead.
        """
        self._recent = {}
        snapshot = await self.store.latest_snapshot(self.id)
        state, position = Assembly(), 0
        if snapshot is not None:
            position, state = snapshot
        for record in await self.store.events(self.id, after_position=position):
            evolve(state, record.event)
            position = record.position
        self.state, self.position = state, position

    async def submit(self, command: Command, actor: str) -> Outcome:
        pending = _Pending(command, actor)
        await self._queue.put(pending)
        return await pending.future

    async def read(self, look: Callable[[Assembly], T]) -> T:
        """Run `look` on the committed state, between two batches of the writer."""
        pending = _Read(look)
        await self._queue.put(pending)
        result: T = await pending.future
        return result

    def absorb(self, records: list[StoredEvent]) -> None:
        """Take in events another process committed; the writer applies them in turn."""
        self._queue.put_nowait(_Absorb(records))

    def catch_up_later(self) -> None:
        """Read the store for anything committed elsewhere that the bus may have lost."""
        self._queue.put_nowait(_Absorb([], catch_up=True))

    def missed(self, stream: str, after_seq: int) -> list[Delivery] | None:
        """The deliveries of `stream` after `after_seq`, or None when they are not all kept.

        Call it from inside `read`, so the answer matches the committed state.
        """
        head = self.state.seqs.get(stream, 0)
        if after_seq > head:
            # The client knows of events this log never had (a reset database): start afresh.
            return None
        if after_seq == head:
            return []
        recent = self._recent.get(stream)
        if not recent or recent[0].record.event.seq > after_seq + 1:
            return None
        return [d for d in recent if d.record.event.seq > after_seq]

    async def _expire(self, command: Command) -> None:
        outcome = await self.submit(command, SYSTEM_ACTOR)
        if not outcome.ok:
            log.warning("expiry %s refused: %s", command.name, outcome.error)

    async def _write_forever(self) -> None:
        while True:
            first = await self._queue.get()
            if isinstance(first, _Read):
                self._run_read(first)
                continue
            if isinstance(first, _Absorb):
                await self._absorb(first)
                continue
            batch = [first]
            read_after: _Read | _Absorb | None = None
            while len(batch) < MAX_BATCH_COMMANDS and not self._queue.empty():
                item = self._queue.get_nowait()
                if not isinstance(item, _Pending):
                    read_after = item
                    break
                batch.append(item)
            try:
                await self._write(batch)
            except Exception:
                log.exception("writer failed for assembly %s", self.id)
                self._answer_all(batch, Outcome(False, error=UNAVAILABLE, detail="try again"))
                # The batch may have been half applied in memory: go back to what was committed.
                try:
                    await self._roll_back()
                except Exception:
                    log.exception("could not roll back assembly %s", self.id)
            if isinstance(read_after, _Read):
                self._run_read(read_after)
            elif isinstance(read_after, _Absorb):
                await self._absorb(read_after)

    def _run_read(self, read: _Read) -> None:
        try:
            read.future.set_result(read.look(self.state))
        except Exception as error:
            read.future.set_exception(error)

    async def _write(self, batch: list[_Pending]) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            if self._broadcast is not None:
                # Other processes write too, and the bus may still be carrying their news: a
                # refusal decided on a stale state would never meet a conflict, so catch up first.
                await self._catch_up()
            outcomes, events, deliveries = self._decide_batch(batch)
            if not events:
                self._answer(batch, outcomes)
                return
            try:
                # Decided on the state at `position`: refused if anyone has written since.
                records = await self.store.append(self.id, events, expected_position=self.position)
            except SeqConflict:
                # Another process appended first: take back our batch, catch up, decide again.
                await self._roll_back()
                await self._catch_up()
                continue
            except Exception:
                log.exception("append failed for assembly %s", self.id)
                await self._roll_back()
                self._answer_all(batch, Outcome(False, error=UNAVAILABLE, detail="try again"))
                return
            self.position = records[-1].position
            self._answer(batch, outcomes)
            delivered = [
                Delivery(record, views) for record, views in zip(records, deliveries, strict=True)
            ]
            self._remember(delivered)
            self._publish(self, delivered)
            if self._broadcast is not None:
                self._broadcast(self, records)
            self.scheduler.add(deadlines_from(self.state, events))
            await self._maybe_snapshot(len(events))
            return
        await self._roll_back()
        self._answer_all(batch, Outcome(False, error=UNAVAILABLE, detail="too much contention"))

    async def _roll_back(self) -> None:
        """Forget a batch applied in memory but never committed: rebuild up to `position`."""
        # The pseudonyms may include someone the batch added: make them again from the log.
        self._names = PseudonymCache()
        snapshot = await self.store.latest_snapshot(self.id)
        state, position = Assembly(), 0
        if snapshot is not None and snapshot[0] <= self.position:
            position, state = snapshot
        for record in await self.store.events(self.id, after_position=position):
            if record.position > self.position:
                break
            evolve(state, record.event)
        self.state = state

    async def _catch_up(self) -> None:
        """Apply, and show to this process's people, what others committed since `position`."""
        self._apply_remote(await self.store.events(self.id, after_position=self.position))

    async def _absorb(self, news: _Absorb) -> None:
        if news.catch_up:
            await self._catch_up()
        fresh = [record for record in news.records if record.position > self.position]
        if not fresh:
            return
        first = fresh[0].event
        if first.seq != self.state.seqs.get(first.room, 0) + 1:
            # A gap: something was committed that we have not seen. Read it from the store.
            await self._catch_up()
            return
        self._apply_remote(fresh)

    def _apply_remote(self, records: list[StoredEvent]) -> None:
        delivered = []
        for record in records:
            event = record.event
            if event.seq != self.state.seqs.get(event.room, 0) + 1:
                continue
            evolve(self.state, event)
            delivered.append(Delivery(record, payloads(self.state, event, self._names(self.state))))
            self.position = record.position
        if delivered:
            self._remember(delivered)
            self._publish(self, delivered)
            self.scheduler.add(deadlines_from(self.state, [d.record.event for d in delivered]))

    def _decide_batch(
        self, batch: list[_Pending]
    ) -> tuple[list[Outcome], list[Event], list[dict[Audience, dict[str, Any]]]]:
        outcomes: list[Outcome] = []
        events: list[Event] = []
        deliveries: list[dict[Audience, dict[str, Any]]] = []
        now = self.clock()
        for pending in batch:
            try:
                decided = decide(self.state, pending.command, pending.actor, now)
            except Refusal as refusal:
                outcomes.append(Outcome(False, error=refusal.code.value, detail=refusal.detail))
                continue
            except Exception:
                # A bug met by one command must not sink the others in its batch; `decide`
                # changes nothing, so the state is as it was.
                log.exception("deciding %s failed", pending.command.name)
                detail = "the server could not handle this command"
                outcomes.append(Outcome(False, error=UNAVAILABLE, detail=detail))
                continue
            for event in decided:
                evolve(self.state, event)
                # Payloads are computed right after each event, so they show its moment exactly.
                deliveries.append(payloads(self.state, event, self._names(self.state)))
            events.extend(decided)
            outcomes.append(Outcome(True, seq=self._ack_seq(pending.command, decided)))
        return outcomes, events, deliveries

    def _ack_seq(self, command: Command, events: list[Event]) -> int:
        """The seq of the command's last event in its own stream (its current seq if none)."""
        stream = command.room if isinstance(command, RoomCommand) else ASSEMBLY_STREAM
        own = [event.seq for event in events if event.room == stream]
        return own[-1] if own else self.state.seqs.get(stream, 0)

    def _remember(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            stream = delivery.record.event.room
            recent = self._recent.get(stream)
            if recent is None:
                recent = self._recent[stream] = deque(maxlen=self._recent_per_stream)
            recent.append(delivery)

    async def _maybe_snapshot(self, written: int) -> None:
        self._since_snapshot += written
        if self._since_snapshot < self._snapshot_every:
            return
        self._since_snapshot = 0
        try:
            await self.store.save_snapshot(self.id, self.position, self.state)
        except Exception:
            # A missed snapshot only makes the next restart replay a longer tail.
            log.exception("snapshot failed for assembly %s", self.id)

    @staticmethod
    def _answer(batch: list[_Pending], outcomes: list[Outcome]) -> None:
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)

    @staticmethod
    def _answer_all(batch: list[_Pending], outcome: Outcome) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_result(outcome)
