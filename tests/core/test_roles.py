"""A test of every command against every role.

Each command is tried in a state where it could succeed, by a participant of each role, by the
system actor and by an anonymous visitor (who counts as an observer). A role the command names
must never meet `forbidden`; any other role must meet exactly `forbidden` and change nothing.
"""

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pytest

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Command, ErrorCode, Event, Refusal, Role
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.registry import RULES, role_of
from tests.core.builders import World, assembly

P = PLENARY_ROOM
E = TypeVar("E", bound=Event)
ANONYMOUS = "passer-by"
DAY_MS = 24 * 3_600_000

# --- The scenes: states in which (nearly) every command could succeed ----------------------


@dataclass(frozen=True)
class Ids:
    """The ids the rich scene hands out, read from its events rather than guessed."""

    turn: str
    question: str
    position: str
    duplicate_position: str
    argument: str
    reply: str
    hidden_reply: str
    poll: str
    running_item: str


def _only(events: Sequence[Event], kind: type[E]) -> E:
    found = [event for event in events if isinstance(event, kind)]
    assert len(found) == 1, f"expected one {kind.__name__} in {events}"
    return found[0]


def _build_rich() -> tuple[World, Ids]:
    """The plenary in full swing.

    `lead`, facilitators `f1` and `f2`, jurors `j1`..`j6` and the observer `obs`. `j1` holds the
    floor, `j2` and `j3` are queued, `j4` is in the reply lane, `j5` is free and `j6` is muted.
    There is a question with two positions, an argument endorsed by `j2`, a reply and a hidden
    reply, an open poll, and an agenda of two items whose first is running.
    """
    world = assembly(jurors=6, facilitators=2)
    world.run("j2", cmd.RaiseHand(room=P))
    world.run("j3", cmd.RaiseHand(room=P))
    turn = _only(world.run("f1", cmd.GrantFloor(room=P, participant="j1")), ev.FloorGranted).turn_id
    world.run("j4", cmd.RequestReply(room=P))
    question = _only(
        world.run("f1", cmd.PoseQuestion(room=P, text="Who decides?")), ev.QuestionPosed
    )
    position = _only(
        world.run("j2", cmd.PostPosition(room=P, question_id=question.node_id, text="The jury")),
        ev.PositionPosted,
    )
    duplicate = _only(
        world.run("j3", cmd.PostPosition(room=P, question_id=question.node_id, text="The jurors")),
        ev.PositionPosted,
    )
    argument = _only(
        world.run(
            "j2",
            cmd.PostArgument(
                room=P, position_id=position.node_id, stance="for", text="They listen"
            ),
        ),
        ev.ArgumentPosted,
    )
    reply = _only(
        world.run("j3", cmd.PostReply(room=P, parent_id=argument.node_id, text="Not always")),
        ev.ReplyPosted,
    )
    hidden = _only(
        world.run("j3", cmd.PostReply(room=P, parent_id=argument.node_id, text="Rude remark")),
        ev.ReplyPosted,
    )
    world.run("f1", cmd.HidePost(room=P, node_id=hidden.node_id, reason="personal attack"))
    world.run("j3", cmd.Endorse(room=P, node_id=argument.node_id))
    poll = _only(
        world.run(
            "f1", cmd.OpenPoll(room=P, question="Continue?", kind="single", options=("Y", "N"))
        ),
        ev.PollOpened,
    )
    world.run("f1", cmd.AddAgendaItem(room=P, title="Opening", duration_ms=600_000))
    world.run("f1", cmd.AddAgendaItem(room=P, title="Evidence", duration_ms=600_000))
    item = _only(world.run("f1", cmd.AdvanceAgenda(room=P)), ev.AgendaItemStarted)
    world.run("f1", cmd.MuteParticipant(room=P, participant="j6", reason="too loud"))
    ids = Ids(
        turn=turn,
        question=question.node_id,
        position=position.node_id,
        duplicate_position=duplicate.node_id,
        argument=argument.node_id,
        reply=reply.node_id,
        hidden_reply=hidden.node_id,
        poll=poll.poll_id,
        running_item=item.item_id,
    )
    return world, ids


RICH, IDS = _build_rich()


