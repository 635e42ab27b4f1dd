"""The tables that route each command to its rule and each event to its effect, and the
checks every rule shares."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

from facilitation.errors import ErrorCode, Refusal
from facilitation.limits import MAX_DURATION_MS, MAX_LABEL_CHARS, MAX_TEXT_CHARS
from facilitation.messages import Command, Event, RoomCommand
from facilitation.roles import SYSTEM_ACTOR, Role
from facilitation.state import Assembly, Participant, Room

C = TypeVar("C", bound=Command)
RC = TypeVar("RC", bound=RoomCommand)
E = TypeVar("E", bound=Event)


class Envelope(TypedDict):
    room: str
    seq: int
    actor: str
    at_ms: int


class Decision:
    """What one command decides: the events, each stamped with the next seq of its stream."""

    def __init__(
        self, state: Assembly, actor: str, now_ms: int, ballot_key: bytes | None = None
    ) -> None:
        self.state = state
        self.actor = actor
        self.now = now_ms
        # The assembly's key for sealing secret ballots; the caller keeps it out of the log.
        self.ballot_key = ballot_key
        self.events: list[Event] = []
        self._last_seq: dict[str, int] = {}

    def at(self, room: str) -> Envelope:
        """The envelope of the next event in `room`; call it once per event emitted."""
        seq = self._last_seq.get(room, self.state.seqs.get(room, 0)) + 1
        self._last_seq[room] = seq
        return Envelope(room=room, seq=seq, actor=self.actor, at_ms=self.now)

    def emit(self, event: E) -> E:
        self.events.append(event)
        return event


@dataclass(frozen=True)
class Rule:
    """How one command is decided, with what the docs and the tests need to know of it."""

    command: type[Command]
    handler: Callable[..., None]
    in_room: bool
    yields: tuple[type[Event], ...]
    # Every code the command can meet, the checks shared by room commands included.
    refusals: tuple[ErrorCode, ...]
    # The codes its rule declares itself: those docs/commands.md lists for the command.
    declared: tuple[ErrorCode, ...]
    # A room command that a closed room still takes (what happened there before it closed).
    in_closed_rooms: bool = False


RULES: dict[type[Command], Rule] = {}
EFFECTS: dict[type[Event], Callable[[Assembly, Any], None]] = {}

# Refusals any room command can meet before its own rule runs.
ROOM_REFUSALS = (ErrorCode.ROOM_NOT_FOUND, ErrorCode.ROOM_CLOSED, ErrorCode.NOT_IN_ROOM)


def decides(
    command: type[C], *, yields: tuple[type[Event], ...], refusals: tuple[ErrorCode, ...] = ()
) -> Callable[[Callable[[Decision, C], None]], Callable[[Decision, C], None]]:
    """Register the rule of an assembly-wide command."""

    def register(handler: Callable[[Decision, C], None]) -> Callable[[Decision, C], None]:
        RULES[command] = Rule(command, handler, False, yields, refusals, refusals)
        return handler

    return register


def decides_in_room(
    command: type[RC],
    *,
    yields: tuple[type[Event], ...],
    refusals: tuple[ErrorCode, ...] = (),
    in_closed_rooms: bool = False,
) -> Callable[[Callable[[Decision, Room, RC], None]], Callable[[Decision, Room, RC], None]]:
    """Register the rule of a room command; it runs once the actor is known to be in the room
    (and the room open, unless the rule takes `in_closed_rooms` too)."""

    def register(
        handler: Callable[[Decision, Room, RC], None],
    ) -> Callable[[Decision, Room, RC], None]:
        skipped = {ErrorCode.ROOM_CLOSED} if in_closed_rooms else set()
        shared = tuple(code for code in ROOM_REFUSALS if code not in skipped)
        every = tuple(dict.fromkeys(refusals + shared))
        RULES[command] = Rule(command, handler, True, yields, every, refusals, in_closed_rooms)
        return handler

    return register


def evolves(event: type[E]) -> Callable[[Callable[[Assembly, E], None]], Callable[..., None]]:
    def register(effect: Callable[[Assembly, E], None]) -> Callable[[Assembly, E], None]:
        EFFECTS[event] = effect
        return effect

    return register


# --- Checks shared by the rules -------------------------------------------------------------


def role_of(state: Assembly, actor: str) -> Role:
    """Anyone not on the roster is an anonymous observer of a public assembly."""
    if actor == SYSTEM_ACTOR:
        return Role.SYSTEM
    participant = state.participants.get(actor)
    return participant.role if participant else Role.OBSERVER


def existing_room(state: Assembly, room_id: str) -> Room:
    room = state.rooms.get(room_id)
    if room is None:
        raise Refusal(ErrorCode.ROOM_NOT_FOUND, room_id)
    return room


def open_room(state: Assembly, room_id: str) -> Room:
    room = existing_room(state, room_id)
    if room.closed:
        raise Refusal(ErrorCode.ROOM_CLOSED, room_id)
    return room


def check_presence(room: Room, actor: str, role: Role) -> None:
    """Jurors act only in the room they sit in; facilitators only in the rooms they run."""
    if role is Role.JUROR and actor not in room.jurors:
        raise Refusal(ErrorCode.NOT_IN_ROOM, "you are not seated in this room")
    if role is Role.FACILITATOR and actor not in room.facilitators:
        raise Refusal(ErrorCode.NOT_IN_ROOM, "you do not facilitate this room")


def seated_juror(state: Assembly, room: Room, participant_id: str) -> Participant:
    """The juror a moderator names, who must sit in this room: a rule that calls this declares
    `not_in_room` among its refusals, since here it is about the person named, not the actor."""
    participant = state.participants.get(participant_id)
    if participant is None:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, participant_id)
    if participant_id not in room.jurors:
        raise Refusal(ErrorCode.NOT_IN_ROOM, f"{participant_id} is not a juror of this room")
    return participant


def clean_text(text: str, *, limit: int = MAX_TEXT_CHARS, what: str = "text") -> str:
    """Trimmed text within bounds; empty or oversize text is refused, never cut."""
    cleaned = text.strip()
    if not cleaned:
        raise Refusal(ErrorCode.TEXT_EMPTY, f"{what} is empty")
    if len(cleaned) > limit:
        raise Refusal(ErrorCode.TEXT_TOO_LONG, f"{what} is over {limit} characters")
    return cleaned


def clean_reason(reason: str, *, required: bool) -> str:
    cleaned = reason.strip()
    if required and not cleaned:
        raise Refusal(ErrorCode.REASON_REQUIRED, "a reason is required and stays on the record")
    if len(cleaned) > MAX_LABEL_CHARS:
        raise Refusal(ErrorCode.TEXT_TOO_LONG, f"the reason is over {MAX_LABEL_CHARS} characters")
    return cleaned


def check_duration(duration_ms: int, *, low_ms: int = 1, high_ms: int = MAX_DURATION_MS) -> int:
    if not low_ms <= duration_ms <= high_ms:
        raise Refusal(ErrorCode.INVALID_DURATION, f"must be between {low_ms} and {high_ms} ms")
    return duration_ms
