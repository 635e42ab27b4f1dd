"""The lead's oversight of the rooms: the thresholds of the fairness alarms on each room's card,
and private notes to a room's facilitators.

The thresholds are a command like any other, so the record says when the lead watched for what;
the alarms themselves are worked out live from the room's figures (`metrics`), never logged.
"""

from facilitation.commands import SendFacilitatorNote, SetFairnessAlarms
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import FacilitatorNoteSent, FairnessAlarmsSet
from facilitation.limits import MAX_DURATION_MS
from facilitation.registry import Decision, clean_text, decides, decides_in_room, evolves
from facilitation.roles import ASSEMBLY_STREAM
from facilitation.state import Assembly, FairnessAlarms, Note, Room


def _fraction(value: float | None, what: str) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise Refusal(ErrorCode.INVALID_THRESHOLD, f"{what} is a fraction above 0, at most 1")
    return value


def _duration(value: int | None, what: str) -> int | None:
    if value is not None and not 1 <= value <= MAX_DURATION_MS:
        raise Refusal(ErrorCode.INVALID_THRESHOLD, f"{what} is 1 to {MAX_DURATION_MS} ms")
    return value


@decides(SetFairnessAlarms, yields=(FairnessAlarmsSet,), refusals=(ErrorCode.INVALID_THRESHOLD,))
def set_fairness_alarms(d: Decision, command: SetFairnessAlarms) -> None:
    """Durations are 1 ms to a day; `max_gini` and `min_stratum_ratio` are fractions above 0
    and at most 1. Setting the thresholds already in force decides nothing."""
    wanted = FairnessAlarms(
        unspoken_after_ms=_duration(command.unspoken_after_ms, "unspoken_after_ms"),
        max_gini=_fraction(command.max_gini, "max_gini"),
        max_wait_ms=_duration(command.max_wait_ms, "max_wait_ms"),
        min_stratum_ratio=_fraction(command.min_stratum_ratio, "min_stratum_ratio"),
    )
    if wanted == d.state.alarms:
        return
    d.emit(
        FairnessAlarmsSet(
            **d.at(ASSEMBLY_STREAM),
            unspoken_after_ms=wanted.unspoken_after_ms,
            max_gini=wanted.max_gini,
            max_wait_ms=wanted.max_wait_ms,
            min_stratum_ratio=wanted.min_stratum_ratio,
        )
    )


@evolves(FairnessAlarmsSet)
def fairness_alarms_set(state: Assembly, event: FairnessAlarmsSet) -> None:
    state.alarms = FairnessAlarms(
        unspoken_after_ms=event.unspoken_after_ms,
        max_gini=event.max_gini,
        max_wait_ms=event.max_wait_ms,
        min_stratum_ratio=event.min_stratum_ratio,
    )


@decides_in_room(
    SendFacilitatorNote,
    yields=(FacilitatorNoteSent,),
    refusals=(ErrorCode.NO_FACILITATOR, ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG),
)
def send_facilitator_note(d: Decision, room: Room, command: SendFacilitatorNote) -> None:
    """A room nobody facilitates has nobody to read the note: it is refused."""
    text = clean_text(command.text)
    if not room.facilitators:
        raise Refusal(ErrorCode.NO_FACILITATOR, f"nobody facilitates {room.id}")
    d.emit(
        FacilitatorNoteSent(
            **d.at(room.id), text=text, facilitators=tuple(sorted(room.facilitators))
        )
    )


@evolves(FacilitatorNoteSent)
def facilitator_note_sent(state: Assembly, event: FacilitatorNoteSent) -> None:
    state.rooms[event.room].notes.append(Note(event.at_ms, event.actor, event.text))
