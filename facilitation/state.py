"""The state of an assembly as events leave it: only `evolve` writes to these objects."""

from dataclasses import dataclass, field

from facilitation.commands import PollKind, QueuePolicy, Stance
from facilitation.events import ProposedRoom, StatementKind, TurnKind
from facilitation.limits import (
    DEFAULT_REPLIES_PER_TURN,
    DEFAULT_REPLY_LIMIT_MS,
    DEFAULT_TURN_LIMIT_MS,
    DEFAULT_WARNING_MS,
)
from facilitation.roles import PLENARY_ROOM, Role


@dataclass
class Participant:
    id: str
    display_name: str
    role: Role
    attributes: dict[str, str]
    pseudonym: str
    # Where a juror sits, or the room a facilitator is based in; None when removed or not seated.
    room: str | None
    # Across every room of the assembly: the equity policy orders the queue by it.
    spoken_ms: int = 0


@dataclass
class QueueEntry:
    participant: str
    raised_at_ms: int


@dataclass
class Turn:
    id: str
    speaker: str
    kind: TurnKind
    started_at_ms: int
    deadline_ms: int
    warning_at_ms: int
    # Time the room spent paused during this turn: it does not count as speaking time.
    paused_ms: int = 0
    replies_requested: int = 0
    nodes: list[str] = field(default_factory=list)


@dataclass
class SpeakerStats:
    # Time holding the floor, turn by turn, whether or not anyone was heard.
    spoken_ms: int = 0
    turns: int = 0
    longest_wait_ms: int = 0
    # Time the media server heard this person's voice here, in turns or on an open floor.
    voiced_ms: int = 0


@dataclass
class Statement:
    id: str
    turn_id: str | None
    speaker: str
    kind: StatementKind
    text: str
    at_ms: int


@dataclass
class Rules:
    turn_limit_ms: int = DEFAULT_TURN_LIMIT_MS
    warning_ms: int = DEFAULT_WARNING_MS
    reply_limit_ms: int = DEFAULT_REPLY_LIMIT_MS
    replies_per_turn: int = DEFAULT_REPLIES_PER_TURN
    policy: QueuePolicy = "first_come"
    auto: bool = False
    open_floor: bool = False


@dataclass
class Node:
    """A question, position, argument or reply in the room's argument map."""

    id: str
    kind: str
    parent: str | None
    stance: Stance | None
    author: str
    text: str
    posted_at_ms: int
    hidden: bool = False
    # Every hide and unhide, with its reason, in order: the moderation record of this post.
    moderation: list[tuple[str, str, str]] = field(default_factory=list)
    endorsers: set[str] = field(default_factory=set)
    merged_into: str | None = None
    turns: list[str] = field(default_factory=list)
    # The plenary map entry this position came from, in a round started from the map.
    origin: str | None = None


@dataclass
class Poll:
    id: str
    question: str
    kind: PollKind
    options: tuple[str, ...]
    secret: bool
    open: bool = True
    # Voter -> choices in an open poll; ballot id -> choices in a secret one, so that neither
    # the state nor its snapshots say who chose what.
    votes: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass
class AgendaItem:
    id: str
    title: str
    duration_ms: int
    question_id: str | None
    status: str = "pending"  # pending -> running -> done
    deadline_ms: int | None = None


@dataclass
class Note:
    """A private note from the lead to a room's facilitators."""

    at_ms: int
    author: str
    text: str


@dataclass
class Objection:
    participant: str
    reason: str
    at_ms: int


@dataclass
class CarryProposal:
    """What a breakout room's facilitator proposes to carry to the plenary, and who objects."""

    positions: list[str]
    arguments: list[str]
    proposed_by: str
    proposed_at_ms: int
    objections: list[Objection] = field(default_factory=list)


@dataclass
class MapArgument:
    node_id: str
    stance: Stance
    text: str
    endorsements: int


@dataclass
class MapEntry:
    """One room's carried position on the plenary's map, in that room's own words."""

    id: str
    round_id: str
    room: str
    room_name: str
    node_id: str
    text: str
    endorsements: int
    arguments: list[MapArgument]
    marked_by: str | None
    # The entry it stands under once merged (confirmed by the lead, or taken from the map in a
    # later round); None for an entry that stands for itself. Never a chain.
    merged_into: str | None = None


