"""The garbage collector kept from stalling the loop (server/heap.py): the heap frozen once the
assemblies are loaded and again every so often, thresholds as set, every pause measured."""

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from server.settings import Settings
from tests.server.harness import WAIT_SECONDS, LiveServer, serving, settings_for


@pytest.fixture(autouse=True)
def collector_as_python_has_it() -> Iterator[None]:
    """Each test starts and ends with nothing frozen and Python's thresholds."""
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def pauses(server: LiveServer, generation: int) -> float:
    registry = server.palabre.metrics.registry
    value = registry.get_sample_value(
        "palabre_gc_pause_seconds_count", {"generation": str(generation)}
    )
    return value or 0.0


async def test_the_heap_is_frozen_once_the_assemblies_are_loaded_and_thawed_at_stop(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        # The live assemblies' state is among what is frozen.
        assert gc.get_freeze_count() > 10_000
        assert server.palabre.heap.enabled
    assert gc.get_freeze_count() == 0


async def test_with_gc_freeze_off_nothing_is_frozen(sqlite_url: str, tmp_path: Path) -> None:
    async with serving(settings_for(sqlite_url, tmp_path, gc_freeze=False)):
        assert gc.get_freeze_count() == 0


async def test_objects_made_later_are_frozen_at_the_next_round(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path, gc_freeze_every_seconds=0.2)
    async with serving(settings):
        frozen = gc.get_freeze_count()
        kept = [[n] for n in range(5_000)]
        async with asyncio.timeout(WAIT_SECONDS):
            while gc.get_freeze_count() < frozen + len(kept):
                await asyncio.sleep(0.05)
        # Out of every generation a collection walks.
        assert not any(any(o is kept[0] for o in gc.get_objects(g)) for g in range(3))


class Node:
    def __init__(self) -> None:
        self.itself = self


async def test_cyclic_garbage_that_grew_old_between_rounds_is_freed_not_frozen(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path, gc_freeze_every_seconds=0.2)
    async with serving(settings):
        gc.disable()  # Only the rounds collect now.
        try:
            cycle = Node()
            gone = weakref.ref(cycle)
            gc.collect(1)  # It survives the young collections: in generation 2 now.
            del cycle
            async with asyncio.timeout(WAIT_SECONDS):
                while gone() is not None:
                    await asyncio.sleep(0.05)
        finally:
            gc.enable()


async def test_full_collections_are_measured_by_generation(sqlite_url: str, tmp_path: Path) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        before = pauses(server, 2)
        gc.collect()
        assert pauses(server, 2) == before + 1
        text = server.palabre.metrics.render().decode()
        assert 'palabre_gc_pause_seconds_count{generation="2"}' in text
    # Stopped: no more pauses counted into a server that is gone.
    after = pauses(server, 2)
    gc.collect()
    assert pauses(server, 2) == after


async def test_the_thresholds_setting_applies_while_serving_and_is_undone_after(
    sqlite_url: str, tmp_path: Path
) -> None:
    python_s = gc.get_threshold()
    settings = settings_for(sqlite_url, tmp_path, gc_thresholds=(50_000, 20, 40))
    async with serving(settings):
        assert gc.get_threshold() == (50_000, 20, 40)
    assert gc.get_threshold() == python_s


def test_thresholds_are_three_positive_numbers_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PALABRE_GC_THRESHOLDS", "50000, 20,40")
    assert Settings().gc_thresholds == (50_000, 20, 40)
    monkeypatch.setenv("PALABRE_GC_THRESHOLDS", "")
    assert Settings().gc_thresholds is None
    for bad in ("700,10", "700,10,ten", "700,0,10", "-1,10,10"):
        monkeypatch.setenv("PALABRE_GC_THRESHOLDS", bad)
        with pytest.raises(ValidationError, match="gc_thresholds"):
            Settings()
    monkeypatch.setenv("PALABRE_GC_THRESHOLDS", "700,10,10")
    monkeypatch.setenv("PALABRE_GC_FREEZE_EVERY_SECONDS", "-5")
    with pytest.raises(ValidationError, match="gc_freeze_every_seconds"):
        Settings()
