"""The browser's client state mirrors the core, event by event (the verify_action pattern).

A deliberation runs through the real core (turns with replies, auto mode and equity, pause and
resume, mute and removal, the agenda, the argument map, open and secret polls, a breakout round
with moves, removals and the recall). Viewers watch it: the lead (from the start, and once more
from the middle of a paused turn), the facilitators, every juror, and observers of the plenary
and of a breakout room. For each, the recording keeps what the server would send (the snapshots
of the streams it follows when it connects, each event as its audience receives it, `moved` with
fresh snapshots when its streams change) and, after every command, what fresh snapshots would
show and the core's fairness figures at that time and later.

tests/web/replay.mjs feeds the same steps through web/static/js/state.js and fairness.js, and
at every checkpoint the client state must equal the snapshots and its fairness figures
`metrics.room_fairness` (for an observer of a pseudonymous assembly, under pseudonyms).

Snapshots carry no whole roster: each room view names its people, which the client keeps in
one directory. When it shows someone it cannot name (`missingPeople`: people back from a room
it did not follow), it asks `roster`, as the page does; the replay answers from what the
server's `roster` would say. At every checkpoint the client must name everyone the server's
room views name, as the server names them for its audience.
"""

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from facilitation import (
    ASSEMBLY_STREAM,
    PLENARY_ROOM,
    SYSTEM_ACTOR,
    Command,
    Event,
    Role,
    decide,
    evolve,
)
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.metrics import room_fairness
from facilitation.state import Room
from server.audience import Audience, payloads, pseudonymise, pseudonyms
from server.connections import Connection, TokenBucket
from server.fanout import MEMBERSHIP_EVENTS, stream_view
from server.views import roster_view
from tests.core.builders import World, only
from tests.web.node import HERE, run_node

Json = Any
P = PLENARY_ROOM
MINUTE = 60_000
# Fairness is also compared a little later and long after each checkpoint: the live turn grows,
# then its deadline caps it, and waiting hands wait longer.
FAIRNESS_AFTER_MS = (0, 7_000, 400_000)
JURORS = tuple(f"j{n}" for n in range(1, 9))
# Everyone whose screen is checked, with the room an observer watches.
VIEWERS: tuple[tuple[str, str | None], ...] = (
    ("lead", None),
    ("f1", None),
    ("f2", None),
    *((juror, None) for juror in JURORS),
    ("obs", P),
)


def as_json(value: Json) -> Json:
    """What the browser receives: tuples become lists, keys become strings."""
    return json.loads(json.dumps(value))


@dataclass
class Checkpoint:
    label: str
    snapshots: dict[str, Json]
    fairness: dict[str, list[Json]]


@dataclass
class Viewer:
    name: str
    connection: Connection
    snapshots: dict[str, Json] = field(default_factory=dict)
    steps: list[Json] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # What `roster` with no room answers this viewer at the end (names never change, and the
    # roster only grows): the replay answers the client's `roster` asks from it.
    directory: dict[str, Json] = field(default_factory=dict)

    @property
    def audience(self) -> Audience:
        return self.connection.audience

    def fixture(self) -> Json:
        return {
            "name": self.name,
            "audience": self.audience.value,
            "snapshots": self.snapshots,
            "steps": self.steps,
            "directory": self.directory,
        }


