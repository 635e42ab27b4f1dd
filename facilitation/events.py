"""Every fact the core records, in the past tense; replaying them rebuilds an assembly exactly.

Each event carries its stream (`room`: a room id, or "assembly"), its `seq` in that stream, the
actor who caused it and the time. Who wrote a post, endorsed or voted in an open poll is the
event's actor; a secret ballot is recorded under `BALLOT_ACTOR`, never under the voter's id.
"""

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from facilitation.commands import PollKind, QueuePolicy, Stance
from facilitation.messages import Event
from facilitation.roles import Role
from facilitation.upcast import upcaster

TurnKind = Literal["turn", "reply"]
TurnEndReason = Literal[
    "yielded",
    "expired",
    "revoked",
    "next",
    "muted",
    "removed",
    "moved",
    "round_started",
    "round_closed",
]
# Why someone leaves the floor and the lanes of a room without asking to.
LeaveReason = Literal["removed", "muted", "moved", "round_started"]
HandLoweredReason = Literal["lowered", LeaveReason]
StatementKind = Literal["statement", "interjection"]
AgendaEndReason = Literal["advanced", "deadline"]


@dataclass(frozen=True, kw_only=True)
class ProposedRoom:
    """One breakout room of a round: who sits in it and who runs it."""

    room_id: str
    name: str
    jurors: tuple[str, ...]
    facilitators: tuple[str, ...]


# --- The assembly ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AssemblyCreated(Event):
    title: str
    public: bool
    pseudonymous: bool


@dataclass(frozen=True, kw_only=True)
class ParticipantAdded(Event):
    participant: str
    display_name: str
    role: Role
    attributes: dict[str, str]
    # The pseudonym observers see when the assembly is pseudonymous ("Juror 7").
    pseudonym: str


@dataclass(frozen=True, kw_only=True)
class RoundProposed(Event):
    round_id: str
    rooms: tuple[ProposedRoom, ...]


@dataclass(frozen=True, kw_only=True)
class AllocationAdjusted(Event):
    round_id: str
    participant: str
    to_room: str


@dataclass(frozen=True, kw_only=True)
class RoundStarted(Event):
    round_id: str
    rooms: tuple[ProposedRoom, ...]
    deadline_ms: int | None


@dataclass(frozen=True, kw_only=True)
class ParticipantMoved(Event):
    participant: str
    from_room: str | None
    to_room: str


@dataclass(frozen=True, kw_only=True)
class RoundTimerSet(Event):
    round_id: str
    deadline_ms: int


@dataclass(frozen=True, kw_only=True)
class RoundTimerEnded(Event):
    round_id: str


@dataclass(frozen=True, kw_only=True)
class AnnouncementBroadcast(Event):
    text: str


@dataclass(frozen=True, kw_only=True)
class RecallScheduled(Event):
    round_id: str
    recall_at_ms: int


@dataclass(frozen=True, kw_only=True)
class RecallCancelled(Event):
    round_id: str


@dataclass(frozen=True, kw_only=True)
class RoundClosed(Event):
    round_id: str


# --- The lead's oversight of rooms -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FairnessAlarmsSet(Event):
    unspoken_after_ms: int | None
    max_gini: float | None
    max_wait_ms: int | None
    min_stratum_ratio: float | None


@dataclass(frozen=True, kw_only=True)
class FacilitatorNoteSent(Event):
    """The lead's private note to the room's facilitators (`facilitators`, as they were)."""

    text: str
    facilitators: tuple[str, ...]


# --- Speaking turns -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HandRaised(Event):
    participant: str


@dataclass(frozen=True, kw_only=True)
class HandLowered(Event):
    participant: str
    reason: HandLoweredReason


@dataclass(frozen=True, kw_only=True)
class ReplyRequested(Event):
    participant: str
    turn_id: str


@dataclass(frozen=True, kw_only=True)
class ReplyWithdrawn(Event):
    participant: str
    reason: HandLoweredReason


@dataclass(frozen=True, kw_only=True)
class FloorGranted(Event):
    """The floor goes to `speaker`; they leave the lane (queue or reply lane) they came from."""

    turn_id: str
    speaker: str
    kind: TurnKind
    deadline_ms: int
    warning_at_ms: int


@dataclass(frozen=True, kw_only=True)
class TurnEnded(Event):
    turn_id: str
    speaker: str
    reason: TurnEndReason
    # Time actually spoken: from the grant to the end, less any pause, capped at the deadline.
    duration_ms: int
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class TurnExtended(Event):
    turn_id: str
    deadline_ms: int
    warning_at_ms: int


@dataclass(frozen=True, kw_only=True)
class RoomRulesChanged(Event):
    # 2: `open_floor` added with live voice (issue 8); see the upcaster below.
    schema_version: ClassVar[int] = 2

    turn_limit_ms: int
    warning_ms: int
    reply_limit_ms: int
    replies_per_turn: int
    policy: QueuePolicy
    auto: bool
    open_floor: bool


@upcaster("room_rules_changed", 1)
def _room_rules_before_open_floor(body: dict[str, Any]) -> dict[str, Any]:
    """No room had an open floor then. (A body that has one is today's, encoded without a
    version for the wire: it keeps it.)"""
    return {"open_floor": False, **body}


