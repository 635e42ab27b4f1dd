"""One assembly live in this process: its state, caught up from the store, and its one writer.

Commands queue up; a single writer task takes whatever has queued, decides and applies each
command in turn, and appends all their events in one transaction (group commit: one fsync for
a burst of commands). Only after the commit are the senders acknowledged and the commit handed
to the subscribers (fan-out to sockets, the bus to other processes).

The log is the truth. The state in memory is private to the writer: readers get it through
`read`, which runs between two batches, so nobody ever sees a batch that is not committed yet.
Other processes' commits are read from the store in position order, whatever the bus says and
in whatever order it says it. Any failure (the store unreachable mid-batch, a rollback that
cannot read the log) leaves the writer alive: it rebuilds the state from the store before
serving anything again, and every wait on it is bounded, answering `unavailable`.
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
# How long a sender or a reader waits for the writer before being told `unavailable`: far above
# a healthy commit (milliseconds), short enough that a person sees an answer, not a hang.
DEFAULT_WAIT_SECONDS = 10.0
# After a failed recovery (the store still away), the writer tries again this much later.
RECOVERY_RETRY_SECONDS = 0.5
# With other processes writing, a lost bus message must not leave this one behind for long: it
# reads the store this often anyway (one cheap indexed query when nothing is new).
SHARED_POLL_SECONDS = 2.0


class Unavailable(Exception):
    """The assembly could not answer in time (its store failing, or the writer recovering)."""


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


@dataclass(frozen=True)
class Commit:
    """Events just committed to the log, in position order, as their subscribers receive them."""

    runtime: "AssemblyRuntime"
    deliveries: list[Delivery]
    # Written by this process (False: another process wrote them; this one read them back).
    local: bool

    @property
    def position(self) -> int:
        return self.deliveries[-1].record.position


OnCommit = Callable[[Commit], None]


def _unavailable(detail: str) -> Outcome:
    return Outcome(False, error=UNAVAILABLE, detail=detail)


@dataclass
class _Pending:
    command: Command
    actor: str
    future: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class _Read:
    """A look at the state between two commits, never at a batch still being written."""

    look: Callable[[Assembly], Any]
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _CatchUp:
    """Read the store for what other processes committed since this one's position."""


_Item = _Pending | _Read | _CatchUp


async def state_from_log(
    store: Store, assembly_id: str, *, upto: int | None = None
) -> tuple[Assembly, int]:
    """An assembly's state as of position `upto` (the log's end when None), and that position:
    the latest usable snapshot, then the log after it."""
    snapshot = await store.latest_snapshot(assembly_id)
    state, position = Assembly(), 0
    if snapshot is not None and (upto is None or snapshot[0] <= upto):
        position, state = snapshot
    for record in await store.events(assembly_id, after_position=position):
        if upto is not None and record.position > upto:
            break
        evolve(state, record.event)
        position = record.position
    return state, position


