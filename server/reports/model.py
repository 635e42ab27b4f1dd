"""What a report says, gathered by replaying an export: the argument maps, polls, turns,
statements, moderation acts and fairness figures of the rooms in scope, as the organiser may
see them. `server.reports.public` then takes out what observers may not see.

Events this palabre cannot decode (a kind added later, or a version it does not upcast) are
counted and skipped, never fatal; `COLLECTORS` lets a module read the raw bodies of its own
event kinds (the synthesis's carried positions, say) into `Report.carried`.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from facilitation import ASSEMBLY_STREAM, Assembly, Event, Role
from facilitation.codec import UnknownMessage, UnknownVersion, decode_event
from facilitation.engine import evolve
from facilitation.events import (
    AnnouncementBroadcast,
    EndorsementAdded,
    EndorsementWithdrawn,
    FacilitatorNoteSent,
    FloorGranted,
    HandLowered,
    NodesMerged,
    ParticipantMuted,
    ParticipantRemoved,
    ParticipantUnmuted,
    PostHidden,
    PostUnhidden,
    RoomLocked,
    RoomPaused,
    RoomResumed,
    RoomUnlocked,
    StatementMade,
    TurnEnded,
    VoteCast,
)
from facilitation.metrics import RoomFairness, StratumShare, room_fairness, strata
from facilitation.record import FIRST_EXPORT_FORMAT, NotAnExport, verify_export
from facilitation.roles import BALLOT_ACTOR, PLENARY_ROOM
from facilitation.state import Node, Poll, Room

ScopeKind = Literal["assembly", "round", "room"]
# Points on the fairness-over-time line of each room: enough to show a trend, few enough that
# a hundred rooms cost little (each point is one `room_fairness`).
FAIRNESS_SAMPLES = 12


class ScopeNotFound(LookupError):
    """A round or room the record does not hold."""


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    id: str = ""

    @staticmethod
    def of(room: str | None = None, round_id: str | None = None) -> "Scope":
        if room:
            return Scope("room", room)
        if round_id:
            return Scope("round", round_id)
        return Scope("assembly")


@dataclass
class TurnRow:
    room: str
    turn_id: str
    speaker: str
    kind: str
    started_at_ms: int
    ended_at_ms: int | None = None
    duration_ms: int | None = None
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class StatementRow:
    room: str
    statement_id: str
    turn_id: str | None
    speaker: str
    kind: str
    at_ms: int
    text: str


@dataclass(frozen=True)
class EndorsementRow:
    room: str
    node_id: str
    juror: str
    action: Literal["added", "withdrawn"]
    at_ms: int


@dataclass(frozen=True)
class VoteRow:
    room: str
    poll_id: str
    voter: str
    choices: tuple[int, ...]
    at_ms: int


@dataclass(frozen=True)
class ModerationAct:
    """One act of moderation, with its reason when it has one (most must)."""

    room: str
    at_ms: int
    actor: str
    action: str
    target: str = ""
    reason: str = ""
    # Private to the lead, the room's facilitators and the organiser (a lead's note).
    private: bool = False


@dataclass(frozen=True)
class CarriedItem:
    """Something a room carried to the plenary, read by a collector from its own events."""

    room: str
    round_id: str | None
    kind: str
    text: str
    marked_by: str
    at_ms: int
    stance: str | None = None


@dataclass(frozen=True)
class FairnessPoint:
    at_ms: int
    gini: float
    share_spoken: float


@dataclass
class RoomReport:
    id: str
    name: str
    round_id: str | None
    opened_at_ms: int | None
    last_at_ms: int | None
    jurors: list[str]
    facilitators: list[str]
    fairness: RoomFairness
    strata: tuple[StratumShare, ...]
    over_time: list[FairnessPoint]
    nodes: dict[str, Node]
    polls: list[Poll]
    turns: list[TurnRow]
    statements: list[StatementRow]
    endorsements: list[EndorsementRow]
    votes: list[VoteRow]
    moderation: list[ModerationAct]

    @property
    def roots(self) -> list[Node]:
        return [node for node in self.nodes.values() if node.parent is None]

    def children(self, node_id: str) -> list[Node]:
        return [node for node in self.nodes.values() if node.parent == node_id]


@dataclass(frozen=True)
class StreamHead:
    stream: str
    seq: int
    hash: str


@dataclass
class Report:
    assembly: str
    title: str
    pseudonymous: bool
    scope: Scope
    public: bool
    state: Assembly
    rooms: list[RoomReport]
    heads: list[StreamHead]
    events: int
    problems: list[str]
    announcements: list[tuple[int, str]]
    strata: tuple[StratumShare, ...]
    over_time: list[FairnessPoint]
    unknown: dict[str, int] = field(default_factory=dict)
    carried: list[CarriedItem] = field(default_factory=list)
    first_at_ms: int | None = None
    last_at_ms: int | None = None

    def name(self, participant: str) -> str:
        """How a person is named in this report: pseudonyms for jurors where the assembly is
        pseudonymous and the report public, display names otherwise."""
        if participant == BALLOT_ACTOR:
            return participant
        person = self.state.participants.get(participant)
        if person is None:
            return participant
        if self.public and self.pseudonymous and person.role is Role.JUROR:
            return person.pseudonym
        return person.display_name

    def ident(self, participant: str) -> str:
        """The id a CSV row gives: the pseudonym where names are hidden, else the real id."""
        person = self.state.participants.get(participant)
        if self.public and self.pseudonymous and person is not None and person.role is Role.JUROR:
            return person.pseudonym
        return participant


Collector = Callable[["Gatherer", Mapping[str, Any]], None]
# Event kind (wire name) -> what reads its body into the report. A module registers its own.
COLLECTORS: dict[str, Collector] = {}


def collects(kind: str) -> Callable[[Collector], Collector]:
    def register(collector: Collector) -> Collector:
        COLLECTORS[kind] = collector
        return collector

    return register


@dataclass
class RoomRows:
    """The rows of one room, in the order of the log."""

    turns_by_id: dict[str, TurnRow] = field(default_factory=dict)
    statements: list[StatementRow] = field(default_factory=list)
    endorsements: list[EndorsementRow] = field(default_factory=list)
    votes: list[VoteRow] = field(default_factory=list)
    moderation: list[ModerationAct] = field(default_factory=list)

    @property
    def turns(self) -> list[TurnRow]:
        return list(self.turns_by_id.values())


class Gatherer:
    """Replays a record once, keeping the rows reports list alongside the state."""

    def __init__(self) -> None:
        self.state = Assembly()
        self._rows: dict[str, RoomRows] = {}
        self.unknown: dict[str, int] = {}
        self.carried: list[CarriedItem] = []
        self.first_at: dict[str, int] = {}
        self.last_at: dict[str, int] = {}

    def read(self, body: Mapping[str, Any]) -> Event | None:
        kind = body.get("type")
        collector = COLLECTORS.get(kind) if isinstance(kind, str) else None
        if collector is not None:
            collector(self, body)
        try:
            event = decode_event(dict(body))
        except (UnknownMessage, UnknownVersion, ValidationError):
            self.unknown[str(kind)] = self.unknown.get(str(kind), 0) + 1
            # Its seq is spent all the same: the events after it still follow on.
            room, seq = body.get("room"), body.get("seq")
            if isinstance(room, str) and isinstance(seq, int):
                self.state.seqs[room] = seq
            return None
        self.first_at.setdefault(event.room, event.at_ms)
        self.last_at[event.room] = event.at_ms
        self._before(event)
        evolve(self.state, event)
        return event

    def rows(self, room: str) -> RoomRows:
        found = self._rows.get(room)
        if found is None:
            found = self._rows[room] = RoomRows()
        return found

    def _before(self, event: Event) -> None:
        """The rows an event adds, read before it changes the state (a vote's poll, say)."""
        room = event.room
        rows = self.rows(room)
        act = self._moderation_act(event)
        if act is not None:
            rows.moderation.append(act)
        if isinstance(event, FloorGranted):
            rows.turns_by_id[event.turn_id] = TurnRow(
                room, event.turn_id, event.speaker, event.kind, event.at_ms
            )
        elif isinstance(event, TurnEnded):
            row = rows.turns_by_id.get(event.turn_id)
            if row is not None:
                row.ended_at_ms = event.at_ms
                row.duration_ms = event.duration_ms
                row.reason = event.reason
                row.note = event.note
        elif isinstance(event, StatementMade):
            rows.statements.append(
                StatementRow(
                    room,
                    event.statement_id,
                    event.turn_id,
                    event.actor,
                    event.kind,
                    event.at_ms,
                    event.text,
                )
            )
        elif isinstance(event, EndorsementAdded | EndorsementWithdrawn):
            action: Literal["added", "withdrawn"] = (
                "added" if isinstance(event, EndorsementAdded) else "withdrawn"
            )
            rows.endorsements.append(
                EndorsementRow(room, event.node_id, event.actor, action, event.at_ms)
            )
        elif isinstance(event, VoteCast):
            poll = self.state.rooms[room].polls[event.poll_id]
            # Open ballots only: a secret ballot's voter is not in the log, and its choices
            # are never listed one by one.
            if not poll.secret and event.actor != BALLOT_ACTOR:
                rows.votes.append(
                    VoteRow(room, event.poll_id, event.actor, event.choices, event.at_ms)
                )

    def _moderation_act(self, event: Event) -> ModerationAct | None:
        room, at, actor = event.room, event.at_ms, event.actor
        if isinstance(event, ParticipantMuted):
            return ModerationAct(room, at, actor, "muted", event.participant, event.reason)
        if isinstance(event, ParticipantUnmuted):
            return ModerationAct(room, at, actor, "unmuted", event.participant)
        if isinstance(event, ParticipantRemoved):
            return ModerationAct(room, at, actor, "removed", event.participant, event.reason)
        if isinstance(event, PostHidden):
            return ModerationAct(room, at, actor, "post_hidden", event.node_id, event.reason)
        if isinstance(event, PostUnhidden):
            return ModerationAct(room, at, actor, "post_unhidden", event.node_id, event.reason)
        if isinstance(event, FacilitatorNoteSent):
            to = ", ".join(event.facilitators)
            return ModerationAct(room, at, actor, "note_sent", to, event.text, private=True)
        if isinstance(event, NodesMerged):
            target = f"{event.duplicate_id} → {event.into_id}"
            return ModerationAct(room, at, actor, "posts_merged", target)
        if isinstance(event, RoomLocked | RoomUnlocked | RoomPaused | RoomResumed):
            return ModerationAct(room, at, actor, event.name)
        if isinstance(event, TurnEnded) and event.reason == "revoked":
            return ModerationAct(room, at, actor, "floor_revoked", event.speaker, event.note)
        if (
            isinstance(event, HandLowered)
            and event.reason == "removed"
            and actor != event.participant
        ):
            return ModerationAct(room, at, actor, "removed_from_queue", event.participant)
        return None


def records_of(document: Any) -> tuple[list[dict[str, Any]], list[Mapping[str, Any]], list[str]]:
    """The export's records, the event body of each, and the chain's problems; raises
    `NotAnExport` for anything that is not an export."""
    found = verify_export(document)
    records: list[dict[str, Any]] = document["records"]
    export_format = document.get("format", FIRST_EXPORT_FORMAT)
    bodies: list[Mapping[str, Any]] = []
    # An intact export's `event` says exactly what its hashed `body` says (verify_export checked
    # it): reading it saves parsing every body again. A broken one is read from its bodies.
    parsed = export_format == FIRST_EXPORT_FORMAT or not found.problems
    for record in records:
        try:
            body = record["event"] if parsed else json.loads(record["body"])
        except (KeyError, TypeError, ValueError):
            raise NotAnExport("a record has no readable event") from None
        if not isinstance(body, dict):
            raise NotAnExport("a record's event is not an object")
        bodies.append(body)
    return records, bodies, found.problems


def in_scope(room: Room, scope: Scope) -> bool:
    if scope.kind == "room":
        return room.id == scope.id
    if scope.kind == "round":
        return room.round_id == scope.id
    return True


def build_report(document: Any, scope: Scope, *, public: bool = False) -> Report:
    """The report of one scope of an export. Raises `NotAnExport` or `ScopeNotFound`."""
    records, bodies, problems = records_of(document)
    gatherer = Gatherer()
    times = [body["at_ms"] for body in bodies if isinstance(body.get("at_ms"), int)]
    start, end = (min(times), max(times)) if times else (0, 0)
    step = max(1, (end - start) // FAIRNESS_SAMPLES)
    samples: dict[str, list[FairnessPoint]] = {}
    next_sample = start + step
    for body in bodies:
        at = body.get("at_ms")
        while isinstance(at, int) and at > next_sample and next_sample <= end:
            _sample(gatherer, scope, next_sample, samples)
            next_sample += step
        gatherer.read(body)
    state = gatherer.state
    rooms = [room for room in state.rooms.values() if in_scope(room, scope)]
    if scope.kind != "assembly" and not rooms:
        raise ScopeNotFound(f"no {scope.kind} {scope.id!r} in this record")
    _sample(gatherer, scope, end, samples)
    reports = [_room_report(gatherer, room, end, samples.get(room.id, [])) for room in rooms]
    reports = [r for r in reports if r.id != PLENARY_ROOM or _has_content(r)] or reports
    heads: dict[str, StreamHead] = {}
    for record, body in zip(records, bodies, strict=True):
        stream = body.get("room")
        if isinstance(stream, str) and isinstance(body.get("seq"), int):
            heads[stream] = StreamHead(stream, body["seq"], str(record.get("hash", "")))
    # The whole assembly's report gives every stream's head, so that all of it can be checked.
    wanted = (
        set(heads)
        if scope.kind == "assembly"
        else {r.id for r in reports} | ({ASSEMBLY_STREAM} if scope.kind == "round" else set())
    )
    combined = _combined(state, reports, end)
    rounds_rooms = {r.id for r in reports}
    announcements = [] if scope.kind == "room" else list(_announcements(bodies))
    return Report(
        assembly=str(document.get("assembly", "")),
        title=state.title,
        pseudonymous=state.pseudonymous,
        scope=scope,
        public=public,
        state=state,
        rooms=reports,
        heads=[heads[s] for s in sorted(heads) if s in wanted],
        events=len(records),
        problems=problems,
        announcements=announcements,
        strata=strata(state, combined),
        over_time=_mean_over_time([samples.get(room, []) for room in rounds_rooms]),
        unknown=dict(sorted(gatherer.unknown.items())),
        carried=[item for item in gatherer.carried if _carried_in_scope(item, state, scope)],
        first_at_ms=start if times else None,
        last_at_ms=end if times else None,
    )


def _has_content(room: RoomReport) -> bool:
    """Whether the plenary saw more than the question a round started from."""
    posts = [node for node in room.nodes.values() if node.kind != "question"]
    return bool(room.turns or posts or room.polls or room.statements or room.moderation)


def _sample(
    gatherer: Gatherer, scope: Scope, at_ms: int, samples: dict[str, list[FairnessPoint]]
) -> None:
    state = gatherer.state
    for room in state.rooms.values():
        if not in_scope(room, scope) or room.id not in gatherer.first_at:
            continue
        figures = room_fairness(state, room.id, at_ms)
        samples.setdefault(room.id, []).append(
            FairnessPoint(at_ms, figures.gini, figures.share_spoken)
        )


def _room_report(
    gatherer: Gatherer, room: Room, end_ms: int, over_time: list[FairnessPoint]
) -> RoomReport:
    state = gatherer.state
    figures = room_fairness(state, room.id, gatherer.last_at.get(room.id, end_ms))
    mine = room.id
    rows = gatherer.rows(mine)
    return RoomReport(
        id=room.id,
        name=room.name or room.id,
        round_id=room.round_id,
        opened_at_ms=gatherer.first_at.get(mine),
        last_at_ms=gatherer.last_at.get(mine),
        jurors=sorted(room.jurors | {s.participant for s in figures.speakers}),
        facilitators=sorted(room.facilitators),
        fairness=figures,
        strata=strata(state, figures),
        over_time=over_time,
        nodes=dict(room.nodes),
        polls=list(room.polls.values()),
        turns=rows.turns,
        statements=rows.statements,
        endorsements=rows.endorsements,
        votes=rows.votes,
        moderation=rows.moderation,
    )


def _combined(state: Assembly, rooms: list[RoomReport], end_ms: int) -> RoomFairness:
    """The speakers of every room in scope as one set (a juror of two rooms counts twice)."""
    speakers = tuple(s for room in rooms for s in room.fairness.speakers)
    not_spoken = tuple(p for room in rooms for p in room.fairness.not_spoken)
    share = (len(speakers) - len(not_spoken)) / len(speakers) if speakers else 0.0
    return RoomFairness("", speakers, 0.0, 0.0, share, not_spoken)


def _mean_over_time(series: list[list[FairnessPoint]]) -> list[FairnessPoint]:
    """Each sample time's mean over the rooms that had one."""
    by_time: dict[int, list[FairnessPoint]] = {}
    for points in series:
        for point in points:
            by_time.setdefault(point.at_ms, []).append(point)
    return [
        FairnessPoint(
            at,
            sum(p.gini for p in points) / len(points),
            sum(p.share_spoken for p in points) / len(points),
        )
        for at, points in sorted(by_time.items())
    ]


def _announcements(bodies: list[Mapping[str, Any]]) -> list[tuple[int, str]]:
    kind = AnnouncementBroadcast.name
    return [(b["at_ms"], str(b.get("text", ""))) for b in bodies if b.get("type") == kind]


def _carried_in_scope(item: CarriedItem, state: Assembly, scope: Scope) -> bool:
    room = state.rooms.get(item.room)
    return room is None or in_scope(room, scope) or scope.kind == "assembly"


# The report's own readers of other modules' events register themselves on import.
from server.reports import carried as _carried  # noqa: E402, F401
