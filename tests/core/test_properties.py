"""Random deliberations: whatever anyone asks, in any order, the core keeps its invariants.

A state machine drives random commands from random actors (every role, the system and a
stranger) on a small assembly, with a clock that moves on by random amounts and sometimes jumps
past a deadline so that expiries fire. After every step the state must equal the replay of the
log, the floor and the lanes must make sense, and speaking time must add up. Now and then the
process restarts: the state goes through a JSON snapshot and carries on from what it read back.

Run more examples with `PALABRE_CORE_PROFILE=core-thorough`.
"""

import copy
import json
import os
from collections import Counter
from collections.abc import Callable, Collection
from typing import TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from facilitation import (
    PLENARY_ROOM,
    SYSTEM_ACTOR,
    Assembly,
    Command,
    ErrorCode,
    Event,
    Refusal,
    Role,
    execute,
    replay,
)
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.codec import decode_event, decode_state, encode, encode_state
from facilitation.limits import (
    MAX_DURATION_MS,
    MAX_LABEL_CHARS,
    MAX_RECALL_WARNING_MS,
    MAX_TEXT_CHARS,
    MAX_VOICE_PERIOD_MS,
    MIN_RECALL_WARNING_MS,
)
from facilitation.registry import RULES, role_of
from facilitation.roles import BALLOT_ACTOR
from facilitation.state import Room
from facilitation.voice import audible_jurors
from tests.core.builders import TEST_BALLOT_KEY, assembly