def _locked() -> World:
    world = copy.deepcopy(RICH)
    world.run("f1", cmd.LockRoom(room=P))
    return world


def _paused() -> World:
    world = copy.deepcopy(RICH)
    world.run("f1", cmd.PauseRoom(room=P))
    return world


def _floor_free() -> World:
    world = copy.deepcopy(RICH)
    world.run("j1", cmd.YieldFloor(room=P))
    return world


def _build_proposed() -> tuple[World, ev.RoundProposed]:
    world = assembly(jurors=6, facilitators=2)
    proposal = _only(world.run("lead", cmd.OpenRound(room_count=2)), ev.RoundProposed)
    return world, proposal


PROPOSED, PROPOSAL = _build_proposed()


def _build_running() -> tuple[World, ev.RoundStarted]:
    world = copy.deepcopy(PROPOSED)
    started = _only(world.run("lead", cmd.StartRound(duration_ms=1_800_000)), ev.RoundStarted)
    return world, started


RUNNING, STARTED = _build_running()


def _recalling() -> World:
    """A running round whose recall was announced a minute ahead."""
    world = copy.deepcopy(RUNNING)
    world.run("lead", cmd.CloseRound(after_ms=60_000))
    return world


FIRST_ROOM, SECOND_ROOM = PROPOSAL.rooms[0], PROPOSAL.rooms[1]


def _build_carrying() -> tuple[World, str]:
    """A running round whose first room has a position its lead proposes to carry back."""
    world = copy.deepcopy(RUNNING)
    room = world.state.rooms[FIRST_ROOM.room_id]
    question = _only(
        world.run("lead", cmd.PoseQuestion(room=room.id, text="What do we carry?")),
        ev.QuestionPosed,
    )
    position = _only(
        world.run(
            sorted(room.jurors)[0],
            cmd.PostPosition(room=room.id, question_id=question.node_id, text="Free buses"),
        ),
        ev.PositionPosted,
    )
    world.run("lead", cmd.ProposeCarry(room=room.id, positions=(position.node_id,)))
    return world, position.node_id


CARRYING, CARRIED_POSITION = _build_carrying()


def _build_recalled() -> tuple[World, list[str]]:
    """The round recalled: each room carried one position back to the plenary's map."""
    world = copy.deepcopy(CARRYING)
    room = world.state.rooms[SECOND_ROOM.room_id]
    question = _only(
        world.run("lead", cmd.PoseQuestion(room=room.id, text="What do we carry?")),
        ev.QuestionPosed,
    )
    world.run(
        sorted(room.jurors)[0],
        cmd.PostPosition(room=room.id, question_id=question.node_id, text="Free bus"),
    )
    world.run("lead", cmd.CloseRound())
    return world, list(world.state.carried)


RECALLED, CARRIED_ENTRIES = _build_recalled()
MERGE_CANDIDATE = cmd.MergeCandidate(
    first=CARRIED_ENTRIES[0], second=CARRIED_ENTRIES[1], similarity=0.8, shared=("bus",)
)


def _merge_proposed() -> World:
    world = copy.deepcopy(RECALLED)
    world.run(
        SYSTEM_ACTOR,
        cmd.ProposeMerges(round_id=STARTED.round_id, candidates=(MERGE_CANDIDATE,)),
    )
    return world


MERGE_PROPOSAL_ID = next(iter(_merge_proposed().state.merge_proposals))

# The state each command is tried in, when the rich plenary is not the right one.
SCENES: dict[type[Command], Callable[[], World]] = {
    cmd.AdjustAllocation: lambda: copy.deepcopy(PROPOSED),
    cmd.StartRound: lambda: copy.deepcopy(PROPOSED),
    cmd.MoveParticipant: lambda: copy.deepcopy(RUNNING),
    cmd.SetRoundTimer: lambda: copy.deepcopy(RUNNING),
    cmd.ExpireRoundTimer: lambda: copy.deepcopy(RUNNING),
    cmd.CloseRound: lambda: copy.deepcopy(RUNNING),
    cmd.CancelRecall: _recalling,
    cmd.RecallRound: _recalling,
    cmd.GrantFloor: _floor_free,
    cmd.UnlockRoom: _locked,
    cmd.ResumeRoom: _paused,
    cmd.ProposeCarry: lambda: copy.deepcopy(CARRYING),
    cmd.ObjectToCarry: lambda: copy.deepcopy(CARRYING),
    cmd.ProposeMerges: lambda: copy.deepcopy(RECALLED),
    cmd.ConfirmMerge: _merge_proposed,
    cmd.RejectMerge: _merge_proposed,
}


