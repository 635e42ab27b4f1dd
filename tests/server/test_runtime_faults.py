"""The writer survives a fault: one bad command refuses itself only, and memory never runs ahead
of the log."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Assembly, Role, registry
from facilitation.commands import AddParticipant, CreateAssembly, LowerHand, RaiseHand
from facilitation.events import HandRaised
from server.ballots import ballot_key
from server.runtime import AssemblyRuntime
from server.store import Store


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[AssemblyRuntime]:
    store = Store(sqlite_url)
    await store.start()
    await store.create_assembly("faults")
    live = AssemblyRuntime(
        "faults",
        store,
        clock=lambda: 1_000,
        publish=lambda *_: None,
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
    assert [e.participant for e in runtime.state.rooms[PLENARY_ROOM].queue] == ["j2"]


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