@dataclass(frozen=True, kw_only=True)
class QueueReordered(Event):
    order: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class StatementMade(Event):
    statement_id: str
    turn_id: str | None
    kind: StatementKind
    text: str


# --- Moderation -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ParticipantMuted(Event):
    participant: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class ParticipantUnmuted(Event):
    participant: str


@dataclass(frozen=True, kw_only=True)
class ParticipantRemoved(Event):
    participant: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RoomLocked(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class RoomUnlocked(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class RoomPaused(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class RoomResumed(Event):
    """Every running deadline of the room moves later by `paused_ms`."""

    paused_ms: int


# --- Voice ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VoiceRecorded(Event):
    """Voice heard in the room from `from_ms` to `to_ms`: milliseconds by participant, only
    those heard at all. It adds to their voiced time, which is kept apart from floor time."""

    from_ms: int
    to_ms: int
    voiced_ms: dict[str, int]


# --- Agenda ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AgendaItemAdded(Event):
    item_id: str
    title: str
    duration_ms: int
    question_id: str | None


@dataclass(frozen=True, kw_only=True)
class AgendaItemStarted(Event):
    item_id: str
    deadline_ms: int


@dataclass(frozen=True, kw_only=True)
class AgendaItemExtended(Event):
    item_id: str
    deadline_ms: int


@dataclass(frozen=True, kw_only=True)
class AgendaItemEnded(Event):
    item_id: str
    reason: AgendaEndReason


# --- Argument threads -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class QuestionPosed(Event):
    node_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class PositionPosted(Event):
    node_id: str
    question_id: str
    text: str
    # The plenary map entry a round started from the map gave this position (None: a room's own).
    origin: str | None = None


@dataclass(frozen=True, kw_only=True)
class ArgumentPosted(Event):
    node_id: str
    position_id: str
    stance: Stance
    text: str


@dataclass(frozen=True, kw_only=True)
class ReplyPosted(Event):
    node_id: str
    parent_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class EndorsementAdded(Event):
    node_id: str


@dataclass(frozen=True, kw_only=True)
class EndorsementWithdrawn(Event):
    node_id: str


@dataclass(frozen=True, kw_only=True)
class PostHidden(Event):
    node_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class PostUnhidden(Event):
    node_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class NodesMerged(Event):
    duplicate_id: str
    into_id: str


@dataclass(frozen=True, kw_only=True)
class TurnLinked(Event):
    turn_id: str
    node_id: str


# --- Polls ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PollOpened(Event):
    poll_id: str
    question: str
    kind: PollKind
    options: tuple[str, ...]
    secret: bool


@dataclass(frozen=True, kw_only=True)
class VoteCast(Event):
    # 2: `ballot` added when secret ballots were sealed (issue 7); see the upcaster below.
    schema_version: ClassVar[int] = 2

    poll_id: str
    choices: tuple[int, ...]
    # Empty in an open poll, whose actor is the voter. In a secret poll the actor is
    # `BALLOT_ACTOR` and this is the ballot id (`polls.ballot_id`), which only the server's key
    # links to a voter; the last vote of each ballot counts. Logs written before ballots were
    # sealed have secret votes under the voter's id and no ballot: they count as they did.
    ballot: str = ""


@upcaster("vote_cast", 1)
def _vote_cast_before_ballots(body: dict[str, Any]) -> dict[str, Any]:
    """Every vote was recorded under its voter then: none has a ballot. (A body that already
    has one is today's, encoded without a version for the wire: it keeps it.)"""
    return {"ballot": "", **body}


@dataclass(frozen=True, kw_only=True)
class PollClosed(Event):
    poll_id: str
    # Votes per option, in the order of the options.
    totals: tuple[int, ...]
    voters: int


# --- Reporting back to the plenary ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CarryProposed(Event):
    positions: tuple[str, ...]
    arguments: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CarryObjected(Event):
    reason: str


@dataclass(frozen=True, kw_only=True)
class CarriedArgument:
    node_id: str
    stance: Stance
    text: str
    endorsements: int


@dataclass(frozen=True, kw_only=True)
class CarriedPosition:
    """One position a room carries back, in its own words, with endorsements at the recall."""

    node_id: str
    text: str
    endorsements: int
    # The plenary map entry the room took it from, in a round started from the map.
    origin: str | None
    arguments: tuple[CarriedArgument, ...]


@dataclass(frozen=True, kw_only=True)
class CarryObjection:
    participant: str
    reason: str
    at_ms: int


@dataclass(frozen=True, kw_only=True)
class PositionsCarried(Event):
    """What one room brought back at the recall, on the assembly stream. `marked_by` is who
    proposed it (None: nobody did, so every standing position came)."""

    round_id: str
    from_room: str
    room_name: str
    marked_by: str | None
    positions: tuple[CarriedPosition, ...]
    objections: tuple[CarryObjection, ...]


@dataclass(frozen=True, kw_only=True)
class MergeProposed(Event):
    proposal_id: str
    round_id: str
    first: str
    second: str
    similarity: float
    shared: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class MergeConfirmed(Event):
    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class MergeRejected(Event):
    proposal_id: str
