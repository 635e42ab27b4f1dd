"""A small world for testing the core: an assembly, a fake clock and readable helpers."""

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Assembly, Command, Event, Role, execute
from facilitation.codec import decode_event, encode
from facilitation.commands import AddParticipant, CreateAssembly
from facilitation.engine import decide
from facilitation.errors import ErrorCode, Refusal
from facilitation.state import Room

E = TypeVar("E", bound=Event)

# The key that seals secret ballots in tests; a server derives one per assembly from its secret.
TEST_BALLOT_KEY = b"test ballot key"


def only(events: Sequence[Event], kind: type[E]) -> E:
    """The one event of `kind` among `events`."""
    found = [event for event in events if isinstance(event, kind)]
    assert len(found) == 1, f"expected one {kind.name}, got {len(found)}"
    return found[0]


@dataclass
class World:
    """An assembly with its full log; every event is checked to round-trip through JSON."""

    state: Assembly = field(default_factory=Assembly)
    log: list[Event] = field(default_factory=list)
    now_ms: int = 1_000_000
    ballot_key: bytes = TEST_BALLOT_KEY

    def tick(self, ms: int) -> None:
        self.now_ms += ms

    def run(self, actor: str, command: Command) -> list[Event]:
        events = execute(self.state, command, actor, self.now_ms, ballot_key=self.ballot_key)
        for event in events:
            assert decode_event(encode(event)) == event
        self.log.extend(events)
        return events

    def decide(self, actor: str, command: Command) -> list[Event]:
        """Decide without applying: for checking refusals."""
        return decide(self.state, command, actor, self.now_ms, ballot_key=self.ballot_key)

    def refuse(self, actor: str, command: Command) -> ErrorCode:
        """Run a command that must be refused: check it changed nothing and return its code."""
        before = copy.deepcopy(self.state)
        logged = len(self.log)
        with pytest.raises(Refusal) as refused:
            self.run(actor, command)
        assert self.state == before, f"refused {command.name} changed the state"
        assert len(self.log) == logged
        return refused.value.code

    def add(self, participant: str, role: Role, **attributes: str) -> None:
        self.run(
            SYSTEM_ACTOR,
            AddParticipant(
                participant=participant,
                display_name=participant.title(),
                role=role,
                attributes=attributes,
            ),
        )

    @property
    def plenary(self) -> Room:
        return self.state.rooms[PLENARY_ROOM]


def assembly(jurors: int = 4, facilitators: int = 1, *, title: str = "Test jury") -> World:
    """A created assembly with `lead`, facilitators `f1`.. and jurors `j1`.. in the plenary."""
    world = World()
    world.run(SYSTEM_ACTOR, CreateAssembly(title=title))
    world.add("lead", Role.LEAD)
    for index in range(1, facilitators + 1):
        world.add(f"f{index}", Role.FACILITATOR)
    for index in range(1, jurors + 1):
        world.add(f"j{index}", Role.JUROR)
    world.add("obs", Role.OBSERVER)
    return world