settings.register_profile(
    "core",
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "core-thorough",
    max_examples=1_000,
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("PALABRE_CORE_PROFILE", "core")

START_MS = 1_000_000
DAY_MS = 24 * 3_600_000
STRANGER = "stranger"  # never on the roster: an anonymous observer
NOWHERE = "atlantis"  # a room that does not exist
GHOST = "ghost"  # a participant who does not exist
ROSTER: tuple[tuple[str, Role], ...] = (
    ("lead", Role.LEAD),
    ("f1", Role.FACILITATOR),
    ("f2", Role.FACILITATOR),
    *((f"j{index}", Role.JUROR) for index in range(1, 7)),
    ("obs", Role.OBSERVER),
)
# Ids a lead or the system may try to add: new ones, an existing one and malformed ones.
NEW_IDS = ("x1", "x2", "x3", "j1", "bad id", SYSTEM_ACTOR, "")
# Text at the edges: empty, blank, a label too long and a text too long.
ODD_TEXTS = ("", "   ", "l" * (MAX_LABEL_CHARS + 1), "t" * (MAX_TEXT_CHARS + 1))
REASONS = ("off topic", "", "personal attack", "r" * (MAX_LABEL_CHARS + 1))
POLICIES: tuple[cmd.QueuePolicy, ...] = ("first_come", "equity")
DURATIONS = st.one_of(
    st.integers(1, 3_600_000),
    st.sampled_from([-1, 0, 10_000, 30 * 60_000 + 1, MAX_DURATION_MS, MAX_DURATION_MS + 1]),
)
# A recall's warning: within its bounds mostly, sometimes just outside them.
RECALL_WARNINGS = st.one_of(
    st.integers(MIN_RECALL_WARNING_MS, MAX_RECALL_WARNING_MS),
    st.sampled_from([0, MIN_RECALL_WARNING_MS - 1, MAX_RECALL_WARNING_MS + 1]),
)
TURN_LIMITS = st.sampled_from(
    [5_000, 10_000, 15_000, 30_000, 120_000, 30 * 60_000, 30 * 60_000 + 1]
)

T = TypeVar("T")
Draw = st.DataObject
Builder = Callable[["Deliberation", Draw, str], Command]


# --- What the machine may ask: a builder of plausible arguments per command ----------------


def _rarely(data: Draw, one_in: int, label: str) -> bool:
    """True once in `one_in` draws; False is the simpler choice, the one shrinking keeps."""
    return data.draw(st.integers(0, one_in - 1), label=label) == one_in - 1


def _text(data: Draw) -> str:
    if _rarely(data, 8, "odd text?"):
        return data.draw(st.sampled_from(ODD_TEXTS), label="odd text")
    return data.draw(st.text(min_size=1, max_size=20), label="text")


def _maybe(data: Draw, strategy: st.SearchStrategy[T]) -> T | None:
    return data.draw(st.none() | strategy)


def _preferred_jurors(command_type: type[Command], room: Room) -> list[str]:
    """The jurors for whom a juror command makes sense in the room as it is."""
    speaker = room.floor.speaker if room.floor is not None else None
    queued = [entry.participant for entry in room.queue]
    replying = [entry.participant for entry in room.replies]
    free = sorted(room.jurors - room.muted - {speaker})
    if command_type in (cmd.Speak, cmd.YieldFloor, cmd.LinkTurn):
        return [] if speaker is None else [speaker]
    if command_type is cmd.LowerHand:
        return queued
    if command_type is cmd.WithdrawReply:
        return replying
    if command_type is cmd.RaiseHand:
        return [juror for juror in free if juror not in queued]
    if command_type is cmd.RequestReply:
        return [juror for juror in free if juror not in replying]
    return []


class Deliberation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = Assembly()
        self.log: list[Event] = []
        self.now_ms = START_MS
        # When each turn (room, turn id) still running was granted.
        self.granted_at: dict[tuple[str, str], int] = {}
        # Since when each paused room is paused, and how long each running turn was paused.
        self.paused_since: dict[str, int] = {}
        self.paused_during: Counter[tuple[str, str]] = Counter()
        # Each running turn's deadline, as its events set and move it.
        self.deadline: dict[tuple[str, str], int] = {}
        # The last voice record built for each room, for the server to send again.
        self.voice_records: dict[str, cmd.RecordVoiceActivity] = {}
        setup: list[Command] = [cmd.CreateAssembly(title="Property jury")]
        setup += [
            cmd.AddParticipant(participant=pid, display_name=pid.upper(), role=role)
            for pid, role in ROSTER
        ]
        for command in setup:
            assert isinstance(self.attempt(SYSTEM_ACTOR, command), list)

    # --- Looking around ---------------------------------------------------------------------

    def open_rooms(self) -> list[Room]:
        return [room for room in self.state.rooms.values() if not room.closed]

    def actors(self) -> list[str]:
        return [*sorted(self.state.participants), SYSTEM_ACTOR, STRANGER]

    def pick_room(self, data: Draw, *, among: Collection[str] = ()) -> str:
        """Preferably one of `among`, else an open room; sometimes a closed or missing one."""
        choice = data.draw(st.integers(0, 19), label="which rooms")
        if among and choice < 12:
            return data.draw(st.sampled_from(sorted(among)), label="room among")
        if choice == 19:
            return NOWHERE
        rooms = sorted(self.state.rooms) if choice >= 17 else [r.id for r in self.open_rooms()]
        return data.draw(st.sampled_from(rooms), label="room")

    def pick_actor(self, data: Draw, command_type: type[Command], room_id: str | None) -> str:
        """Mostly someone who may issue the command there; sometimes anyone at all."""
        roles = command_type.roles
        room = self.state.rooms.get(room_id) if room_id is not None else None
        suitable = []
        for pid, participant in sorted(self.state.participants.items()):
            if participant.role not in roles:
                continue
            if room is not None and participant.role is Role.JUROR and pid not in room.jurors:
                continue
            if (
                room is not None
                and participant.role is Role.FACILITATOR
                and pid not in room.facilitators
            ):
                continue
            suitable.append(pid)
        if Role.SYSTEM in roles:
            suitable.append(SYSTEM_ACTOR)
        preferred = [] if room is None else _preferred_jurors(command_type, room)
        choice = data.draw(st.integers(0, 7), label="whom to ask")
        if not suitable or choice == 7:
            return data.draw(st.sampled_from(self.actors()), label="anyone")
        if preferred and choice <= 4:
            return data.draw(st.sampled_from(preferred), label="preferred actor")
        return data.draw(st.sampled_from(suitable), label="suitable actor")

    def pick_participant(self, data: Draw, room_id: str, *, among: Collection[str] = ()) -> str:
        """Preferably one of `among`, else a juror of the room, anyone or nobody."""
        room = self.state.rooms.get(room_id)
        choice = data.draw(st.integers(0, 9), label="which participant")
        if among and choice < 6:
            return data.draw(st.sampled_from(sorted(among)), label="participant")
        if room is not None and room.jurors and choice < 8:
            return data.draw(st.sampled_from(sorted(room.jurors)), label="juror")
        return data.draw(st.sampled_from([*sorted(self.state.participants), GHOST]))

    def pick_node(self, data: Draw, room_id: str, kinds: tuple[str, ...] = ()) -> str:
        room = self.state.rooms.get(room_id)
        nodes = [] if room is None else sorted(room.nodes)
        fitting = [] if room is None else [n for n in nodes if room.nodes[n].kind in kinds]
        elsewhere = sorted({n for r in self.state.rooms.values() for n in r.nodes} - set(nodes))
        choice = data.draw(st.integers(0, 9), label="which node")
        if fitting and choice < 6:
            return data.draw(st.sampled_from(fitting), label="fitting node")
        if nodes and choice < 8:
            return data.draw(st.sampled_from(nodes), label="node")
        return data.draw(st.sampled_from([*elsewhere, "n0"]), label="stray node")

    def pick_poll(self, data: Draw, room_id: str) -> str:
        room = self.state.rooms.get(room_id)
        polls = [] if room is None else sorted(room.polls)
        elsewhere = sorted({p for r in self.state.rooms.values() for p in r.polls} - set(polls))
        if polls and not _rarely(data, 5, "stray poll?"):
            return data.draw(st.sampled_from(polls), label="poll")
        return data.draw(st.sampled_from([*elsewhere, "p0"]), label="stray poll")

    def queued(self, room_id: str) -> list[str]:
        room = self.state.rooms.get(room_id)
        return [] if room is None else [entry.participant for entry in room.queue]

    def in_lanes(self, room_id: str) -> list[str]:
        """Who holds the floor or waits for it in the room."""
        room = self.state.rooms.get(room_id)
        if room is None:
            return []
        speaker = [] if room.floor is None else [room.floor.speaker]
        waiting = [entry.participant for entry in (*room.queue, *room.replies)]
        return sorted({*speaker, *waiting})

    def deadlines(self) -> list[int]:
        found = []
        for room in self.open_rooms():
            if room.floor is not None:
                found.append(room.floor.deadline_ms)
            item = room.current_item()
            if item is not None and item.deadline_ms is not None:
                found.append(item.deadline_ms)
        current = self.state.current_round()
        if current is not None and current.deadline_ms is not None:
            found.append(current.deadline_ms)
        return found

    def round_ids(self) -> list[str]:
        return [past.id for past in self.state.rounds]

    def plenary_node_ids(self) -> list[str]:
        return sorted(self.state.rooms[PLENARY_ROOM].nodes)

    def proposed_room_ids(self) -> list[str]:
        current = self.state.current_round()
        return [] if current is None else [room.room_id for room in current.rooms]

    # --- Issuing a command and checking what it did -----------------------------------------

    def attempt(self, actor: str, command: Command) -> list[Event] | ErrorCode:
        rule = RULES[type(command)]
        role = role_of(self.state, actor)
        due = self.due(command)
        before = copy.deepcopy(self.state)
        try:
            events = execute(self.state, command, actor, self.now_ms, ballot_key=TEST_BALLOT_KEY)
        except Refusal as refusal:
            note_event(f"refused: {refusal.code}")
            assert self.state == before, f"refused {command} changed the state"
            allowed = {*rule.refusals, ErrorCode.FORBIDDEN, ErrorCode.NO_ASSEMBLY}
            assert refusal.code in allowed, f"{command.name} raised undeclared {refusal.code}"
            if role not in type(command).roles:
                assert refusal.code is ErrorCode.FORBIDDEN, f"{role} got {refusal.code}"
            return refusal.code
        note_event(f"accepted: {command.name}")
        assert role is not Role.OBSERVER, f"an observer's {command} was accepted"
        assert role in type(command).roles, f"a {role}'s {command} was accepted"
        seqs = dict(before.seqs)
        for event in events:
            assert type(event) in rule.yields, f"{command.name} yielded undeclared {event.name}"
            assert event.seq == seqs.get(event.room, 0) + 1, f"seq gap in {events}"
            seqs[event.room] = event.seq
            # A secret ballot is the one event not recorded under the actor who caused it.
            expected_actor = (
                BALLOT_ACTOR if isinstance(event, ev.VoteCast) and event.ballot else actor
            )
            assert (event.actor, event.at_ms) == (expected_actor, self.now_ms)
            self.check_round_trip(event)
            self.follow_turns(event)
        if isinstance(command, EXPIRIES):
            # An expiry ends what it names once due, and a stale or early one decides nothing.
            assert bool(events) == due, f"{command} at {self.now_ms}: due={due}, got {events}"
        if isinstance(command, cmd.RecordVoiceActivity):
            # A record sent again, or one that heard nobody, counts nothing.
            until = before.rooms[command.room].voiced_until_ms
            repeat = until is not None and command.to_ms <= until
            heard = any(ms > 0 for ms in command.voiced_ms.values())
            assert bool(events) == (heard and not repeat), (command, until, events)
        self.log.extend(events)
        return events

    @staticmethod
    def check_round_trip(event: Event) -> None:
        encoded = encode(event)
        assert decode_event(encoded) == event
        through_json = decode_event(json.loads(json.dumps(encoded)))
        assert through_json == event
        assert type(through_json) is type(event)
        assert encode(through_json) == encoded

    def follow_turns(self, event: Event) -> None:
        """Time each turn by the events alone: granted, paused, resumed, ended."""
        if isinstance(event, ev.FloorGranted):
            key = (event.room, event.turn_id)
            assert key not in self.granted_at, f"turn {key} granted twice"
            assert event.room not in self.paused_since, f"floor granted in paused {event.room}"
            self.granted_at[key] = event.at_ms
            self.deadline[key] = event.deadline_ms
        elif isinstance(event, ev.TurnExtended):
            key = (event.room, event.turn_id)
            assert event.deadline_ms > self.deadline[key], event
            self.deadline[key] = event.deadline_ms
        elif isinstance(event, ev.RoomPaused):
            self.paused_since[event.room] = event.at_ms
        elif isinstance(event, ev.RoomResumed):
            since = self.paused_since.pop(event.room)
            assert event.paused_ms == event.at_ms - since, event
            for key in self.granted_at:
                if key[0] == event.room:  # a pause stops the turn's clock and moves its deadline
                    self.paused_during[key] += event.paused_ms
                    self.deadline[key] += event.paused_ms
        elif isinstance(event, ev.TurnEnded):
            key = (event.room, event.turn_id)
            granted_at = self.granted_at.pop(key)
            paused = self.paused_during.pop(key, 0)
            allowed = self.deadline.pop(key) - granted_at - paused  # the limit and extensions
            if event.room in self.paused_since:
                paused += event.at_ms - self.paused_since[event.room]
            ran = event.at_ms - granted_at - paused  # the time the room was running
            assert 0 <= event.duration_ms <= event.at_ms - granted_at, event
            # As documented on TurnEnded: from the grant to the end, less any pause, capped.
            assert event.duration_ms == max(0, min(ran, allowed)), (event, ran, allowed)

    def issue(self, data: Draw, command_type: type[Command]) -> None:
        room = self.pick_room(data, among=[r.id for r in self.open_rooms() if r.jurors])
        command = BUILDERS[command_type](self, data, room)
        command_room = getattr(command, "room", None)
        actor = self.pick_actor(data, command_type, command_room)
        self.attempt(actor, command)

    # --- Rules ------------------------------------------------------------------------------

    @initialize(data=st.data())
    def set_the_scene(self, data: Draw) -> None:
        """Start in a plain or automatic plenary, with a round proposed, running or neither.

        A juror may join after the proposal: they stay in the plenary when the round starts.
        """
        if data.draw(st.booleans(), label="automatic plenary?"):
            policy = data.draw(st.sampled_from(POLICIES), label="policy")
            rules = cmd.SetRoomRules(
                room=PLENARY_ROOM, auto=True, policy=policy, turn_limit_ms=30_000
            )
            assert isinstance(self.attempt("lead", rules), list)
        scene = data.draw(st.sampled_from(["plenary", "proposed", "running"]), label="round")
        if scene != "plenary":
            rooms = data.draw(st.integers(1, 3), label="rooms")
            assert isinstance(self.attempt("lead", cmd.OpenRound(room_count=rooms)), list)
            if data.draw(st.booleans(), label="a late juror?"):
                late = cmd.AddParticipant(participant="late", display_name="Late", role=Role.JUROR)
                assert isinstance(self.attempt(SYSTEM_ACTOR, late), list)
        if scene == "running":
            self.busy_start(data)
            duration = _maybe(data, st.integers(60_000, 3_600_000))
            assert isinstance(self.attempt("lead", cmd.StartRound(duration_ms=duration)), list)
        self.busy_start(data)

    def busy_start(self, data: Draw) -> None:
        """In each room, perhaps some hands up, someone speaking and a reply or two waiting."""
        if _rarely(data, 4, "quiet start?"):
            return
        for room in self.open_rooms():
            jurors = sorted(room.jurors)
            hands = data.draw(st.lists(st.sampled_from(jurors), unique=True)) if jurors else []
            for juror in hands:
                self.attempt(juror, cmd.RaiseHand(room=room.id))
            if room.queue and room.floor is None:
                self.attempt("lead", cmd.GrantFloor(room=room.id))
            speaker = room.floor.speaker if room.floor is not None else None
            waiting = [juror for juror in jurors if speaker is not None and juror != speaker]
            repliers = (
                data.draw(st.lists(st.sampled_from(waiting), unique=True, max_size=2))
                if waiting
                else []
            )
            for juror in repliers:
                self.attempt(juror, cmd.RequestReply(room=room.id))

    @rule(data=st.data())
    def issue_any_command(self, data: Draw) -> None:
        self.issue(data, data.draw(st.sampled_from(COMMAND_TYPES), label="command"))

    @rule(data=st.data())
    def ask_for_the_floor(self, data: Draw) -> None:
        self.issue(data, data.draw(st.sampled_from(TURN_COMMANDS), label="turn command"))

    @rule(data=st.data())
    def deliberate(self, data: Draw) -> None:
        self.issue(data, data.draw(st.sampled_from(DELIBERATION_COMMANDS), label="deliberation"))

    @rule(data=st.data())
    def moderate(self, data: Draw) -> None:
        self.issue(data, data.draw(st.sampled_from(MODERATION_COMMANDS), label="moderation"))

    @rule(data=st.data())
    def reshape_rooms(self, data: Draw) -> None:
        self.issue(data, data.draw(st.sampled_from(ROUND_COMMANDS), label="round command"))

    @rule(data=st.data())
    def let_time_pass(self, data: Draw) -> None:
        """A few seconds, a few minutes, hours, or just past one of the running deadlines."""
        deadlines = self.deadlines()
        past_a_deadline = data.draw(st.booleans(), label="past a deadline?")
        if deadlines and past_a_deadline:
            deadline = data.draw(st.sampled_from(sorted(deadlines)), label="deadline")
            self.now_ms = max(self.now_ms, deadline + data.draw(st.integers(0, 1_000)))
            return
        self.now_ms += data.draw(
            st.one_of(
                st.integers(0, 3_000),
                st.integers(3_000, 150_000),
                st.sampled_from([3_600_000, DAY_MS]),
            ),
            label="ms",
        )

    @rule()
    def restart(self) -> None:
        """A restart: the state is saved as a JSON snapshot and read back, and goes on from it.

        Any part of the state that a snapshot splits or loses shows at the next replay check.
        """
        self.state = decode_state(json.loads(json.dumps(encode_state(self.state))))

    @rule(data=st.data())
    def take_a_break(self, data: Draw) -> None:
        """Pause a room (preferably while someone speaks), let time pass, maybe act, resume."""
        speaking = [room.id for room in self.open_rooms() if room.floor is not None]
        room = self.pick_room(data, among=speaking)
        self.attempt(self.pick_actor(data, cmd.PauseRoom, room), cmd.PauseRoom(room=room))
        self.let_time_pass(data)
        if data.draw(st.booleans(), label="act during the pause?"):
            self.issue(data, data.draw(st.sampled_from(TURN_COMMANDS), label="turn command"))
        self.attempt(self.pick_actor(data, cmd.ResumeRoom, room), cmd.ResumeRoom(room=room))

    @rule(data=st.data())
    def expire_something(self, data: Draw) -> None:
        """An expiry from the scheduler: mostly for what runs now, sometimes a stale one.

        Half the time the clock first moves on to just past the deadline, so the expiry fires.
        """
        stale = _rarely(data, 5, "stale?")
        kind = data.draw(st.sampled_from(["turn", "item", "round", "recall"]), label="expiry")
        command: Command
        deadline: int | None = None
        if kind == "recall":
            current = self.state.current_round()
            if current is not None and current.recall_at_ms is not None and not stale:
                command, deadline = cmd.RecallRound(round_id=current.id), current.recall_at_ms
            else:
                stale_id = data.draw(st.sampled_from([*self.round_ids(), "r0"]), label="stale")
                command = cmd.RecallRound(round_id=stale_id)
        elif kind == "round":
            current = self.state.current_round()
            if current is not None and not stale:
                command, deadline = cmd.ExpireRoundTimer(round_id=current.id), current.deadline_ms
            else:
                stale_id = data.draw(st.sampled_from([*self.round_ids(), "r0"]), label="stale")
                command = cmd.ExpireRoundTimer(round_id=stale_id)
        elif kind == "turn":
            speaking = [room.id for room in self.open_rooms() if room.floor is not None]
            room_id = self.pick_room(data, among=speaking)
            room = self.state.rooms.get(room_id)
            turn = room.floor if room is not None else None
            if turn is not None and not stale:
                command, deadline = cmd.ExpireTurn(room=room_id, turn_id=turn.id), turn.deadline_ms
            else:
                old = [] if room is None else sorted(room.turns)
                stale_id = data.draw(st.sampled_from([*old, "t0"]), label="stale turn")
                command = cmd.ExpireTurn(room=room_id, turn_id=stale_id)
        else:
            running = [room.id for room in self.open_rooms() if room.current_item() is not None]
            room_id = self.pick_room(data, among=running)
            room = self.state.rooms.get(room_id)
            item = room.current_item() if room is not None else None
            if item is not None and not stale:
                command, deadline = (
                    cmd.ExpireAgendaItem(room=room_id, item_id=item.id),
                    item.deadline_ms,
                )
            else:
                old = [] if room is None else [item.id for item in room.agenda]
                stale_id = data.draw(st.sampled_from([*old, "a0"]), label="stale item")
                command = cmd.ExpireAgendaItem(room=room_id, item_id=stale_id)
        if deadline is not None and data.draw(st.booleans(), label="wait for the deadline?"):
            self.now_ms = max(self.now_ms, deadline + data.draw(st.integers(0, 1_000)))
        by_system = not _rarely(data, 6, "by someone else?")
        actor = SYSTEM_ACTOR if by_system else data.draw(st.sampled_from(self.actors()))
        self.attempt(actor, command)

    def due(self, command: Command) -> bool:
        """Whether an expiry names what runs now, past its deadline, in a running room."""
        if isinstance(command, cmd.RecallRound):
            current = self.state.current_round()
            return (
                current is not None
                and current.id == command.round_id
                and current.recall_at_ms is not None
                and self.now_ms >= current.recall_at_ms
            )
        if isinstance(command, cmd.ExpireRoundTimer):
            current = self.state.current_round()
            return (
                current is not None
                and current.started
                and current.id == command.round_id
                and current.deadline_ms is not None
                and self.now_ms >= current.deadline_ms
            )
        if not isinstance(command, cmd.ExpireTurn | cmd.ExpireAgendaItem):
            return False
        room = self.state.rooms.get(command.room)
        if room is None or room.closed or room.paused_at_ms is not None:
            return False
        if isinstance(command, cmd.ExpireTurn):
            turn = room.floor
            return (
                turn is not None and turn.id == command.turn_id and self.now_ms >= turn.deadline_ms
            )
        item = room.current_item()
        return (
            item is not None
            and item.id == command.item_id
            and item.deadline_ms is not None
            and self.now_ms >= item.deadline_ms
        )

    # --- Invariants -------------------------------------------------------------------------

    @invariant()
    def replaying_the_log_rebuilds_the_state(self) -> None:
        assert replay(self.log) == self.state

    @invariant()
    def the_floor_belongs_to_a_juror_seated_in_the_room(self) -> None:
        holders: Counter[str] = Counter()
        for room in self.state.rooms.values():
            turn = room.floor
            if turn is None:
                continue
            assert not room.closed, f"closed room {room.id} still has a speaker"
            assert room.turns.get(turn.id) is turn
            speaker = self.state.participants[turn.speaker]
            assert speaker.role is Role.JUROR, f"{speaker.id} holds the floor in {room.id}"
            assert speaker.id in room.jurors and speaker.room == room.id, (
                f"{speaker.id} holds the floor in {room.id} but sits in {speaker.room}"
            )
            assert speaker.id not in room.muted, f"{speaker.id} speaks while muted"
            # The speaker left the lane they came from; a new turn also starts a new exchange.
            assert not room.replying(speaker.id), f"{speaker.id} speaks and waits to reply"
            if turn.kind == "turn":
                assert not room.queued(speaker.id), f"{speaker.id} speaks and is queued"
            holders[speaker.id] += 1
        assert all(count == 1 for count in holders.values()), holders

    @invariant()
    def lanes_hold_each_seated_juror_once(self) -> None:
        for room in self.state.rooms.values():
            for lane_name, lane in (("queue", room.queue), ("reply lane", room.replies)):
                people = [entry.participant for entry in lane]
                assert len(people) == len(set(people)), f"{room.id} {lane_name}: {people}"
                if room.closed:
                    assert not people, f"closed room {room.id} keeps a {lane_name}"
                    continue
                for pid in people:
                    participant = self.state.participants[pid]
                    assert participant.role is Role.JUROR, f"{pid} in {room.id} {lane_name}"
                    assert pid in room.jurors and participant.room == room.id, (
                        f"{pid} waits in {room.id} {lane_name} but sits in {participant.room}"
                    )
                    assert pid not in room.muted, f"muted {pid} in {room.id} {lane_name}"

    @invariant()
    def every_juror_sits_in_at_most_one_open_room(self) -> None:
        for pid, participant in self.state.participants.items():
            if participant.role is not Role.JUROR:
                continue
            seats = [room.id for room in self.open_rooms() if pid in room.jurors]
            expected = [] if participant.room is None else [participant.room]
            assert seats == expected, f"{pid} sits in {seats}, thinks {participant.room}"

    @invariant()
    def an_automatic_room_never_leaves_the_floor_idle(self) -> None:
        """In auto mode a free floor goes straight to the next in line, unless paused."""
        for room in self.open_rooms():
            if room.rules.auto and room.floor is None and room.paused_at_ms is None:
                waiting = [entry.participant for entry in (*room.replies, *room.queue)]
                assert not waiting, f"{room.id} is automatic, its floor free, yet {waiting} wait"

    @invariant()
    def at_most_one_agenda_item_runs_per_room(self) -> None:
        for room in self.state.rooms.values():
            running = [item.id for item in room.agenda if item.status == "running"]
            assert len(running) <= 1, f"{room.id} runs {running}"

    @invariant()
    def speaking_time_adds_up(self) -> None:
        spoken: Counter[str] = Counter()
        spoken_in_room: Counter[tuple[str, str]] = Counter()
        for event in self.log:
            if isinstance(event, ev.TurnEnded):
                spoken[event.speaker] += event.duration_ms
                spoken_in_room[event.room, event.speaker] += event.duration_ms
        for pid, participant in self.state.participants.items():
            assert participant.spoken_ms == spoken[pid], pid
        for room in self.state.rooms.values():
            for pid, stats in room.stats.items():
                assert stats.spoken_ms == spoken_in_room[room.id, pid], (room.id, pid)

    @invariant()
    def voiced_time_adds_up_and_no_period_counts_twice(self) -> None:
        voiced: Counter[tuple[str, str]] = Counter()
        recorded_until: dict[str, int] = {}
        for event in self.log:
            if not isinstance(event, ev.VoiceRecorded):
                continue
            period_ms = event.to_ms - event.from_ms
            assert event.from_ms >= recorded_until.get(event.room, event.from_ms), event
            assert 0 < period_ms <= MAX_VOICE_PERIOD_MS and event.to_ms <= event.at_ms, event
            assert event.voiced_ms and all(0 < ms <= period_ms for ms in event.voiced_ms.values())
            recorded_until[event.room] = event.to_ms
            for pid, ms in event.voiced_ms.items():
                voiced[event.room, pid] += ms
        for room in self.state.rooms.values():
            assert room.voiced_until_ms == recorded_until.get(room.id), room.id
            for pid, stats in room.stats.items():
                assert stats.voiced_ms == voiced[room.id, pid], (room.id, pid)

    @invariant()
    def only_jurors_seated_and_not_muted_are_heard(self) -> None:
        for room in self.state.rooms.values():
            heard = audible_jurors(room)
            assert heard <= room.jurors - room.muted, (room.id, heard)
            running = not room.closed and room.paused_at_ms is None
            if running and room.floor is not None:
                assert room.floor.speaker in heard, (room.id, heard)
            if running and room.rules.open_floor:
                assert heard == room.jurors - room.muted, (room.id, heard)

    @invariant()
    def only_participants_and_the_system_act(self) -> None:
        for event in self.log:
            if event.actor == BALLOT_ACTOR:
                assert isinstance(event, ev.VoteCast) and event.ballot, event
                continue
            role = role_of(self.state, event.actor)
            assert role is not Role.OBSERVER, f"{event.actor} ({role}) caused {event}"


# --- The builders ---------------------------------------------------------------------------


def _add_participant(m: Deliberation, data: Draw, room: str) -> Command:
    attributes = _maybe(
        data,
        st.dictionaries(
            st.sampled_from(["age", "area", " ", "a" * (MAX_LABEL_CHARS + 1)]),
            st.sampled_from(["18-30", "north", ""]),
            max_size=3,
        ),
    )
    return cmd.AddParticipant(
        participant=data.draw(st.sampled_from(NEW_IDS), label="new id"),
        display_name=_text(data),
        role=data.draw(st.sampled_from(list(Role)), label="role"),
        attributes=attributes,
    )


def _open_round(m: Deliberation, data: Draw, room: str) -> Command:
    """Mostly a number of rooms or a room size; sometimes both, neither or nonsense."""
    seed = data.draw(st.integers(0, 3), label="seed")
    how = data.draw(st.sampled_from(["count", "size", "odd"]), label="how")
    if how == "count":
        return cmd.OpenRound(room_count=data.draw(st.integers(1, 3), label="rooms"), seed=seed)
    if how == "size":
        return cmd.OpenRound(room_size=data.draw(st.integers(1, 4), label="size"), seed=seed)
    return cmd.OpenRound(
        room_count=_maybe(data, st.integers(-1, 12)),
        room_size=_maybe(data, st.integers(-1, 12)),
        seed=seed,
    )


def _adjust_allocation(m: Deliberation, data: Draw, room: str) -> Command:
    current = m.state.current_round()
    placed: set[str] = set()
    for proposed in [] if current is None else current.rooms:
        placed.update(proposed.jurors, proposed.facilitators)
    targets = [*m.proposed_room_ids(), PLENARY_ROOM, NOWHERE]
    return cmd.AdjustAllocation(
        participant=m.pick_participant(data, PLENARY_ROOM, among=placed),
        to_room=data.draw(st.sampled_from(targets), label="to room"),
    )


def _move_participant(m: Deliberation, data: Draw, room: str) -> Command:
    """Mostly someone in a lane or on the floor, to another open room."""
    busy = {pid for open_room in m.open_rooms() for pid in m.in_lanes(open_room.id)}
    participant = m.pick_participant(data, room, among=busy)
    seat = m.state.participants[participant].room if participant in m.state.participants else None
    elsewhere = [r.id for r in m.open_rooms() if r.id != seat]
    if elsewhere and not _rarely(data, 4, "any room?"):
        return cmd.MoveParticipant(
            participant=participant, to_room=data.draw(st.sampled_from(elsewhere))
        )
    rooms = [*sorted(m.state.rooms), NOWHERE]
    return cmd.MoveParticipant(participant=participant, to_room=data.draw(st.sampled_from(rooms)))


def _set_room_rules(m: Deliberation, data: Draw, room: str) -> Command:
    return cmd.SetRoomRules(
        room=room,
        turn_limit_ms=_maybe(data, TURN_LIMITS),
        warning_ms=_maybe(data, st.sampled_from([-1, 0, 5_000, 20_000, 200_000])),
        reply_limit_ms=_maybe(data, TURN_LIMITS),
        replies_per_turn=_maybe(data, st.integers(-1, 6)),
        policy=_maybe(data, st.sampled_from(POLICIES)),
        auto=_maybe(data, st.booleans()),
        open_floor=_maybe(data, st.booleans()),
    )


def _reorder_queue(m: Deliberation, data: Draw, room: str) -> Command:
    queued = m.queued(room)
    order = list(data.draw(st.permutations(queued), label="order"))
    if _rarely(data, 5, "spoil order?"):
        spoil = data.draw(st.sampled_from(["drop", "repeat", "stranger"]), label="how")
        if spoil == "drop" and order:
            order.pop()
        elif spoil == "repeat" and order:
            order.append(order[0])
        else:
            order.append(GHOST)
    return cmd.ReorderQueue(room=room, order=tuple(order))


def _open_poll(m: Deliberation, data: Draw, room: str) -> Command:
    """Mostly distinct options; sometimes too few, blank or repeated ones."""
    labels = ["Yes", "No", "Maybe", "Later"]
    if _rarely(data, 4, "odd options?"):
        labels += ["", "Yes ", "o" * (MAX_LABEL_CHARS + 1)]
        options = data.draw(st.lists(st.sampled_from(labels), max_size=4), label="odd options")
    else:
        options = data.draw(
            st.lists(st.sampled_from(labels), min_size=2, max_size=4, unique=True), label="options"
        )
    return cmd.OpenPoll(
        room=room,
        question=_text(data),
        kind=data.draw(st.sampled_from(["single", "multiple", "scale"]), label="kind"),
        options=tuple(options),
        secret=data.draw(st.booleans(), label="secret"),
    )


def _vote(m: Deliberation, data: Draw, room: str) -> Command:
    choices = data.draw(st.lists(st.integers(-1, 5), max_size=3), label="choices")
    return cmd.Vote(room=room, poll_id=m.pick_poll(data, room), choices=tuple(choices))


def _unmute(m: Deliberation, data: Draw, room: str) -> Command:
    muted = m.state.rooms[room].muted if room in m.state.rooms else set()
    return cmd.UnmuteParticipant(room=room, participant=m.pick_participant(data, room, among=muted))


def _expire_turn(m: Deliberation, data: Draw, room: str) -> Command:
    turns = sorted(m.state.rooms[room].turns) if room in m.state.rooms else []
    return cmd.ExpireTurn(room=room, turn_id=data.draw(st.sampled_from([*turns, "t0"])))


def _expire_item(m: Deliberation, data: Draw, room: str) -> Command:
    items = [item.id for item in m.state.rooms[room].agenda] if room in m.state.rooms else []
    return cmd.ExpireAgendaItem(room=room, item_id=data.draw(st.sampled_from([*items, "a0"])))


def _record_voice(m: Deliberation, data: Draw, room: str) -> Command:
    """Mostly the voice of the seconds just past, by people of the room; sometimes a record
    sent again, one ending in the future, an odd period or figure, or someone not there."""
    previous = m.voice_records.get(room)
    if previous is not None and _rarely(data, 5, "send again?"):
        return previous
    period_ms = data.draw(
        st.one_of(
            st.integers(1, 20_000),
            st.sampled_from([0, -1, MAX_VOICE_PERIOD_MS, MAX_VOICE_PERIOD_MS + 1]),
        ),
        label="period",
    )
    to_ms = m.now_ms - data.draw(st.sampled_from([0, 0, 0, 500, -1]), label="ended ago")
    here = m.state.rooms.get(room)
    people = [] if here is None else sorted(here.jurors | here.facilitators | set(here.left_at_ms))
    anyone = [*sorted(m.state.participants), GHOST]
    names = data.draw(st.lists(st.sampled_from(people or anyone), unique=True, max_size=4))
    if _rarely(data, 6, "someone odd?"):
        names.append(data.draw(st.sampled_from(anyone), label="odd name"))
    voiced = {name: data.draw(st.integers(0, max(0, period_ms)), label="ms") for name in names}
    if names and _rarely(data, 8, "odd figure?"):
        voiced[names[0]] = data.draw(st.sampled_from([-1, period_ms + 1]), label="odd ms")
    command = cmd.RecordVoiceActivity(
        room=room, from_ms=to_ms - period_ms, to_ms=to_ms, voiced_ms=voiced
    )
    m.voice_records[room] = command
    return command


def _propose_carry(m: Deliberation, data: Draw, room: str) -> Command:
    positions = [
        m.pick_node(data, room, ("position",))
        for _ in range(data.draw(st.integers(0, 3), label="positions"))
    ]
    arguments = [
        m.pick_node(data, room, ("argument",))
        for _ in range(data.draw(st.integers(0, 3), label="arguments"))
    ]
    return cmd.ProposeCarry(room=room, positions=tuple(positions), arguments=tuple(arguments))


def _propose_merges(m: Deliberation, data: Draw, room: str) -> Command:
    """What the server's similarity would propose: pairs of carried positions, or strays."""
    entries = [*sorted(m.state.carried), "r0-1/n0"]
    pairs = data.draw(
        st.lists(st.tuples(st.sampled_from(entries), st.sampled_from(entries)), max_size=3),
        label="pairs",
    )
    return cmd.ProposeMerges(
        round_id=data.draw(st.sampled_from([*m.round_ids(), "r0"]), label="round"),
        candidates=tuple(
            cmd.MergeCandidate(first=a, second=b, similarity=0.75, shared=("bus",))
            for a, b in pairs
        ),
    )


def _proposal(m: Deliberation, data: Draw) -> str:
    return data.draw(st.sampled_from([*sorted(m.state.merge_proposals), "m0"]), label="proposal")


BUILDERS: dict[type[Command], Builder] = {
    # The assembly
    cmd.CreateAssembly: lambda m, data, room: cmd.CreateAssembly(title=_text(data)),
    cmd.AddParticipant: _add_participant,
    cmd.OpenRound: _open_round,
    cmd.AdjustAllocation: _adjust_allocation,
    cmd.StartRound: lambda m, data, room: cmd.StartRound(
        duration_ms=_maybe(data, DURATIONS),
        question_id=_maybe(data, st.sampled_from([*m.plenary_node_ids(), "n0"])),
        from_map=data.draw(st.booleans(), label="from the map?"),
    ),
    cmd.MoveParticipant: _move_participant,
    cmd.SetRoundTimer: lambda m, data, room: cmd.SetRoundTimer(duration_ms=data.draw(DURATIONS)),
    cmd.ExpireRoundTimer: lambda m, data, room: cmd.ExpireRoundTimer(
        round_id=data.draw(st.sampled_from([*m.round_ids(), "r0"]), label="round")
    ),
    cmd.Broadcast: lambda m, data, room: cmd.Broadcast(text=_text(data)),
    cmd.CloseRound: lambda m, data, room: cmd.CloseRound(after_ms=_maybe(data, RECALL_WARNINGS)),
    cmd.CancelRecall: lambda m, data, room: cmd.CancelRecall(),
    cmd.RecallRound: lambda m, data, room: cmd.RecallRound(
        round_id=data.draw(st.sampled_from([*m.round_ids(), "r0"]), label="round")
    ),
    # The lead's oversight
    cmd.SetFairnessAlarms: lambda m, data, room: cmd.SetFairnessAlarms(
        unspoken_after_ms=_maybe(data, DURATIONS),
        max_gini=_maybe(data, st.sampled_from([0.0, 0.3, 0.5, 1.0, 1.5])),
        max_wait_ms=_maybe(data, DURATIONS),
        min_stratum_ratio=_maybe(data, st.sampled_from([-0.1, 0.5, 1.0])),
    ),
    cmd.SendFacilitatorNote: lambda m, data, room: cmd.SendFacilitatorNote(
        room=room, text=_text(data)
    ),
    # Speaking turns
    cmd.RaiseHand: lambda m, data, room: cmd.RaiseHand(room=room),
    cmd.LowerHand: lambda m, data, room: cmd.LowerHand(room=room),
    cmd.RequestReply: lambda m, data, room: cmd.RequestReply(room=room),
    cmd.WithdrawReply: lambda m, data, room: cmd.WithdrawReply(room=room),
    cmd.GrantFloor: lambda m, data, room: cmd.GrantFloor(
        room=room,
        participant=None
        if data.draw(st.booleans(), label="next in line?")
        else m.pick_participant(data, room, among=m.queued(room)),
    ),
    cmd.NextSpeaker: lambda m, data, room: cmd.NextSpeaker(room=room),
    cmd.YieldFloor: lambda m, data, room: cmd.YieldFloor(room=room),
    cmd.ExpireTurn: _expire_turn,
    cmd.ExtendTurn: lambda m, data, room: cmd.ExtendTurn(room=room, by_ms=data.draw(DURATIONS)),
    cmd.RevokeFloor: lambda m, data, room: cmd.RevokeFloor(
        room=room, reason=data.draw(st.sampled_from(REASONS), label="reason")
    ),
    cmd.SetRoomRules: _set_room_rules,
    cmd.ReorderQueue: _reorder_queue,
    cmd.MoveToTop: lambda m, data, room: cmd.MoveToTop(
        room=room, participant=m.pick_participant(data, room, among=m.queued(room))
    ),
    cmd.RemoveFromQueue: lambda m, data, room: cmd.RemoveFromQueue(
        room=room, participant=m.pick_participant(data, room, among=m.queued(room))
    ),
    cmd.Speak: lambda m, data, room: cmd.Speak(room=room, text=_text(data)),
    cmd.Interject: lambda m, data, room: cmd.Interject(room=room, text=_text(data)),
    # Moderation
    cmd.MuteParticipant: lambda m, data, room: cmd.MuteParticipant(
        room=room,
        participant=m.pick_participant(data, room, among=m.in_lanes(room)),
        reason=data.draw(st.sampled_from(REASONS), label="reason"),
    ),
    cmd.UnmuteParticipant: _unmute,
    cmd.RemoveParticipant: lambda m, data, room: cmd.RemoveParticipant(
        room=room,
        participant=m.pick_participant(data, room, among=m.in_lanes(room)),
        reason=data.draw(st.sampled_from(REASONS), label="reason"),
    ),
    cmd.LockRoom: lambda m, data, room: cmd.LockRoom(room=room),
    cmd.UnlockRoom: lambda m, data, room: cmd.UnlockRoom(room=room),
    cmd.PauseRoom: lambda m, data, room: cmd.PauseRoom(room=room),
    cmd.ResumeRoom: lambda m, data, room: cmd.ResumeRoom(room=room),
    # Voice
    cmd.RecordVoiceActivity: _record_voice,
    # Agenda
    cmd.AddAgendaItem: lambda m, data, room: cmd.AddAgendaItem(
        room=room,
        title=_text(data),
        duration_ms=data.draw(DURATIONS),
        question_id=None
        if data.draw(st.booleans(), label="no question?")
        else m.pick_node(data, room, ("question",)),
    ),
    cmd.AdvanceAgenda: lambda m, data, room: cmd.AdvanceAgenda(room=room),
    cmd.ExtendAgendaItem: lambda m, data, room: cmd.ExtendAgendaItem(
        room=room, by_ms=data.draw(DURATIONS)
    ),
    cmd.ExpireAgendaItem: _expire_item,
    # Argument threads
    cmd.PoseQuestion: lambda m, data, room: cmd.PoseQuestion(room=room, text=_text(data)),
    cmd.PostPosition: lambda m, data, room: cmd.PostPosition(
        room=room, question_id=m.pick_node(data, room, ("question",)), text=_text(data)
    ),
    cmd.PostArgument: lambda m, data, room: cmd.PostArgument(
        room=room,
        position_id=m.pick_node(data, room, ("position",)),
        stance=data.draw(st.sampled_from(["for", "against"]), label="stance"),
        text=_text(data),
    ),
    cmd.PostReply: lambda m, data, room: cmd.PostReply(
        room=room, parent_id=m.pick_node(data, room, ("argument", "reply")), text=_text(data)
    ),
    cmd.Endorse: lambda m, data, room: cmd.Endorse(room=room, node_id=m.pick_node(data, room)),
    cmd.WithdrawEndorsement: lambda m, data, room: cmd.WithdrawEndorsement(
        room=room, node_id=m.pick_node(data, room)
    ),
    cmd.HidePost: lambda m, data, room: cmd.HidePost(
        room=room,
        node_id=m.pick_node(data, room),
        reason=data.draw(st.sampled_from(REASONS), label="reason"),
    ),
    cmd.UnhidePost: lambda m, data, room: cmd.UnhidePost(
        room=room,
        node_id=m.pick_node(data, room),
        reason=data.draw(st.sampled_from(REASONS), label="reason"),
    ),
    cmd.MergeNodes: lambda m, data, room: cmd.MergeNodes(
        room=room, duplicate_id=m.pick_node(data, room), into_id=m.pick_node(data, room)
    ),
    cmd.LinkTurn: lambda m, data, room: cmd.LinkTurn(room=room, node_id=m.pick_node(data, room)),
    # Polls
    cmd.OpenPoll: _open_poll,
    cmd.Vote: _vote,
    cmd.ClosePoll: lambda m, data, room: cmd.ClosePoll(room=room, poll_id=m.pick_poll(data, room)),
    # Reporting back to the plenary
    cmd.ProposeCarry: _propose_carry,
    cmd.ObjectToCarry: lambda m, data, room: cmd.ObjectToCarry(room=room, reason=_text(data)),
    cmd.ProposeMerges: _propose_merges,
    cmd.ConfirmMerge: lambda m, data, room: cmd.ConfirmMerge(proposal_id=_proposal(m, data)),
    cmd.RejectMerge: lambda m, data, room: cmd.RejectMerge(proposal_id=_proposal(m, data)),
}

COMMAND_TYPES = sorted(Command.registry.values(), key=lambda command_type: command_type.name)
# The heart of a room, drawn more often: a hand is raised more often than a room is locked.
# Shrinking moves towards the first entry of each list, so the most telling one comes first.
TURN_COMMANDS = [
    cmd.RaiseHand, cmd.RaiseHand, cmd.RaiseHand, cmd.RequestReply, cmd.RequestReply, cmd.GrantFloor,
    cmd.GrantFloor, cmd.NextSpeaker, cmd.NextSpeaker, cmd.YieldFloor, cmd.Speak, cmd.LowerHand,
    cmd.WithdrawReply, cmd.ExtendTurn, cmd.SetRoomRules, cmd.PauseRoom, cmd.ResumeRoom,
    cmd.RecordVoiceActivity, cmd.RecordVoiceActivity,
]  # fmt: skip
MODERATION_COMMANDS = [
    cmd.RevokeFloor, cmd.ReorderQueue, cmd.MoveToTop, cmd.RemoveFromQueue, cmd.MuteParticipant,
    cmd.UnmuteParticipant, cmd.RemoveParticipant, cmd.PauseRoom, cmd.ResumeRoom, cmd.LockRoom,
    cmd.UnlockRoom, cmd.LinkTurn, cmd.Interject,
]  # fmt: skip
DELIBERATION_COMMANDS = [
    cmd.PostPosition, cmd.PostArgument, cmd.PoseQuestion, cmd.PostPosition, cmd.PostArgument,
    cmd.PostReply, cmd.Endorse, cmd.WithdrawEndorsement, cmd.HidePost, cmd.UnhidePost,
    cmd.MergeNodes, cmd.OpenPoll, cmd.Vote, cmd.Vote, cmd.ClosePoll, cmd.AddAgendaItem,
    cmd.AdvanceAgenda, cmd.AdvanceAgenda, cmd.ExtendAgendaItem, cmd.ProposeCarry,
    cmd.ObjectToCarry,
]  # fmt: skip
ROUND_COMMANDS = [
    cmd.OpenRound, cmd.OpenRound, cmd.StartRound, cmd.StartRound, cmd.AdjustAllocation,
    cmd.MoveParticipant, cmd.MoveParticipant, cmd.SetRoundTimer, cmd.CloseRound, cmd.CloseRound,
    cmd.CancelRecall, cmd.AddParticipant, cmd.ProposeMerges, cmd.ConfirmMerge, cmd.RejectMerge,
]  # fmt: skip
EXPIRIES = (cmd.ExpireTurn, cmd.ExpireAgendaItem, cmd.ExpireRoundTimer, cmd.RecallRound)


def test_an_automatic_plenary_passes_the_floor_on_when_a_round_starts() -> None:
    """Found by the state machine: the speaker left for a breakout room and `late`, who joined
    after the proposal and stays behind, waited in an automatic plenary with the floor free."""
    world = assembly(jurors=2)
    world.run("lead", cmd.SetRoomRules(room=PLENARY_ROOM, auto=True))
    world.run("j1", cmd.RaiseHand(room=PLENARY_ROOM))  # auto: j1 speaks at once
    world.run("lead", cmd.OpenRound(room_count=1))
    world.add("late", Role.JUROR)
    world.run("late", cmd.RequestReply(room=PLENARY_ROOM))

    world.run("lead", cmd.StartRound())

    assert world.plenary.floor is not None and world.plenary.floor.speaker == "late"
    assert replay(world.log) == world.state


def test_next_speaker_in_an_automatic_room_never_leaves_the_floor_idle() -> None:
    """Found by the state machine: `j2`, replying and also queued for a turn of their own, was
    passed over by `next_speaker` though no one else waited, and the floor stayed free."""
    world = assembly(jurors=2)
    world.run("f1", cmd.SetRoomRules(room=PLENARY_ROOM, auto=True))
    world.run("j1", cmd.RaiseHand(room=PLENARY_ROOM))  # auto: j1 speaks at once
    world.run("j2", cmd.RequestReply(room=PLENARY_ROOM))
    world.run("j2", cmd.RaiseHand(room=PLENARY_ROOM))
    world.run("j1", cmd.YieldFloor(room=PLENARY_ROOM))  # auto: j2 replies, and stays queued

    world.run("f1", cmd.NextSpeaker(room=PLENARY_ROOM))

    turn = world.plenary.floor
    assert turn is not None and (turn.speaker, turn.kind) == ("j2", "turn")
    assert replay(world.log) == world.state


def test_every_command_has_a_builder() -> None:
    missing = {cls.__name__ for cls in COMMAND_TYPES} - {cls.__name__ for cls in BUILDERS}
    assert not missing, f"teach the state machine to build {sorted(missing)}"


TestDeliberation = Deliberation.TestCase
TestDeliberation.settings = settings.get_profile(PROFILE)
