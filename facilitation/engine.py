"""The core's two verbs: `decide` turns a command into events, `evolve` applies an event."""

from collections.abc import Iterable

# Importing the rule modules registers their rules and effects.
from facilitation import (  # noqa: F401
    agenda,
    arguments,
    assembly,
    moderation,
    oversight,
    polls,
    synthesis,
    turns,
    voice,
)
from facilitation.commands import CreateAssembly
from facilitation.errors import ErrorCode, Refusal
from facilitation.messages import Command, Event, RoomCommand
from facilitation.registry import (
    EFFECTS,
    RULES,
    Decision,
    check_presence,
    existing_room,
    open_room,
    role_of,
)
from facilitation.state import Assembly


def decide(
    state: Assembly,
    command: Command,
    actor: str,
    now_ms: int,
    *,
    ballot_key: bytes | None = None,
) -> list[Event]:
    """The events that follow from `command` by `actor` at `now_ms`, or a `Refusal`.

    Reads `state` and never changes it; an empty list means there was nothing to do (a stale
    expiry, say), which is not a refusal. `ballot_key` is the assembly's secret key for
    sealing secret ballots (see `polls.ballot_id`): a vote in a secret poll without one raises
    `BallotKeyMissing`, since the server would be misconfigured, not the voter wrong.
    """
    rule = RULES[type(command)]
    role = role_of(state, actor)
    if role not in command.roles:
        raise Refusal(ErrorCode.FORBIDDEN, f"a {role} cannot {command.name}")
    if not state.created and not isinstance(command, CreateAssembly):
        raise Refusal(ErrorCode.NO_ASSEMBLY)
    decision = Decision(state, actor, now_ms, ballot_key)
    if isinstance(command, RoomCommand):
        find = existing_room if rule.in_closed_rooms else open_room
        room = find(state, command.room)
        check_presence(room, actor, role)
        rule.handler(decision, room, command)
    else:
        rule.handler(decision, command)
    return decision.events


def evolve(state: Assembly, event: Event) -> Assembly:
    """Apply one event to `state`, in place, and return it. Events must come in seq order."""
    expected = state.seqs.get(event.room, 0) + 1
    if event.seq != expected:
        raise ValueError(f"{event.room}: expected seq {expected}, got {event.seq}")
    EFFECTS[type(event)](state, event)
    state.seqs[event.room] = event.seq
    return state


def replay(events: Iterable[Event], state: Assembly | None = None) -> Assembly:
    """Rebuild an assembly from its log (or catch `state` up with later events)."""
    current = Assembly() if state is None else state
    for event in events:
        evolve(current, event)
    return current


def execute(
    state: Assembly,
    command: Command,
    actor: str,
    now_ms: int,
    *,
    ballot_key: bytes | None = None,
) -> list[Event]:
    """Decide and apply at once: for tests, benchmarks and tools that own their state."""
    events = decide(state, command, actor, now_ms, ballot_key=ballot_key)
    for event in events:
        evolve(state, event)
    return events
