"""Deadlines: wakes at the earliest one and submits the expiry command that ends it.

Nothing ticks. The scheduler keeps a heap of (deadline, expiry command) built from state and
from the events that set deadlines; an entry made stale by an extension, a pause or an early
end is harmless, because `decide` ignores an expiry that no longer applies.
"""

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from facilitation import ASSEMBLY_STREAM, Assembly, Command, Event
from facilitation.commands import ExpireAgendaItem, ExpireRoundTimer, ExpireTurn, RecallRound
from facilitation.events import (
    AgendaItemExtended,
    AgendaItemStarted,
    FloorGranted,
    RecallScheduled,
    RoomResumed,
    RoundStarted,
    RoundTimerSet,
    TurnExtended,
)

log = logging.getLogger("palabre.scheduler")
# After a failed expiry (the store unavailable, say), try again this much later.
RETRY_SECONDS = 1.0

Submit = Callable[[Command], Awaitable[object]]
# Milliseconds since the epoch; the core takes the time as an argument, never reads it.
Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def deadlines_in(state: Assembly) -> list[tuple[int, Command]]:
    """Every running deadline of an assembly: after a restart, the scheduler starts from these."""
    found: list[tuple[int, Command]] = []
    for room in state.rooms.values():
        if room.closed or room.paused_at_ms is not None:
            continue
        if room.floor is not None:
            found.append((room.floor.deadline_ms, ExpireTurn(room=room.id, turn_id=room.floor.id)))
        item = room.current_item()
        if item is not None and item.deadline_ms is not None:
            found.append((item.deadline_ms, ExpireAgendaItem(room=room.id, item_id=item.id)))
    current = state.current_round()
    if current is not None and current.started and current.deadline_ms is not None:
        found.append((current.deadline_ms, ExpireRoundTimer(round_id=current.id)))
    if current is not None and current.started and current.recall_at_ms is not None:
        found.append((current.recall_at_ms, RecallRound(round_id=current.id)))
    return found


def deadlines_from(state: Assembly, events: Iterable[Event]) -> list[tuple[int, Command]]:
    """The deadlines that committed events set or moved (state already includes them)."""
    found: list[tuple[int, Command]] = []
    for event in events:
        if isinstance(event, FloorGranted | TurnExtended):
            found.append((event.deadline_ms, ExpireTurn(room=event.room, turn_id=event.turn_id)))
        elif isinstance(event, AgendaItemStarted | AgendaItemExtended):
            command = ExpireAgendaItem(room=event.room, item_id=event.item_id)
            found.append((event.deadline_ms, command))
        elif isinstance(event, RoundStarted | RoundTimerSet) and event.deadline_ms is not None:
            found.append((event.deadline_ms, ExpireRoundTimer(round_id=event.round_id)))
        elif isinstance(event, RecallScheduled):
            found.append((event.recall_at_ms, RecallRound(round_id=event.round_id)))
        elif isinstance(event, RoomResumed) and event.room != ASSEMBLY_STREAM:
            room = state.rooms[event.room]
            if room.floor is not None:
                found.append(
                    (room.floor.deadline_ms, ExpireTurn(room=room.id, turn_id=room.floor.id))
                )
            item = room.current_item()
            if item is not None and item.deadline_ms is not None:
                found.append((item.deadline_ms, ExpireAgendaItem(room=room.id, item_id=item.id)))
    return found


class Scheduler:
    """One per live assembly: a heap of deadlines and a task that sleeps until the first."""

    def __init__(self, submit: Submit, clock: Clock) -> None:
        self._submit = submit
        self._clock = clock
        self._heap: list[tuple[int, int, Command]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(self, deadlines: Iterable[tuple[int, Command]]) -> None:
        for deadline_ms, command in deadlines:
            heapq.heappush(self._heap, (deadline_ms, next(self._order), command))
        self._changed.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="palabre-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def pending(self) -> int:
        return len(self._heap)

    def wake(self) -> None:
        """Look at the clock again now: for a clock that jumps (a test's, or one set forward)."""
        self._changed.set()

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            if not self._heap:
                await self._changed.wait()
                continue
            wait_ms = self._heap[0][0] - self._clock()
            if wait_ms > 0:
                # Wake at the deadline, or earlier when an earlier deadline is added.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=wait_ms / 1000)
                continue
            _, _, command = heapq.heappop(self._heap)
            try:
                await self._submit(command)
            except Exception:
                # An expiry that could not be written is retried shortly: the deadline stays.
                log.exception("expiry %s failed; retrying", command.name)
                await asyncio.sleep(RETRY_SECONDS)
                self.add([(self._clock(), command)])