def scene_for(command_type: type[Command]) -> World:
    return SCENES.get(command_type, lambda: copy.deepcopy(RICH))()


# --- One example of every command ----------------------------------------------------------

EXAMPLES: dict[type[Command], Command] = {
    # The assembly
    cmd.CreateAssembly: cmd.CreateAssembly(title="A second jury"),
    cmd.AddParticipant: cmd.AddParticipant(
        participant="newcomer", display_name="Newcomer", role=Role.JUROR
    ),
    cmd.OpenRound: cmd.OpenRound(room_count=2),
    cmd.AdjustAllocation: cmd.AdjustAllocation(
        participant=FIRST_ROOM.jurors[0], to_room=SECOND_ROOM.room_id
    ),
    cmd.StartRound: cmd.StartRound(duration_ms=1_800_000),
    cmd.MoveParticipant: cmd.MoveParticipant(participant=FIRST_ROOM.jurors[0], to_room=P),
    cmd.SetRoundTimer: cmd.SetRoundTimer(duration_ms=600_000),
    cmd.ExpireRoundTimer: cmd.ExpireRoundTimer(round_id=STARTED.round_id),
    # The lead's oversight
    cmd.SetFairnessAlarms: cmd.SetFairnessAlarms(unspoken_after_ms=900_000, max_gini=0.4),
    cmd.SendFacilitatorNote: cmd.SendFacilitatorNote(room=P, text="Ask Juror 4 what they think"),
    cmd.Broadcast: cmd.Broadcast(text="Back in five minutes"),
    cmd.CloseRound: cmd.CloseRound(),
    cmd.CancelRecall: cmd.CancelRecall(),
    cmd.RecallRound: cmd.RecallRound(round_id=STARTED.round_id),
    # Speaking turns
    cmd.RaiseHand: cmd.RaiseHand(room=P),
    cmd.LowerHand: cmd.LowerHand(room=P),
    cmd.RequestReply: cmd.RequestReply(room=P),
    cmd.WithdrawReply: cmd.WithdrawReply(room=P),
    cmd.GrantFloor: cmd.GrantFloor(room=P),
    cmd.NextSpeaker: cmd.NextSpeaker(room=P),
    cmd.YieldFloor: cmd.YieldFloor(room=P),
    cmd.ExpireTurn: cmd.ExpireTurn(room=P, turn_id=IDS.turn),
    cmd.ExtendTurn: cmd.ExtendTurn(room=P, by_ms=60_000),
    cmd.RevokeFloor: cmd.RevokeFloor(room=P, reason="off topic"),
    cmd.SetRoomRules: cmd.SetRoomRules(room=P, turn_limit_ms=180_000, policy="equity"),
    cmd.ReorderQueue: cmd.ReorderQueue(room=P, order=("j3", "j2")),
    cmd.MoveToTop: cmd.MoveToTop(room=P, participant="j3"),
    cmd.RemoveFromQueue: cmd.RemoveFromQueue(room=P, participant="j2"),
    cmd.Speak: cmd.Speak(room=P, text="I think we should hear the experts first."),
    cmd.Interject: cmd.Interject(room=P, text="One minute left."),
    # Moderation
    cmd.MuteParticipant: cmd.MuteParticipant(room=P, participant="j5", reason="shouting"),
    cmd.UnmuteParticipant: cmd.UnmuteParticipant(room=P, participant="j6"),
    cmd.RemoveParticipant: cmd.RemoveParticipant(room=P, participant="j5", reason="asked to leave"),
    cmd.LockRoom: cmd.LockRoom(room=P),
    cmd.UnlockRoom: cmd.UnlockRoom(room=P),
    cmd.PauseRoom: cmd.PauseRoom(room=P),
    cmd.ResumeRoom: cmd.ResumeRoom(room=P),
    # Voice
    cmd.RecordVoiceActivity: cmd.RecordVoiceActivity(
        room=P,
        from_ms=RICH.now_ms - 10_000,
        to_ms=RICH.now_ms,
        voiced_ms={"j1": 8_000, "j2": 500, "f1": 900},
    ),
    # Agenda
    cmd.AddAgendaItem: cmd.AddAgendaItem(
        room=P, title="Deliberation", duration_ms=900_000, question_id=IDS.question
    ),
    cmd.AdvanceAgenda: cmd.AdvanceAgenda(room=P),
    cmd.ExtendAgendaItem: cmd.ExtendAgendaItem(room=P, by_ms=300_000),
    cmd.ExpireAgendaItem: cmd.ExpireAgendaItem(room=P, item_id=IDS.running_item),
    # Argument threads
    cmd.PoseQuestion: cmd.PoseQuestion(room=P, text="What should the city fund first?"),
    cmd.PostPosition: cmd.PostPosition(room=P, question_id=IDS.question, text="The council"),
    cmd.PostArgument: cmd.PostArgument(
        room=P, position_id=IDS.position, stance="against", text="They are far away"
    ),
    cmd.PostReply: cmd.PostReply(room=P, parent_id=IDS.reply, text="Fair point"),
    cmd.Endorse: cmd.Endorse(room=P, node_id=IDS.argument),
    cmd.WithdrawEndorsement: cmd.WithdrawEndorsement(room=P, node_id=IDS.argument),
    cmd.HidePost: cmd.HidePost(room=P, node_id=IDS.reply, reason="off topic"),
    cmd.UnhidePost: cmd.UnhidePost(room=P, node_id=IDS.hidden_reply, reason="on appeal"),
    cmd.MergeNodes: cmd.MergeNodes(
        room=P, duplicate_id=IDS.duplicate_position, into_id=IDS.position
    ),
    cmd.LinkTurn: cmd.LinkTurn(room=P, node_id=IDS.argument),
    # Polls
    cmd.OpenPoll: cmd.OpenPoll(room=P, question="How sure are you?", kind="scale"),
    cmd.Vote: cmd.Vote(room=P, poll_id=IDS.poll, choices=(0,)),
    cmd.ClosePoll: cmd.ClosePoll(room=P, poll_id=IDS.poll),
    # Reporting back to the plenary
    cmd.ProposeCarry: cmd.ProposeCarry(room=FIRST_ROOM.room_id, positions=(CARRIED_POSITION,)),
    cmd.ObjectToCarry: cmd.ObjectToCarry(room=FIRST_ROOM.room_id, reason="Our dissent is missing"),
    cmd.ProposeMerges: cmd.ProposeMerges(round_id=STARTED.round_id, candidates=(MERGE_CANDIDATE,)),
    cmd.ConfirmMerge: cmd.ConfirmMerge(proposal_id=MERGE_PROPOSAL_ID),
    cmd.RejectMerge: cmd.RejectMerge(proposal_id=MERGE_PROPOSAL_ID),
}

