"""The writer survives a fault: one bad command refuses itself only, and memory never runs ahead
of the log."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import server.store
from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Assembly, Role, registry
from facilitation.commands import AddParticipant, CreateAssembly, LowerHand, RaiseHand
from facilitation.events import HandRaised
from server.ballots import ballot_key
from server.bootstrap import build, running
from server.runtime import AssemblyRuntime, Unavailable
from server.store import Store
from tests.server.harness import WAIT_SECONDS, settings_for


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[AssemblyRuntime]:
    store = Store(sqlite_url)
    await store.start()
    await store.create_assembly("faults")
    live = AssemblyRuntime(
        "faults",
        store,
        clock=lambda: 1_000,
        on_commit=lambda _: None,
        ballot_key=ballot_key("test-secret-key", "faults"),
    )
    await live.start()
    try:
        assert (await live.submit(CreateAssembly(title="Faults"), SYSTEM_ACTOR)).ok
        for juror in ("j1", "j2"):
            command = AddParticipant(participant=juror, display_name=juror, role=Role.JUROR)
            assert (await live.submit(command, SYSTEM_ACTOR)).ok
        yield live
    finally:
        await live.stop()
        await store.close()


async def test_a_command_that_meets_a_bug_refuses_only_itself(
    runtime: AssemblyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    rule = dataclasses.replace(registry.RULES[LowerHand], handler=broken)
    monkeypatch.setitem(registry.RULES, LowerHand, rule)

    bad, good = await asyncio.gather(
        runtime.submit(LowerHand(room=PLENARY_ROOM), "j1"),
        runtime.submit(RaiseHand(room=PLENARY_ROOM), "j2"),
    )

    assert (bad.ok, bad.error) == (False, "unavailable")
    assert good.ok
    queue = await runtime.read(
        lambda state: [e.participant for e in state.rooms[PLENARY_ROOM].queue]
    )
    assert queue == ["j2"]


async def test_a_fault_while_applying_leaves_memory_as_the_log_has_it(
    runtime: AssemblyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = registry.EFFECTS[HandRaised]

    def applies_then_fails(state: Assembly, event: HandRaised) -> None:
        original(state, event)
        raise RuntimeError("a bug after changing the state")

    monkeypatch.setitem(registry.EFFECTS, HandRaised, applies_then_fails)
    outcome = await runtime.submit(RaiseHand(room=PLENARY_ROOM), "j1")
    assert (outcome.ok, outcome.error) == (False, "unavailable")

    monkeypatch.setitem(registry.EFFECTS, HandRaised, original)
    queue = await runtime.read(lambda state: list(state.rooms[PLENARY_ROOM].queue))
    assert queue == []
    assert (await runtime.submit(RaiseHand(room=PLENARY_ROOM), "j1")).ok


async def test_a_store_fault_during_a_catch_up_leaves_the_writer_serving(
    runtime: AssemblyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = runtime.store.events

    async def fails_once(*args: object, **kwargs: object) -> object:
        monkeypatch.setattr(runtime.store, "events", reads)
        raise OSError("the database went away for a moment")

    monkeypatch.setattr(runtime.store, "events", fails_once)
    runtime.catch_up_later()

    outcome = await asyncio.wait_for(
        runtime.submit(RaiseHand(room=PLENARY_ROOM), "j1"), timeout=WAIT_SECONDS
    )
    assert outcome.ok, outcome
    queue = await runtime.read(lambda state: list(state.rooms[PLENARY_ROOM].queue))
    assert [entry.participant for entry in queue] == ["j1"]


async def test_a_rollback_that_cannot_read_the_log_never_serves_uncommitted_state(
    runtime: AssemblyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: object, **kwargs: object) -> object:
        raise OSError("the database is down")

    with monkeypatch.context() as outage:
        for method in ("append", "events", "latest_snapshot"):
            outage.setattr(runtime.store, method, down)
        outcome = await runtime.submit(RaiseHand(room=PLENARY_ROOM), "j1")
        assert (outcome.ok, outcome.error) == (False, "unavailable")

    # The database is back: the raised hand was never committed, so nobody may see it.
    queue = await runtime.read(lambda state: list(state.rooms[PLENARY_ROOM].queue))
    assert queue == []
    assert [record.event.name for record in await runtime.store.events("faults")][-1] == (
        "participant_added"
    )
    assert (await runtime.submit(RaiseHand(room=PLENARY_ROOM), "j2")).ok


async def test_every_wait_on_a_stuck_store_ends_in_unavailable(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.start()
    await store.create_assembly("stuck")
    live = AssemblyRuntime(
        "stuck",
        store,
        clock=lambda: 1_000,
        on_commit=lambda _: None,
        ballot_key=ballot_key("test-secret-key", "stuck"),
        wait_seconds=0.3,
    )
    await live.start()
    appends = store.append
    released = asyncio.Event()

    async def hangs(*args: object, **kwargs: object) -> object:
        await released.wait()
        return await appends(*args, **kwargs)  # type: ignore[arg-type]

    try:
        store.append = hangs  # type: ignore[method-assign,assignment]
        first = asyncio.ensure_future(live.submit(CreateAssembly(title="Stuck"), SYSTEM_ACTOR))
        outcome = await asyncio.wait_for(
            live.submit(CreateAssembly(title="Stuck too"), SYSTEM_ACTOR), WAIT_SECONDS
        )
        assert (outcome.ok, outcome.error) == (False, "unavailable")
        with pytest.raises(Unavailable):
            await asyncio.wait_for(live.read(lambda state: state.title), WAIT_SECONDS)
        assert (await asyncio.wait_for(first, WAIT_SECONDS)).error == "unavailable"

        released.set()
        # The first command was already being written when its sender gave up: it committed,
        # and the assembly goes on from there.
        title = await asyncio.wait_for(live.read(lambda state: state.title), WAIT_SECONDS)
        assert title == "Stuck"
    finally:
        released.set()
        await live.stop()
        await store.close()


async def test_an_assembly_whose_creation_failed_is_not_left_half_made(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(build(settings_for(sqlite_url, tmp_path), live=False)) as services:
        organiser, store = services.organiser, services.store
        insert_batch = server.store._insert_batch

        async def disk_full(*args: Any, **kwargs: Any) -> Any:
            raise OSError("no space left on device")

        # The events fail after the assembly's row is written, in the same transaction.
        monkeypatch.setattr(server.store, "_insert_batch", disk_full)
        failed = await organiser.create_assembly("jury", "Citizens' jury")
        assert (failed.ok, failed.error) == (False, "unavailable")
        assert "jury" not in await store.assembly_ids()

        monkeypatch.setattr(server.store, "_insert_batch", insert_batch)
        assert (await organiser.create_assembly("jury", "Citizens' jury")).ok
        assert await services.hub.look("jury", lambda state: state.title) == "Citizens' jury"