class Recording(World):
    """A world whose commands are delivered to viewers as `server.runtime` and `server.fanout`
    deliver them: each event applied and redacted one at a time, then moves followed."""

    def __init__(self, *, pseudonymous: bool) -> None:
        super().__init__()
        self.viewers: list[Viewer] = []
        self.run(
            SYSTEM_ACTOR, cmd.CreateAssembly(title="Jury on housing", pseudonymous=pseudonymous)
        )

    # --- What the server would send ---------------------------------------------------------

    def connect(self, name: str, participant: str | None, watch: str | None = None) -> None:
        """A viewer connects now: `sync` gives it snapshots of the streams it follows."""
        role = self.state.participants[participant].role if participant else Role.OBSERVER
        connection = Connection(
            sid=name,
            assembly_id="jury",
            participant=participant,
            role=role,
            watch=watch,
            bucket=TokenBucket(1, 1),
        )
        connection.streams = connection.desired_streams(self.state)
        viewer = Viewer(name, connection)
        viewer.snapshots = {s: self.view(s, viewer) for s in sorted(connection.streams)}
        self.viewers.append(viewer)

    def view(self, stream: str, viewer: Viewer) -> Json:
        return as_json(stream_view(self.state, "jury", stream, viewer.audience, self.now_ms))

    def run(self, actor: str, command: Command) -> list[Event]:
        events = decide(self.state, command, actor, self.now_ms, ballot_key=self.ballot_key)
        for event in events:
            evolve(self.state, event)
            delivered = payloads(self.state, event)
            for viewer in self.viewers:
                if event.room in viewer.connection.streams:
                    viewer.steps.append({"event": as_json(delivered[viewer.audience])})
        self.log.extend(events)
        if any(isinstance(event, MEMBERSHIP_EVENTS) for event in events):
            self.follow_moves()
        self.checkpoint(f"#{len(self.log)} {actor}: {command.name}")
        return events

    def follow_moves(self) -> None:
        for viewer in self.viewers:
            desired = viewer.connection.desired_streams(self.state)
            if desired == viewer.connection.streams:
                continue
            new = desired - viewer.connection.streams
            viewer.connection.streams = desired
            you = as_json(viewer.connection.describe(self.state))
            snapshots = {stream: self.view(stream, viewer) for stream in sorted(new)}
            viewer.steps.append({"moved": {"you": you, "snapshots": snapshots}})

    def finish(self) -> None:
        """Give each viewer the directory its `roster` asks are answered from."""
        for viewer in self.viewers:
            viewer.directory = as_json(roster_view(self.state, None, viewer.audience))["people"]

    def checkpoint(self, label: str) -> None:
        for viewer in self.viewers:
            times = [self.now_ms + later for later in FAIRNESS_AFTER_MS]
            viewer.steps.append({"check": {"label": label, "at": times}})
            streams = sorted(viewer.connection.streams)
            viewer.checkpoints.append(
                Checkpoint(
                    label=label,
                    snapshots={stream: self.view(stream, viewer) for stream in streams},
                    fairness={
                        room: [self.fairness(room, at, viewer) for at in times]
                        for room in streams
                        if room != ASSEMBLY_STREAM
                    },
                )
            )

    def fairness(self, room: str, now_ms: int, viewer: Viewer) -> Json:
        figures = as_json(asdict(room_fairness(self.state, room, now_ms)))
        names = pseudonyms(self.state) if viewer.audience is Audience.OBSERVER else {}
        if not names:
            return figures
        # An observer knows jurors by pseudonym only, and sorts them by it.
        shown: Json = pseudonymise(figures, names)
        speakers = sorted(shown["speakers"], key=lambda s: s["participant"])
        shown["speakers"] = speakers
        shown["not_spoken"] = [s["participant"] for s in speakers if s["turns"] == 0]
        return as_json(shown)

    def shown(self, viewer: Viewer, participant: str) -> str:
        if viewer.audience is not Audience.OBSERVER:
            return participant
        return pseudonyms(self.state).get(participant, participant)

    # --- Reading the state, to script the scenario ------------------------------------------

    def room(self, room_id: str) -> Room:
        return self.state.rooms[room_id]

    def speaker(self, room_id: str) -> str:
        floor = self.room(room_id).floor
        assert floor is not None, f"nobody has the floor in {room_id}"
        return floor.speaker

    def hand(self, juror: str, room_id: str) -> None:
        """`juror` raises a hand unless it is up already."""
        if not self.room(room_id).queued(juror):
            self.run(juror, cmd.RaiseHand(room=room_id))

    def juror(self, name: str, *, attributes: dict[str, str]) -> None:
        self.run(
            SYSTEM_ACTOR,
            cmd.AddParticipant(
                participant=name, display_name=name.title(), role=Role.JUROR, attributes=attributes
            ),
        )


def heard(s: Recording, room_id: str, voiced_ms: dict[str, int]) -> cmd.RecordVoiceActivity:
    """What the media server heard in the room over the ten seconds ending now."""
    return cmd.RecordVoiceActivity(
        room=room_id, from_ms=s.now_ms - 10_000, to_ms=s.now_ms, voiced_ms=voiced_ms
    )


AREAS = ("north", "south")
AGES = ("18-29", "30-44", "45-64", "65+")