# The juror who tries each juror command: one for whom it makes sense (`j5` is free).
JUROR_ACTING: dict[type[Command], str] = {
    cmd.YieldFloor: "j1",
    cmd.Speak: "j1",
    cmd.LinkTurn: "j1",
    cmd.LowerHand: "j2",
    cmd.WithdrawEndorsement: "j3",
    cmd.WithdrawReply: "j4",
    cmd.ObjectToCarry: sorted(FIRST_ROOM.jurors)[0],
}

# Who stands for each role: a participant of that role, the system actor, or nobody we know.
ACTORS: dict[str, tuple[Role, str]] = {
    "juror": (Role.JUROR, "j5"),
    "facilitator": (Role.FACILITATOR, "f1"),
    "lead": (Role.LEAD, "lead"),
    "observer": (Role.OBSERVER, "obs"),
    "system": (Role.SYSTEM, SYSTEM_ACTOR),
    "anonymous": (Role.OBSERVER, ANONYMOUS),
}

COMMAND_TYPES = sorted(Command.registry.values(), key=lambda command_type: command_type.name)


def example(command_type: type[Command]) -> Command:
    if command_type not in EXAMPLES:
        pytest.fail(f"add an example of {command_type.__name__} to EXAMPLES in {__name__}")
    command = EXAMPLES[command_type]
    assert type(command) is command_type
    return command


