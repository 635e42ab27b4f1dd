"""Every request an actor can make of an assembly, as imperatives with who may issue them."""

from dataclasses import dataclass
from typing import ClassVar, Literal

from facilitation.messages import Command, RoomCommand
from facilitation.roles import CONTRIBUTORS, MODERATORS, Role

SYSTEM_ONLY = frozenset({Role.SYSTEM})
LEAD_ONLY = frozenset({Role.LEAD})
JUROR_ONLY = frozenset({Role.JUROR})
ORGANISERS = frozenset({Role.SYSTEM, Role.LEAD})

QueuePolicy = Literal["first_come", "equity"]
Stance = Literal["for", "against"]
PollKind = Literal["single", "multiple", "scale"]


# --- The assembly ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateAssembly(Command):
    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    title: str
    public: bool = True
    pseudonymous: bool = False


@dataclass(frozen=True, kw_only=True)
class AddParticipant(Command):
    roles: ClassVar[frozenset[Role]] = ORGANISERS
    participant: str
    display_name: str
    role: Role
    attributes: dict[str, str] | None = None


@dataclass(frozen=True, kw_only=True)
class OpenRound(Command):
    """Propose a breakout round: give either a number of rooms or a room size."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    room_count: int | None = None
    room_size: int | None = None
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class AdjustAllocation(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    participant: str
    to_room: str


@dataclass(frozen=True, kw_only=True)
class StartRound(Command):
    """Start the proposed round. Every room opens with a question of the plenary: the one
    named, else the plenary's latest (none when the plenary has none). `from_map` also gives
    each room every position of the plenary's merged map, marked with the map entry it came
    from (a round from the map needs a question)."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    duration_ms: int | None = None
    question_id: str | None = None
    # Each room also starts from the plenary's merged map: one position per merged position.
    from_map: bool = False


