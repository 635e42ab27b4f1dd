"""The garbage collector, kept from stalling the event loop, and its pauses measured.

A live server holds a large heap that does not change much: each assembly's state, its recent
events per stream, the sockets' bookkeeping. CPython's full (generation 2) collection walks
all of it whenever enough new objects have survived, and frees next to nothing: issue 9's
profile saw pauses of 0.5 to 0.9 s every few seconds, during which no event went out.
`gc.freeze()` moves every object alive into a permanent generation that collections skip;
reference counting still frees those objects when they go, only cycles among them are kept.

So the heap is collected and frozen once the assemblies are loaded (their logs replayed), and
again every few seconds: each round's full collection walks only what came since the last
one, and frees the cyclic garbage among it before the rest is frozen. A full collection then
costs what the heap grew by in a round, never the whole heap.

`PALABRE_GC_FREEZE=false` leaves the collector as Python has it; `PALABRE_GC_THRESHOLDS`
sets `gc.set_threshold`. docs/benchmarks.md has the measurements behind the defaults.
"""

import asyncio
import contextlib
import gc
import logging
import time
from typing import Any

from prometheus_client import Histogram

log = logging.getLogger("palabre.heap")


class PauseWatch:
    """Each collection's pause, by generation, into a histogram (`gc.callbacks`)."""

    def __init__(self, pauses: Histogram) -> None:
        self._pauses = pauses
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pauses.labels(generation=str(info["generation"])).observe(
                time.perf_counter() - self._started
            )

    def start(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self)


def freeze() -> int:
    """Collect what is not frozen yet, then freeze every object left; how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class Heap:
    """Freezes the heap after start-up and every `every_seconds` after (0: once)."""

    def __init__(
        self,
        *,
        enabled: bool,
        every_seconds: float,
        thresholds: tuple[int, int, int] | None,
        pauses: Histogram,
    ) -> None:
        self.enabled = enabled
        self.every_seconds = every_seconds
        self.thresholds = thresholds
        self.watch = PauseWatch(pauses)
        self._task: asyncio.Task[None] | None = None
        self._previous: tuple[int, int, int] | None = None

    def start(self) -> None:
        """Call once the assemblies are loaded: what is alive then lives as long as the server."""
        self.watch.start()
        if self.thresholds is not None:
            self._previous = gc.get_threshold()
            gc.set_threshold(*self.thresholds)
        if not self.enabled:
            return
        log.info("heap frozen", extra={"objects": freeze()})
        if self.every_seconds > 0:
            self._task = asyncio.create_task(self._refreeze(), name="palabre-heap")

    async def _refreeze(self) -> None:
        while True:
            await asyncio.sleep(self.every_seconds)
            freeze()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.watch.stop()
        if self._previous is not None:
            gc.set_threshold(*self._previous)
            self._previous = None
        if self.enabled:
            # Back to collectable: a test process starts many servers one after another.
            gc.unfreeze()