def actor_for(command_type: type[Command], who: str) -> tuple[Role, str]:
    role, actor = ACTORS[who]
    if who == "juror":
        actor = JUROR_ACTING.get(command_type, actor)
    return role, actor


def try_command(world: World, actor: str, command: Command) -> ErrorCode | None:
    """Run the command; the refusal's code, or None when it was accepted."""
    try:
        world.run(actor, command)
    except Refusal as refusal:
        return refusal.code
    return None


# --- The tests -----------------------------------------------------------------------------


def test_examples_cover_every_command() -> None:
    missing = {cls.__name__ for cls in Command.registry.values()} - {
        cls.__name__ for cls in EXAMPLES
    }
    assert not missing, f"add these commands to EXAMPLES: {sorted(missing)}"
    assert set(EXAMPLES) == set(Command.registry.values())
    assert set(EXAMPLES) == set(RULES)


def test_no_command_is_open_to_observers() -> None:
    for command_type in Command.registry.values():
        assert Role.OBSERVER not in command_type.roles, command_type.name
        assert command_type.roles, f"{command_type.name} names no role at all"


@pytest.mark.parametrize("who", list(ACTORS))
@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda cls: cls.name)
def test_every_command_against_every_role(command_type: type[Command], who: str) -> None:
    command = example(command_type)
    world = scene_for(command_type)
    role, actor = actor_for(command_type, who)
    assert role_of(world.state, actor) is role, f"{actor} should act as a {role}"
    before = copy.deepcopy(world.state)
    log_length = len(world.log)

    code = try_command(world, actor, command)

    if role in command_type.roles:
        assert code is not ErrorCode.FORBIDDEN, f"a {role} may {command_type.name}"
    else:
        assert code is ErrorCode.FORBIDDEN, f"a {role} may not {command_type.name}, got {code}"
        assert world.state == before
        assert len(world.log) == log_length


@pytest.mark.parametrize("actor", ["obs", ANONYMOUS])
@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda cls: cls.name)
def test_observers_are_refused_every_command(command_type: type[Command], actor: str) -> None:
    world = scene_for(command_type)
    before = copy.deepcopy(world.state)
    with pytest.raises(Refusal) as refused:
        world.decide(actor, example(command_type))
    assert refused.value.code is ErrorCode.FORBIDDEN
    assert world.state == before


@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda cls: cls.name)
def test_before_the_assembly_exists_the_system_may_only_create_it(
    command_type: type[Command],
) -> None:
    """With no roster yet, only the system has a role; it meets `no_assembly` or `forbidden`."""
    world = World()
    code = try_command(world, SYSTEM_ACTOR, example(command_type))
    if command_type is cmd.CreateAssembly:
        assert code is None
    elif Role.SYSTEM in command_type.roles:
        assert code is ErrorCode.NO_ASSEMBLY
    else:
        assert code is ErrorCode.FORBIDDEN
        assert world.state == World().state


@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda cls: cls.name)
def test_every_example_succeeds_for_a_role_it_names(command_type: type[Command]) -> None:
    """The scenes are rich enough that each example is a real success, not a lucky refusal."""
    command = example(command_type)
    if command_type is cmd.CreateAssembly:
        world = World()
        actor = SYSTEM_ACTOR
    else:
        world = scene_for(command_type)
        who = next(who for who in ("lead", "system", "facilitator", "juror")
                   if ACTORS[who][0] in command_type.roles)  # fmt: skip
        _, actor = actor_for(command_type, who)
    if command_type in (
        cmd.ExpireTurn,
        cmd.ExpireAgendaItem,
        cmd.ExpireRoundTimer,
        cmd.RecallRound,
    ):
        world.tick(DAY_MS)  # past every deadline, so the expiry has something to end

    events = world.run(actor, command)

    assert events, f"{command_type.name} by {actor} decided nothing"
    assert {type(event) for event in events} <= set(RULES[command_type].yields)