def attributes(index: int) -> dict[str, str]:
    return {"area": AREAS[index % 2], "age": AGES[index % 4]}


def deliberate(*, pseudonymous: bool) -> Recording:
    """The scenario; every command is checked for every viewer after it runs."""
    s = Recording(pseudonymous=pseudonymous)
    s.add("lead", Role.LEAD)
    s.add("f1", Role.FACILITATOR)
    s.add("f2", Role.FACILITATOR)
    for index, juror in enumerate(JURORS[:6]):
        s.juror(juror, attributes=attributes(index))
    s.add("obs", Role.OBSERVER)
    for name, watch in VIEWERS:
        if name in s.state.participants:
            s.connect(name, name, watch)

    # Late arrivals: jurors (balancing attributes are for moderators) and an observer (no one's).
    s.juror("j7", attributes=attributes(6))
    s.connect("j7", "j7")
    s.juror("j8", attributes=attributes(7))
    s.connect("j8", "j8")
    s.add("press", Role.OBSERVER)
    s.run("lead", cmd.Broadcast(text="Welcome to the jury."))

    # A full turn cycle, first come first served: the floor, replies, the clock.
    for juror in ("j1", "j2", "j3"):
        s.run(juror, cmd.RaiseHand(room=P))
    s.run("f1", cmd.GrantFloor(room=P))
    s.run("j2", cmd.RequestReply(room=P))
    s.run("j4", cmd.RequestReply(room=P))
    s.run("j1", cmd.Speak(room=P, text="Rents have doubled in ten years."))
    s.tick(30_000)
    s.run("f1", cmd.Interject(room=P, text="Half a minute more, then the replies."))
    s.run("f1", cmd.ExtendTurn(room=P, by_ms=30_000))
    s.tick(20_000)
    s.run("j1", cmd.YieldFloor(room=P))
    s.run("f1", cmd.GrantFloor(room=P))  # j2 replies
    s.tick(10_000)
    s.run("f1", cmd.NextSpeaker(room=P))  # j4 replies
    reply_turn = s.room(P).floor
    assert reply_turn is not None
    s.tick(45_000)
    s.run(SYSTEM_ACTOR, cmd.ExpireTurn(room=P, turn_id=reply_turn.id))
    s.run("f1", cmd.NextSpeaker(room=P))  # j2's own turn: the reply lane starts afresh
    s.run("j3", cmd.RequestReply(room=P))
    s.tick(12_000)
    s.run("f1", cmd.RevokeFloor(room=P, reason="Off topic"))

    # The queue by hand.
    for juror in ("j4", "j5", "j6"):
        s.tick(1_000)
        s.run(juror, cmd.RaiseHand(room=P))
    s.run("f1", cmd.ReorderQueue(room=P, order=("j5", "j3", "j6", "j4")))
    s.run("f1", cmd.MoveToTop(room=P, participant="j4"))
    s.run("f1", cmd.RemoveFromQueue(room=P, participant="j6"))
    s.run("j5", cmd.LowerHand(room=P))
    s.run("j3", cmd.WithdrawReply(room=P))

    # Equity: the switch re-sorts the queue, new hands go by speaking time.
    s.run("f1", cmd.SetRoomRules(room=P, policy="equity", turn_limit_ms=MINUTE))
    for juror in ("j1", "j5", "j6", "j2"):
        s.tick(1_000)
        s.run(juror, cmd.RaiseHand(room=P))
    s.run("f1", cmd.SetRoomRules(room=P, auto=True))  # the floor goes at once to the first in line
    s.tick(15_000)
    s.run("f1", cmd.PauseRoom(room=P))
    s.tick(10_000)
    s.run("f1", cmd.ResumeRoom(room=P))
    s.connect("lead, late", "lead")  # a snapshot of a turn that was paused
    s.tick(5_000)
    s.run("f1", cmd.ExtendTurn(room=P, by_ms=20_000))
    s.run(s.speaker(P), cmd.YieldFloor(room=P))  # auto: the next in line speaks
    s.tick(8_000)
    s.run("f1", cmd.PauseRoom(room=P))
    s.run("j7", cmd.RaiseHand(room=P))
    s.run(s.speaker(P), cmd.YieldFloor(room=P))  # paused: nobody gets the floor
    s.tick(4_000)
    s.run("f1", cmd.ResumeRoom(room=P))  # now the next one does

    # Moderation.
    s.tick(3_000)
    s.run("f1", cmd.MuteParticipant(room=P, participant=s.speaker(P), reason="Shouting"))
    s.run("f1", cmd.UnmuteParticipant(room=P, participant=s.room(P).muted.copy().pop()))
    s.run("f1", cmd.LockRoom(room=P))
    s.run("f1", cmd.UnlockRoom(room=P))
    s.run("f1", cmd.SetRoomRules(room=P, auto=False))
    s.hand("j6", P)
    s.run("f1", cmd.RemoveParticipant(room=P, participant="j6", reason="Abusive to others"))
    if s.room(P).floor is not None:
        s.run("f1", cmd.RevokeFloor(room=P))

    # Voice: an open floor, a statement typed without a turn, a turn held in silence, and what
    # the media server heard (a facilitator too), kept apart from floor time.
    s.run("f1", cmd.SetRoomRules(room=P, open_floor=True))
    s.run("j3", cmd.Speak(room=P, text="May I add something without a turn?"))
    s.run("f1", cmd.GrantFloor(room=P, participant="j2"))
    s.tick(10_000)
    s.run(SYSTEM_ACTOR, heard(s, P, {"j3": 6_000, "j7": 2_500, "f1": 1_000, "j2": 0}))
    s.tick(10_000)
    s.run("f1", cmd.SetRoomRules(room=P, open_floor=False))
    s.run("j2", cmd.YieldFloor(room=P))
    s.run(SYSTEM_ACTOR, heard(s, P, {"j7": 700}))

    # The agenda and the argument map.
    question = only(s.run("f1", cmd.PoseQuestion(room=P, text="Cap rents?")), ev.QuestionPosed)
    s.run(
        "f1",
        cmd.AddAgendaItem(
            room=P, title="Caps", duration_ms=20 * MINUTE, question_id=question.node_id
        ),
    )
    second = only(
        s.run("f1", cmd.AddAgendaItem(room=P, title="Wrap-up", duration_ms=MINUTE)),
        ev.AgendaItemAdded,
    )
    s.run("f1", cmd.AdvanceAgenda(room=P))
    s.run("f1", cmd.ExtendAgendaItem(room=P, by_ms=5 * MINUTE))
    s.run("f1", cmd.PauseRoom(room=P))
    s.tick(6_000)
    s.run("f1", cmd.ResumeRoom(room=P))
    positions = [
        only(
            s.run(juror, cmd.PostPosition(room=P, question_id=question.node_id, text=text)),
            ev.PositionPosted,
        )
        for juror, text in (
            ("j1", "Cap at 3%."),
            ("j2", "Cap at three percent."),
            ("j3", "A 3% cap."),
        )
    ]
    first, dup, dup_of_dup = (position.node_id for position in positions)
    pro = only(
        s.run(
            "j3", cmd.PostArgument(room=P, position_id=first, stance="for", text="Families stay.")
        ),
        ev.ArgumentPosted,
    )
    con = only(
        s.run(
            "j4",
            cmd.PostArgument(room=P, position_id=first, stance="against", text="Less building."),
        ),
        ev.ArgumentPosted,
    )
    reply = only(
        s.run("j5", cmd.PostReply(room=P, parent_id=pro.node_id, text="If enforced.")),
        ev.ReplyPosted,
    )
    s.run("f1", cmd.PostReply(room=P, parent_id=reply.node_id, text="Enforcement is item 2."))
    s.run("f1", cmd.MergeNodes(room=P, duplicate_id=dup_of_dup, into_id=dup))
    s.run("f1", cmd.MergeNodes(room=P, duplicate_id=dup, into_id=first))  # the chain collapses
    s.run("j1", cmd.Endorse(room=P, node_id=pro.node_id))
    s.run("j2", cmd.Endorse(room=P, node_id=pro.node_id))
    s.run("j2", cmd.WithdrawEndorsement(room=P, node_id=pro.node_id))
    s.run("f1", cmd.HidePost(room=P, node_id=reply.node_id, reason="Personal attack"))
    s.run("f1", cmd.UnhidePost(room=P, node_id=reply.node_id, reason="Misread; restored"))
    s.run("f1", cmd.HidePost(room=P, node_id=con.node_id, reason="Off topic"))  # stays hidden
    s.hand("j1", P)
    s.run("f1", cmd.GrantFloor(room=P, participant="j1"))
    s.run("j1", cmd.LinkTurn(room=P, node_id=first))
    s.run("f1", cmd.LinkTurn(room=P, node_id=pro.node_id))
    s.tick(20_000)
    s.run("j1", cmd.YieldFloor(room=P))
    s.run("f1", cmd.AdvanceAgenda(room=P))
    s.tick(2 * MINUTE)
    s.run(SYSTEM_ACTOR, cmd.ExpireAgendaItem(room=P, item_id=second.item_id))

    # Polls: an open ballot, a secret one, a scale left open.
    ballot = only(
        s.run("f1", cmd.OpenPoll(room=P, question="Cap?", kind="single", options=("Yes", "No"))),
        ev.PollOpened,
    )
    s.run("j1", cmd.Vote(room=P, poll_id=ballot.poll_id, choices=(0,)))
    s.run("j2", cmd.Vote(room=P, poll_id=ballot.poll_id, choices=(1,)))
    s.run("j1", cmd.Vote(room=P, poll_id=ballot.poll_id, choices=(1,)))  # changed their mind
    s.run("f1", cmd.ClosePoll(room=P, poll_id=ballot.poll_id))
    secret = only(
        s.run(
            "f1",
            cmd.OpenPoll(
                room=P,
                question="Which?",
                kind="multiple",
                options=("Cap", "Build", "Tax"),
                secret=True,
            ),
        ),
        ev.PollOpened,
    )
    s.run("j1", cmd.Vote(room=P, poll_id=secret.poll_id, choices=(0, 2)))
    s.run("j2", cmd.Vote(room=P, poll_id=secret.poll_id, choices=(1,)))
    s.run("j2", cmd.Vote(room=P, poll_id=secret.poll_id, choices=(0,)))
    s.run("f1", cmd.ClosePoll(room=P, poll_id=secret.poll_id))
    scale = only(
        s.run("f1", cmd.OpenPoll(room=P, question="Fair so far?", kind="scale")), ev.PollOpened
    )
    s.run("j4", cmd.Vote(room=P, poll_id=scale.poll_id, choices=(3,)))

    # A breakout round, started with a speaker, a hand and a reply pending in the plenary.
    for juror in ("j3", "j4"):
        s.hand(juror, P)
    s.run("f1", cmd.GrantFloor(room=P, participant="j3"))
    s.run("j5", cmd.RequestReply(room=P))
    s.run("lead", cmd.OpenRound(room_count=2))
    proposal = s.state.rounds[-1]
    one, two = (room.room_id for room in proposal.rooms)
    s.run("lead", cmd.AdjustAllocation(participant=proposal.rooms[1].jurors[0], to_room=one))
    s.run("lead", cmd.AdjustAllocation(participant="f2", to_room=one))
    s.run("lead", cmd.AdjustAllocation(participant="f2", to_room=two))
    s.tick(5_000)
    s.run("lead", cmd.StartRound(duration_ms=30 * MINUTE))
    s.connect("obs in one", "obs", watch=one)  # keeps watching the room once it closes
    # Meets the round's jurors only when they come back: it must ask their names.
    s.connect("obs, late", "obs", watch=P)
    s.run("lead", cmd.SetRoundTimer(duration_ms=10 * MINUTE))
    for room_id in (one, two):
        runner = sorted(s.room(room_id).facilitators)[0]
        s.run(runner, cmd.SetRoomRules(room=room_id, auto=True))
        for juror in sorted(s.room(room_id).jurors):
            s.tick(1_000)
            s.run(juror, cmd.RaiseHand(room=room_id))
        s.tick(3 * MINUTE)
        s.run(s.speaker(room_id), cmd.YieldFloor(room=room_id))
        s.tick(20_000)
    mover = s.speaker(one)  # holds the floor in room one: leaving hands it on
    s.run("lead", cmd.MoveParticipant(participant=mover, to_room=two))
    s.tick(2_000)
    # Heard before the move, recorded after it: still room one's.
    one_runner = sorted(s.room(one).facilitators)[0]
    s.run(SYSTEM_ACTOR, heard(s, one, {mover: 7_000, one_runner: 1_500}))
    s.run(
        "lead", cmd.MoveParticipant(participant="j6", to_room=one)
    )  # removed before: from nowhere
    gone = sorted(j for j in s.room(two).jurors if j != mover and j != s.speaker(two))[0]
    s.run(
        sorted(s.room(two).facilitators)[0],
        cmd.RemoveParticipant(room=two, participant=gone, reason="Left"),
    )
    runner = sorted(s.room(two).facilitators)[0]
    s.run("lead", cmd.MoveParticipant(participant=runner, to_room=one))  # a facilitator moves too
    # A latecomer waits in the plenary and is removed there, unseen from the breakout rooms.
    s.juror("j9", attributes=attributes(8))
    s.run("lead", cmd.RemoveParticipant(room=P, participant="j9", reason="Not on the jury list"))
    s.run("lead", cmd.Broadcast(text="Five minutes left."))
    s.run("lead", cmd.SetFairnessAlarms(unspoken_after_ms=10 * MINUTE, max_wait_ms=MINUTE))
    s.run("lead", cmd.SendFacilitatorNote(room=one, text="Who has not spoken yet?"))
    # Room one marks what it carries back and a juror objects; room two marks nothing.
    carried = []
    for room_id in (one, two):
        here = s.room(room_id)
        question_id = next(n.id for n in here.nodes.values() if n.kind == "question")
        author = sorted(here.jurors)[0]
        position = only(
            s.run(author, cmd.PostPosition(room=room_id, question_id=question_id, text="Cap 3%")),
            ev.PositionPosted,
        )
        carried.append(f"{room_id}/{position.node_id}")
        s.run(
            sorted(here.jurors)[-1],
            cmd.PostArgument(
                room=room_id, position_id=position.node_id, stance="for", text="Families stay."
            ),
        )
    s.run("lead", cmd.ProposeCarry(room=one, positions=(carried[0].split("/")[1],)))
    s.run(sorted(s.room(one).jurors)[-1], cmd.ObjectToCarry(room=one, reason="Too little"))
    s.tick(11 * MINUTE)
    s.run(SYSTEM_ACTOR, cmd.ExpireRoundTimer(round_id=proposal.id))
    s.run("lead", cmd.CloseRound(after_ms=2 * MINUTE))  # announced ahead...
    s.run("lead", cmd.CancelRecall())  # ...called off...
    s.run("lead", cmd.CloseRound(after_ms=MINUTE))  # ...and announced again
    s.tick(MINUTE)
    # The speakers in both rooms lose the floor when the recall comes.
    s.run(SYSTEM_ACTOR, cmd.RecallRound(round_id=proposal.id))
    # The server proposes the two rooms' positions as one, twice; the lead decides each.
    pair = cmd.MergeCandidate(first=carried[0], second=carried[1], similarity=0.9, shared=("cap",))
    merges = s.run(SYSTEM_ACTOR, cmd.ProposeMerges(round_id=proposal.id, candidates=(pair, pair)))
    s.run("lead", cmd.RejectMerge(proposal_id=only(merges[1:], ev.MergeProposed).proposal_id))
    s.run("lead", cmd.ConfirmMerge(proposal_id=only(merges[:1], ev.MergeProposed).proposal_id))
    # The last seconds of room one, recorded once it has closed: only its observer follows it.
    s.run(SYSTEM_ACTOR, heard(s, one, {sorted(s.room(one).jurors)[0]: 4_000}))
    # The juror removed in room two comes back: a snapshot of the plenary tells them of j9.
    s.run("lead", cmd.MoveParticipant(participant=gone, to_room=P))

    # Back in the plenary: equity now counts the time spoken in the breakout rooms.
    for juror in sorted(s.room(P).jurors):
        s.tick(1_000)
        s.hand(juror, P)
    s.run("lead", cmd.OpenRound(room_size=3))
    s.run("lead", cmd.CloseRound())  # withdrawn before it started
    s.run("f1", cmd.GrantFloor(room=P))
    s.tick(9_000)
    s.run("f1", cmd.PauseRoom(room=P))
    s.tick(2_000)
    s.checkpoint("the end")

    # A round from the plenary's map: each room takes its positions, and what a room carries
    # back joins the map entry it came from.
    s.run("f1", cmd.ResumeRoom(room=P))
    s.run("lead", cmd.OpenRound(room_count=2, seed=3))
    s.run("lead", cmd.StartRound(from_map=True))
    again = s.state.rounds[-1]
    taken = next(n for n in s.room(again.rooms[0].room_id).nodes.values() if n.origin is not None)
    s.run("lead", cmd.ProposeCarry(room=again.rooms[0].room_id, positions=(taken.id,)))
    s.tick(MINUTE)
    s.run("lead", cmd.CloseRound())
    s.checkpoint("back from the map")
    s.finish()
    return s