class AssemblyRuntime:
    def __init__(
        self,
        assembly_id: str,
        store: Store,
        *,
        clock: Clock,
        on_commit: OnCommit,
        ballot_key: bytes,
        snapshot_every_events: int = 500,
        recent_per_stream: int = 200,
        shared: bool = False,
        schedule: bool = True,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.id = assembly_id
        self.store = store
        self.clock = clock
        # The writer's own: only `read` shows it to anyone else, between commits.
        self._state = Assembly()
        # The position of the last event applied to `_state` that the log is known to hold.
        self._position = 0
        self._on_commit = on_commit
        # Seals this assembly's secret ballots (`server.ballots`); kept out of the store.
        self._ballot_key = ballot_key
        # Other processes write the same assembly (the bus is on).
        self._shared = shared
        self._schedule = schedule
        self._wait_seconds = wait_seconds
        self._snapshot_every = snapshot_every_events
        self._since_snapshot = 0
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        # The highest position other processes announced; a catch-up is queued while below it.
        self._announced = 0
        self._catch_up_queued = False
        # False when memory may hold what the log does not: nothing is served until rebuilt.
        self._healthy = True
        # The last deliveries of each stream, so a client that reconnects gets exactly what it
        # missed, redacted as it was sent. Older gaps, or any gap after a restart: a snapshot.
        self._recent_per_stream = recent_per_stream
        self._recent: dict[str, deque[Delivery]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.scheduler = Scheduler(self._expire, clock)
        self._names = PseudonymCache()
        # Bumped whenever memory is rebuilt from the log: what was derived from the state
        # before (`server.snapshots`' encoded views) must not be taken for the same seqs after.
        self.generation = 0

    @property
    def position(self) -> int:
        return self._position

    async def start(self) -> None:
        await self._load()
        if self._schedule:
            self.scheduler.add(deadlines_in(self._state))
            self.scheduler.start()
        self._tasks = [asyncio.create_task(self._write_forever(), name=f"palabre-writer-{self.id}")]
        if self._shared:
            self._tasks.append(
                asyncio.create_task(self._poll_forever(), name=f"palabre-poll-{self.id}")
            )

    async def stop(self) -> None:
        await self.scheduler.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # --- What the rest of the server calls --------------------------------------------------

    async def submit(self, command: Command, actor: str) -> Outcome:
        """Decide, commit and publish `command`; its outcome once committed (or refused)."""
        pending = _Pending(command, actor)
        self._queue.put_nowait(pending)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self._wait_seconds)
        except TimeoutError:
            # Not yet taken: cancelled, the writer skips it. Already being written: its outcome
            # is unknown, so the sender must look (sync) before trying again.
            pending.future.cancel()
            return _unavailable("the assembly did not answer in time: sync, then try again")

    async def read(self, look: Callable[[Assembly], T]) -> T:
        """Run `look` on the committed state, between two batches of the writer.

        Raises `Unavailable` when the writer cannot answer in time. `look` must not keep the
        state it is given: it goes on changing after the look.
        """
        pending = _Read(look)
        self._queue.put_nowait(pending)
        try:
            result: T = await asyncio.wait_for(asyncio.shield(pending.future), self._wait_seconds)
        except TimeoutError:
            pending.future.cancel()
            raise Unavailable(f"assembly {self.id} did not answer in time") from None
        return result

    def announce(self, position: int) -> None:
        """Another process committed up to `position`: read what is new from the store.

        Signals may come late, twice, out of order or never: the store decides what is new.
        """
        if position <= self._announced:
            return
        self._announced = position
        self.catch_up_later()

    def catch_up_later(self) -> None:
        """Read the store for anything committed elsewhere (after the bus was away, say)."""
        if not self._catch_up_queued:
            self._catch_up_queued = True
            self._queue.put_nowait(_CatchUp())

    def missed(self, stream: str, after_seq: int) -> list[Delivery] | None:
        """The deliveries of `stream` after `after_seq`, or None when they are not all kept.

        Call it from inside `read`, so the answer matches the committed state.
        """
        head = self._state.seqs.get(stream, 0)
        if after_seq > head:
            # The client knows of events this log never had (a reset database): start afresh.
            return None
        if after_seq == head:
            return []
        recent = self._recent.get(stream)
        if not recent or recent[0].record.event.seq > after_seq + 1:
            return None
        return [d for d in recent if d.record.event.seq > after_seq]

    # --- The writer ---------------------------------------------------------------------------

    async def _expire(self, command: Command) -> None:
        outcome = await self.submit(command, SYSTEM_ACTOR)
        if outcome.error == UNAVAILABLE:
            # Raised, so the scheduler keeps the deadline and tries again shortly.
            raise Unavailable(f"expiry {command.name}: {outcome.detail}")
        if not outcome.ok:
            log.warning("expiry %s refused: %s", command.name, outcome.error)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(SHARED_POLL_SECONDS)
            self.catch_up_later()

    async def _write_forever(self) -> None:
        """Take what has queued and handle it; survive anything but cancellation."""
        while True:
            items = await self._next_items()
            try:
                if not self._healthy:
                    await self._recover()
                await self._handle(items)
            except Exception:
                log.exception("writer failed for assembly %s; rebuilding from the log", self.id)
                self._healthy = False
                self._fail(items)
                try:
                    await self._recover()
                except Exception:
                    log.exception("could not rebuild assembly %s; retrying", self.id)
                    await asyncio.sleep(RECOVERY_RETRY_SECONDS)

    async def _next_items(self) -> list[_Item]:
        """One read or catch-up alone, or a batch of commands (up to the next read)."""
        first = await self._queue.get()
        if not isinstance(first, _Pending):
            return [first]
        items: list[_Item] = [first]
        while len(items) < MAX_BATCH_COMMANDS and not self._queue.empty():
            item = self._queue.get_nowait()
            items.append(item)
            if not isinstance(item, _Pending):
                break
        return items

    async def _handle(self, items: list[_Item]) -> None:
        batch = [item for item in items if isinstance(item, _Pending) and not item.future.done()]
        if batch:
            await self._write(batch)
        for item in items:
            if isinstance(item, _Read):
                self._run_read(item)
            elif isinstance(item, _CatchUp):
                self._catch_up_queued = False
                await self._catch_up()

    def _fail(self, items: list[_Item]) -> None:
        """Answer everything of a failed round `unavailable`: nothing in it was shown."""
        for item in items:
            if isinstance(item, _CatchUp):
                # Recovery reads the store anyway.
                self._catch_up_queued = False
            elif not item.future.done():
                if isinstance(item, _Pending):
                    item.future.set_result(_unavailable("try again"))
                else:
                    item.future.set_exception(Unavailable(f"assembly {self.id} is recovering"))

    def _run_read(self, read: _Read) -> None:
        if read.future.done():
            return
        try:
            read.future.set_result(read.look(self._state))
        except Exception as error:
            read.future.set_exception(error)

    async def _write(self, batch: list[_Pending]) -> None:
        for _ in range(MAX_CONFLICT_RETRIES):
            if self._shared:
                # Other processes write too, and the bus may still be carrying their news: a
                # refusal decided on a stale state would never meet a conflict, so catch up first.
                await self._catch_up()
            outcomes, events, views = self._decide_batch(batch)
            if not events:
                self._answer(batch, outcomes)
                return
            try:
                # Decided on the state at `position`: refused if anyone has written since.
                records = await self.store.append(self.id, events, expected_position=self._position)
            except SeqConflict:
                # Another process appended first: take back our batch, catch up, decide again.
                await self._roll_back()
                await self._catch_up()
                continue
            except Exception:
                # The commit may or may not have happened: go back to what the log surely holds;
                # recovery then reads whatever did get in, and shows it as any other news.
                self._healthy = False
                raise
            self._position = records[-1].position
            self._answer(batch, outcomes)
            delivered = [
                Delivery(record, audiences)
                for record, audiences in zip(records, views, strict=True)
            ]
            self._committed(delivered, local=True)
            await self._maybe_snapshot(len(events))
            return
        await self._roll_back()
        self._answer(batch, [_unavailable("too much contention")] * len(batch))

    def _decide_batch(
        self, batch: list[_Pending]
    ) -> tuple[list[Outcome], list[Event], list[dict[Audience, dict[str, Any]]]]:
        outcomes: list[Outcome] = []
        events: list[Event] = []
        views: list[dict[Audience, dict[str, Any]]] = []
        now = self.clock()
        for pending in batch:
            try:
                decided = decide(
                    self._state, pending.command, pending.actor, now, ballot_key=self._ballot_key
                )
            except Refusal as refusal:
                outcomes.append(Outcome(False, error=refusal.code.value, detail=refusal.detail))
                continue
            except Exception:
                # A bug met by one command must not sink the others in its batch; `decide`
                # changes nothing, so the state is as it was.
                log.exception("deciding %s failed", pending.command.name)
                outcomes.append(_unavailable("the server could not handle this command"))
                continue
            # From here memory runs ahead of the log until the append commits or is undone.
            self._healthy = False
            for event in decided:
                evolve(self._state, event)
                # Payloads are computed right after each event, so they show its moment exactly.
                views.append(payloads(self._state, event, self._names(self._state)))
            events.extend(decided)
            outcomes.append(Outcome(True, seq=self._ack_seq(pending.command, decided)))
        if not events:
            self._healthy = True
        return outcomes, events, views

    def _ack_seq(self, command: Command, events: list[Event]) -> int:
        """The seq of the command's last event in its own stream (its current seq if none)."""
        stream = command.room if isinstance(command, RoomCommand) else ASSEMBLY_STREAM
        own = [event.seq for event in events if event.room == stream]
        return own[-1] if own else self._state.seqs.get(stream, 0)

    def _committed(self, delivered: list[Delivery], *, local: bool) -> None:
        """Memory and the log agree again: remember, schedule, and tell the subscribers."""
        self._healthy = True
        for delivery in delivered:
            stream = delivery.record.event.room
            recent = self._recent.get(stream)
            if recent is None:
                recent = self._recent[stream] = deque(maxlen=self._recent_per_stream)
            recent.append(delivery)
        if self._schedule:
            self.scheduler.add(deadlines_from(self._state, [d.record.event for d in delivered]))
        self._on_commit(Commit(self, delivered, local))

    # --- Back to the log ----------------------------------------------------------------------

    async def _load(self) -> None:
        """Build the state afresh from the latest snapshot and the log after it.

        What was remembered for resuming is dropped: those clients get a snapshot instead.
        """
        state, position = await self._rebuild(upto=None)
        self._state, self._position = state, position
        self._recent = {}
        self._names = PseudonymCache()
        self.generation += 1
        self._healthy = True

    async def _rebuild(self, *, upto: int | None) -> tuple[Assembly, int]:
        return await state_from_log(self.store, self.id, upto=upto)

    async def _roll_back(self) -> None:
        """Forget a batch applied in memory but never committed: rebuild up to `position`."""
        self._healthy = False
        # The pseudonyms may include someone the batch added: make them again from the log.
        self._names = PseudonymCache()
        self._state, _ = await self._rebuild(upto=self._position)
        self.generation += 1
        self._healthy = True

    async def _recover(self) -> None:
        """After a failure: memory back to what the log holds, then whatever came after it
        (a commit whose answer was lost, or other processes' news), shown like any news."""
        await self._roll_back()
        try:
            await self._catch_up()
        except _Diverged:
            log.warning("assembly %s disagreed with its log; reloading it whole", self.id)
            await self._load()

    async def _catch_up(self) -> None:
        """Apply, and hand to the subscribers, what others committed since `position`."""
        records = await self.store.events(self.id, after_position=self._position)
        if not records:
            return
        delivered = []
        for record in records:
            event = record.event
            if event.seq != self._state.seqs.get(event.room, 0) + 1:
                # Positions are handed out in commit order, so this cannot be a race.
                self._healthy = False
                raise _Diverged(f"{event.room}#{event.seq} at position {record.position}")
            evolve(self._state, event)
            self._position = record.position
            delivered.append(
                Delivery(record, payloads(self._state, event, self._names(self._state)))
            )
        self._committed(delivered, local=False)

    async def _maybe_snapshot(self, written: int) -> None:
        self._since_snapshot += written
        if self._since_snapshot < self._snapshot_every:
            return
        self._since_snapshot = 0
        try:
            await self.store.save_snapshot(self.id, self._position, self._state)
        except Exception:
            # A missed snapshot only makes the next restart replay a longer tail.
            log.exception("snapshot failed for assembly %s", self.id)

    @staticmethod
    def _answer(batch: list[_Pending], outcomes: list[Outcome]) -> None:
        for pending, outcome in zip(batch, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)


class _Diverged(Exception):
    """Memory does not follow on from the log: only a full reload can mend it."""