@dataclass
class MergeProposal:
    id: str
    round_id: str
    first: str
    second: str
    similarity: float
    shared: list[str]
    status: str = "open"  # open -> confirmed | rejected
    decided_by: str | None = None


@dataclass
class Room:
    id: str
    name: str
    round_id: str | None = None
    # When the room opened (its round started; the plenary: the assembly was created).
    opened_at_ms: int | None = None
    closed: bool = False
    facilitators: set[str] = field(default_factory=set)
    jurors: set[str] = field(default_factory=set)
    rules: Rules = field(default_factory=Rules)
    locked: bool = False
    paused_at_ms: int | None = None
    muted: set[str] = field(default_factory=set)
    # Why each muted juror was muted ("" when no reason was given): a page opened later must
    # still say it, and the event that gave it may be long gone from a resume.
    mute_reasons: dict[str, str] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    queue: list[QueueEntry] = field(default_factory=list)
    replies: list[QueueEntry] = field(default_factory=list)
    # The turn under way, by id: `turns` holds the one copy of every turn, so a restored
    # snapshot cannot end up with the floor and its turn as two objects that drift apart.
    floor_turn_id: str | None = None
    turns: dict[str, Turn] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)
    stats: dict[str, SpeakerStats] = field(default_factory=dict)
    # The end of the last period of voice recorded here: a record ending no later is a repeat.
    voiced_until_ms: int | None = None
    # When each juror or facilitator last left the room (moved, removed, off to a breakout
    # room): a voice record may still name them for the time before.
    left_at_ms: dict[str, int] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    polls: dict[str, Poll] = field(default_factory=dict)
    agenda: list[AgendaItem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    carry: CarryProposal | None = None

    @property
    def floor(self) -> Turn | None:
        """The turn under way, if anyone holds the floor."""
        return None if self.floor_turn_id is None else self.turns[self.floor_turn_id]

    def queued(self, participant: str) -> bool:
        return any(entry.participant == participant for entry in self.queue)

    def replying(self, participant: str) -> bool:
        return any(entry.participant == participant for entry in self.replies)

    def current_item(self) -> AgendaItem | None:
        return next((item for item in self.agenda if item.status == "running"), None)


@dataclass
class Round:
    id: str
    rooms: list[ProposedRoom]
    started: bool = False
    closed: bool = False
    deadline_ms: int | None = None
    # When a recall announced with a warning brings everyone back (None: no recall set).
    recall_at_ms: int | None = None


@dataclass
class FairnessAlarms:
    """The thresholds the lead set for the alarms on each room's card (None: off). The
    defaults are the alarms the lead's page raised before they could be set."""

    unspoken_after_ms: int | None = None
    max_gini: float | None = 0.5
    max_wait_ms: int | None = 3 * 60_000
    min_stratum_ratio: float | None = None


@dataclass
class Assembly:
    title: str = ""
    created: bool = False
    public: bool = True
    pseudonymous: bool = False
    participants: dict[str, Participant] = field(default_factory=dict)
    rooms: dict[str, Room] = field(default_factory=lambda: {PLENARY_ROOM: Room(PLENARY_ROOM, "")})
    rounds: list[Round] = field(default_factory=list)
    announcements: list[tuple[int, str]] = field(default_factory=list)
    alarms: FairnessAlarms = field(default_factory=FairnessAlarms)
    # The plenary's map of what the rooms carried back, entry id -> entry, in recall order.
    carried: dict[str, MapEntry] = field(default_factory=dict)
    # What each room's objectors said about its carry, by room id, kept with the map.
    carry_objections: dict[str, list[Objection]] = field(default_factory=dict)
    merge_proposals: dict[str, MergeProposal] = field(default_factory=dict)
    # The last seq applied in each stream.
    seqs: dict[str, int] = field(default_factory=dict)

    def current_round(self) -> Round | None:
        """The round proposed or running, if any; a closed round is history."""
        if self.rounds and not self.rounds[-1].closed:
            return self.rounds[-1]
        return None