# --- Replaying in Node.js and comparing -------------------------------------------------------


@dataclass
class Replayed:
    recording: Recording
    results: dict[str, list[Json]]


def replay(viewers: list[Viewer], directory: Path) -> dict[str, list[Json]]:
    """Each viewer's checkpoints as tests/web/replay.mjs saw them, by viewer."""
    fixture = directory / "fixture.json"
    result = directory / "result.json"
    fixture.write_text(json.dumps({"viewers": [viewer.fixture() for viewer in viewers]}))
    done = run_node(HERE / "replay.mjs", fixture, result)
    assert done.returncode == 0, f"replay.mjs failed:\n{done.stdout}\n{done.stderr}"
    replayed = json.loads(result.read_text())
    return {viewer["name"]: viewer["checks"] for viewer in replayed["viewers"]}


RECORDINGS: dict[bool, Recording] = {}


def recording(pseudonymous: bool) -> Recording:
    """The scenario takes a moment: recorded once per kind of assembly."""
    if pseudonymous not in RECORDINGS:
        RECORDINGS[pseudonymous] = deliberate(pseudonymous=pseudonymous)
    return RECORDINGS[pseudonymous]


@pytest.fixture(scope="module", params=[True, False], ids=["pseudonymous", "named"])
def replayed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    recorded = recording(request.param)
    return Replayed(recorded, replay(recorded.viewers, tmp_path_factory.mktemp("replay")))