@dataclass(frozen=True, kw_only=True)
class MoveParticipant(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    participant: str
    to_room: str


@dataclass(frozen=True, kw_only=True)
class SetRoundTimer(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class ExpireRoundTimer(Command):
    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    round_id: str


@dataclass(frozen=True, kw_only=True)
class Broadcast(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    text: str


@dataclass(frozen=True, kw_only=True)
class CloseRound(Command):
    """Recall everyone to the plenary: now, or after a warning of `after_ms` that every room
    sees counting down (a later close_round moves or brings forward the recall)."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    after_ms: int | None = None


@dataclass(frozen=True, kw_only=True)
class CancelRecall(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY


@dataclass(frozen=True, kw_only=True)
class RecallRound(Command):
    """The recall a close_round announced, when its time comes."""

    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    round_id: str


# --- The lead's oversight of rooms -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SetFairnessAlarms(Command):
    """Set the thresholds at which a room's card on the lead's page raises an alarm; a
    threshold left out (null) is off. Each replaces the one before: the command sets them all."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    # Jurors who have not spoken this long after their room opened ("4 of 9 have not spoken
    # after 15 min").
    unspoken_after_ms: int | None = None
    # Speaking time this unequal (a Gini coefficient, 0 to 1), once people have talked a while.
    max_gini: float | None = None
    # A hand up this long.
    max_wait_ms: int | None = None
    # The quietest stratum's share of floor time below this fraction of its share of seats.
    min_stratum_ratio: float | None = None


@dataclass(frozen=True, kw_only=True)
class SendFacilitatorNote(RoomCommand):
    """A private note from the lead to the facilitators of one room: recorded, and shown only
    to the lead, that room's facilitators and the organiser."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    text: str


# --- Speaking turns -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RaiseHand(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY


@dataclass(frozen=True, kw_only=True)
class LowerHand(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY


@dataclass(frozen=True, kw_only=True)
class RequestReply(RoomCommand):
    """Ask for a short direct reply to the current speaker, ahead of the queue."""

    roles: ClassVar[frozenset[Role]] = JUROR_ONLY


@dataclass(frozen=True, kw_only=True)
class WithdrawReply(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY


@dataclass(frozen=True, kw_only=True)
class GrantFloor(RoomCommand):
    """Give the floor to a juror, or to the next in line when no one is named."""

    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str | None = None


@dataclass(frozen=True, kw_only=True)
class NextSpeaker(RoomCommand):
    """End the current turn, if any, and give the floor to the next in line."""

    roles: ClassVar[frozenset[Role]] = MODERATORS


@dataclass(frozen=True, kw_only=True)
class YieldFloor(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY


@dataclass(frozen=True, kw_only=True)
class ExpireTurn(RoomCommand):
    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    turn_id: str


@dataclass(frozen=True, kw_only=True)
class ExtendTurn(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    by_ms: int


@dataclass(frozen=True, kw_only=True)
class RevokeFloor(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class SetRoomRules(RoomCommand):
    """Change any of the room's turn rules; fields left out keep their value.

    `open_floor` lets every juror of the room who is not muted speak freely, by voice and in
    the transcript, beside the queue rather than instead of it: hands may still go up, a turn
    granted runs on its clock and counts as floor time, and closing the floor again returns
    the room to the queue as it stands, the floor holder keeping their turn.
    """

    roles: ClassVar[frozenset[Role]] = MODERATORS
    turn_limit_ms: int | None = None
    warning_ms: int | None = None
    reply_limit_ms: int | None = None
    replies_per_turn: int | None = None
    policy: QueuePolicy | None = None
    auto: bool | None = None
    open_floor: bool | None = None


@dataclass(frozen=True, kw_only=True)
class ReorderQueue(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    order: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class MoveToTop(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str


@dataclass(frozen=True, kw_only=True)
class RemoveFromQueue(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str


@dataclass(frozen=True, kw_only=True)
class Speak(RoomCommand):
    """What a juror says, recorded in the room's transcript."""

    roles: ClassVar[frozenset[Role]] = JUROR_ONLY
    text: str


@dataclass(frozen=True, kw_only=True)
class Interject(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    text: str


# --- Moderation -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MuteParticipant(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class UnmuteParticipant(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str


@dataclass(frozen=True, kw_only=True)
class RemoveParticipant(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    participant: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class LockRoom(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS


@dataclass(frozen=True, kw_only=True)
class UnlockRoom(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS


@dataclass(frozen=True, kw_only=True)
class PauseRoom(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS


@dataclass(frozen=True, kw_only=True)
class ResumeRoom(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS


# --- Voice ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordVoiceActivity(RoomCommand):
    """The voice the media server heard in the room from `from_ms` to `to_ms` (by the
    server's clock), in milliseconds by participant, summed from its talking events."""

    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    from_ms: int
    to_ms: int
    voiced_ms: dict[str, int]


# --- Agenda ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AddAgendaItem(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    title: str
    duration_ms: int
    question_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class AdvanceAgenda(RoomCommand):
    """End the running item, if any, and start the next one."""

    roles: ClassVar[frozenset[Role]] = MODERATORS


@dataclass(frozen=True, kw_only=True)
class ExtendAgendaItem(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    by_ms: int


@dataclass(frozen=True, kw_only=True)
class ExpireAgendaItem(RoomCommand):
    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    item_id: str


# --- Argument threads -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PoseQuestion(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    text: str


@dataclass(frozen=True, kw_only=True)
class PostPosition(RoomCommand):
    roles: ClassVar[frozenset[Role]] = CONTRIBUTORS
    question_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class PostArgument(RoomCommand):
    roles: ClassVar[frozenset[Role]] = CONTRIBUTORS
    position_id: str
    stance: Stance
    text: str


@dataclass(frozen=True, kw_only=True)
class PostReply(RoomCommand):
    roles: ClassVar[frozenset[Role]] = CONTRIBUTORS
    parent_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Endorse(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY
    node_id: str


@dataclass(frozen=True, kw_only=True)
class WithdrawEndorsement(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY
    node_id: str


@dataclass(frozen=True, kw_only=True)
class HidePost(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    node_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class UnhidePost(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    node_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class MergeNodes(RoomCommand):
    """Mark `duplicate_id` as a duplicate of `into_id`; both stay on the record, linked."""

    roles: ClassVar[frozenset[Role]] = MODERATORS
    duplicate_id: str
    into_id: str


@dataclass(frozen=True, kw_only=True)
class LinkTurn(RoomCommand):
    """Link the current speaking turn to the node it addresses."""

    roles: ClassVar[frozenset[Role]] = CONTRIBUTORS
    node_id: str


# --- Polls ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OpenPoll(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    question: str
    kind: PollKind
    options: tuple[str, ...] = ()
    secret: bool = False


@dataclass(frozen=True, kw_only=True)
class Vote(RoomCommand):
    roles: ClassVar[frozenset[Role]] = JUROR_ONLY
    poll_id: str
    choices: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class ClosePoll(RoomCommand):
    roles: ClassVar[frozenset[Role]] = MODERATORS
    poll_id: str


# --- Reporting back to the plenary ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProposeCarry(RoomCommand):
    """Propose what a breakout room carries to the plenary at the recall: some of its
    positions and, under them, its strongest arguments for and against. A new proposal
    replaces the last (and its objections). A room with no proposal carries every standing
    position with its most endorsed argument for and against."""

    roles: ClassVar[frozenset[Role]] = MODERATORS
    positions: tuple[str, ...]
    arguments: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ObjectToCarry(RoomCommand):
    """A juror of the room objects to what its facilitator proposes to carry, with a reason
    that goes to the plenary with the room's positions."""

    roles: ClassVar[frozenset[Role]] = JUROR_ONLY
    reason: str


@dataclass(frozen=True, kw_only=True)
class MergeCandidate:
    """Two carried positions that read alike, and the words they share."""

    first: str
    second: str
    similarity: float
    shared: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ProposeMerges(Command):
    """The server's text similarity proposes near-duplicate carried positions after a recall:
    proposals only, which the lead confirms or rejects one by one."""

    roles: ClassVar[frozenset[Role]] = SYSTEM_ONLY
    round_id: str
    candidates: tuple[MergeCandidate, ...]


@dataclass(frozen=True, kw_only=True)
class ConfirmMerge(Command):
    """Merge two carried positions on the plenary's map; each room's wording stays on it."""

    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class RejectMerge(Command):
    roles: ClassVar[frozenset[Role]] = LEAD_ONLY
    proposal_id: str