JsonPath = tuple[str | int, ...]


def differences(
    actual: Json, expected: Json, path: JsonPath = ()
) -> Iterator[tuple[JsonPath, Json, Json]]:
    """Every place where two JSON values differ; floats within a rounding error agree."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not (
            isinstance(actual, int | float)
            and isinstance(expected, int | float)
            and math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
        ):
            yield path, actual, expected
    elif isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual or key not in expected:
                yield (*path, key), actual.get(key, "<missing>"), expected.get(key, "<missing>")
            else:
                yield from differences(actual[key], expected[key], (*path, key))
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            yield from differences(a, e, (*path, index))
    elif actual != expected or type(actual) is not type(expected):
        yield path, actual, expected


@dataclass(frozen=True)
class Mismatch:
    # The stream's view (its stream first in `path`), or "fairness" (the room first).
    what: str
    path: JsonPath
    client: Json
    core: Json

    def __str__(self) -> str:
        where = ".".join(map(str, self.path))
        return f"{self.what} {where}: client {self.client!r}, core {self.core!r}"


def mismatches(check: Json, checkpoint: Checkpoint) -> list[Mismatch]:
    """What the client got wrong at one checkpoint: a view, a name, or a fairness figure."""
    client = check["client"]
    actual = {ASSEMBLY_STREAM: client["assembly"], **client["rooms"]}
    # A room view's people go to the client's directory: the views kept are the rest.
    expected = {
        stream: {k: v for k, v in view.items() if k != "people"}
        for stream, view in checkpoint.snapshots.items()
    }
    found = [
        Mismatch("view", path, got, wanted) for path, got, wanted in differences(actual, expected)
    ]
    directory = client.get("people", {})
    for stream, view in checkpoint.snapshots.items():
        for who, person in view.get("people", {}).items():
            if directory.get(who) != person:
                found.append(Mismatch("people", (stream, who), directory.get(who), person))
    for path, got, wanted in differences(check["fairness"], checkpoint.fairness):
        found.append(Mismatch("fairness", path, got, wanted))
    return found


@pytest.mark.parametrize(
    "name", ["lead", "lead, late", "f1", "f2", *JURORS, "obs", "obs in one", "obs, late"]
)
def test_the_client_state_mirrors_the_core(replayed: Replayed, name: str) -> None:
    viewer = next(v for v in replayed.recording.viewers if v.name == name)
    checks = replayed.results[name]
    assert [c["label"] for c in checks] == [c.label for c in viewer.checkpoints]
    assert checks, "the viewer saw nothing"
    for check, checkpoint in zip(checks, viewer.checkpoints, strict=True):
        found = mismatches(check, checkpoint)
        assert not found, f"{name} after {checkpoint.label}:\n" + "\n".join(map(str, found[:20]))
    assert checks[-1]["client"]["audience"] == viewer.audience.value


def test_the_scenario_covers_every_event_and_both_streams_changes(replayed: Replayed) -> None:
    recorded = replayed.recording
    assert {type(event).name for event in recorded.log} == set(Event.registry)
    moved = [step for v in recorded.viewers for step in v.steps if "moved" in step]
    assert any(step["moved"]["snapshots"] for step in moved)
    assert any(not step["moved"]["snapshots"] for step in moved)  # a stream dropped, none added


def test_the_client_asks_the_roster_only_for_people_it_cannot_name(replayed: Replayed) -> None:
    """People back from breakout rooms a viewer did not follow come with ids only: the client
    asks `roster` for them, once, for a room it follows (everyone's: moderators only)."""
    viewers = {viewer.name: viewer for viewer in replayed.recording.viewers}
    asked = {name: checks[-1]["asked"] for name, checks in replayed.results.items()}
    # An observer of the plenary who came during the round meets the jurors coming back from
    # it; the lead follows every room, so it met everyone in their rooms' snapshots.
    assert asked["obs, late"], asked
    assert not asked["lead"] and not asked["obs"], asked
    for name, asks in asked.items():
        met: set[str] = set()
        for ask in asks:
            assert ask["room"] is not None or viewers[name].audience is Audience.MODERATOR
            assert ask["room"] is None or ask["room"] in ask["followed"], (name, ask)
            assert not met & set(ask["ids"]), f"{name} asked twice for {met & set(ask['ids'])}"
            met |= set(ask["ids"])
        assert met <= set(viewers[name].directory), (name, met)


# --- Each thing the server adds for the client is needed -------------------------------------


def without_event_field(name: str) -> Callable[[Viewer], Viewer]:
    """What the viewer would get if the server did not add `name` to its events."""

    def strip(viewer: Viewer) -> Viewer:
        steps = [
            {"event": {k: v for k, v in step["event"].items() if k != name}}
            if "event" in step
            else step
            for step in viewer.steps
        ]
        return replace(viewer, steps=steps)

    return strip


def without_paused_time(viewer: Viewer) -> Viewer:
    """What the viewer would get if snapshots did not tell how long the turn was paused."""

    def forget(snapshots: dict[str, Json]) -> dict[str, Json]:
        return {
            stream: {**view, "floor": {**view["floor"], "paused_ms": 0}}
            if view.get("floor")
            else view
            for stream, view in snapshots.items()
        }

    steps = [
        {"moved": {**step["moved"], "snapshots": forget(step["moved"]["snapshots"])}}
        if "moved" in step
        else step
        for step in viewer.steps
    ]
    return replace(viewer, snapshots=forget(viewer.snapshots), steps=steps)


@pytest.mark.parametrize(
    ("strip", "symptom"),
    [
        # Equity in the plenary after a round counts time spoken in rooms no longer held.
        (without_event_field("spoken_ms"), ("view", P, "queue")),
        # The recall, after a removal in a breakout room the client did not follow.
        (without_event_field("returned"), ("view", P, "jurors")),
        # A snapshot taken during a turn that had been paused: its live speaking time.
        (without_paused_time, ("fairness", P)),
    ],
    ids=["spoken_ms", "returned", "paused_ms"],
)
def test_without_what_the_server_adds_the_client_goes_wrong(
    tmp_path: Path, strip: Callable[[Viewer], Viewer], symptom: tuple[str, ...]
) -> None:
    viewers = [strip(viewer) for viewer in recording(pseudonymous=False).viewers]
    results = replay(viewers, tmp_path)
    wrong = {
        (mismatch.what, *mismatch.path)[: len(symptom)]
        for viewer in viewers
        for check, checkpoint in zip(results[viewer.name], viewer.checkpoints, strict=True)
        for mismatch in mismatches(check, checkpoint)
    }
    assert symptom in wrong, wrong
