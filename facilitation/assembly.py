"""The assembly as a whole: its roster, breakout rounds, broadcasts and the way back to plenary."""

import re

from facilitation import allocation
from facilitation.commands import (
    AddParticipant,
    AdjustAllocation,
    Broadcast,
    CancelRecall,
    CloseRound,
    CreateAssembly,
    ExpireRoundTimer,
    MoveParticipant,
    OpenRound,
    RecallRound,
    SetRoundTimer,
    StartRound,
)
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    AllocationAdjusted,
    AnnouncementBroadcast,
    AssemblyCreated,
    FloorGranted,
    HandLowered,
    ParticipantAdded,
    ParticipantMoved,
    PositionPosted,
    PositionsCarried,
    ProposedRoom,
    QuestionPosed,
    RecallCancelled,
    RecallScheduled,
    ReplyWithdrawn,
    RoundClosed,
    RoundProposed,
    RoundStarted,
    RoundTimerEnded,
    RoundTimerSet,
    TurnEnded,
)
from facilitation.limits import (
    MAX_ATTRIBUTES,
    MAX_LABEL_CHARS,
    MAX_RECALL_WARNING_MS,
    MIN_RECALL_WARNING_MS,
)
from facilitation.registry import Decision, check_duration, clean_text, decides, evolves, open_room
from facilitation.roles import ASSEMBLY_STREAM, PLENARY_ROOM, SYSTEM_ACTOR, Role
from facilitation.state import Assembly, Node, Participant, Room, Round
from facilitation.synthesis import canonical, carry_at_recall
from facilitation.turns import end_turn, give_floor_if_auto, leave_lanes

# Ids travel in URLs and logs: a short, plain alphabet keeps them safe everywhere.
PARTICIPANT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SEATED_ROLES = (Role.JUROR, Role.FACILITATOR)


@decides(
    CreateAssembly,
    yields=(AssemblyCreated,),
    refusals=(ErrorCode.ASSEMBLY_EXISTS, ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG),
)
def create_assembly(d: Decision, command: CreateAssembly) -> None:
    if d.state.created:
        raise Refusal(ErrorCode.ASSEMBLY_EXISTS)
    title = clean_text(command.title, limit=MAX_LABEL_CHARS, what="the title")
    d.emit(
        AssemblyCreated(
            **d.at(ASSEMBLY_STREAM),
            title=title,
            public=command.public,
            pseudonymous=command.pseudonymous,
        )
    )


@evolves(AssemblyCreated)
def assembly_created(state: Assembly, event: AssemblyCreated) -> None:
    state.created = True
    state.title = event.title
    state.public = event.public
    state.pseudonymous = event.pseudonymous
    state.rooms[PLENARY_ROOM].name = "Plenary"
    state.rooms[PLENARY_ROOM].opened_at_ms = event.at_ms


@decides(
    AddParticipant,
    yields=(ParticipantAdded,),
    refusals=(
        ErrorCode.FORBIDDEN,
        ErrorCode.INVALID_PARTICIPANT,
        ErrorCode.PARTICIPANT_EXISTS,
        ErrorCode.TEXT_EMPTY,
        ErrorCode.TEXT_TOO_LONG,
    ),
)
def add_participant(d: Decision, command: AddParticipant) -> None:
    if not PARTICIPANT_ID.fullmatch(command.participant) or command.participant == SYSTEM_ACTOR:
        raise Refusal(ErrorCode.INVALID_PARTICIPANT, "ids are 1-64 letters, digits, . _ -")
    if command.role is Role.SYSTEM:
        raise Refusal(ErrorCode.INVALID_PARTICIPANT, "system is not a participant's role")
    if command.role is Role.LEAD and d.actor != SYSTEM_ACTOR:
        raise Refusal(ErrorCode.FORBIDDEN, "only the organiser appoints a lead")
    if command.participant in d.state.participants:
        raise Refusal(ErrorCode.PARTICIPANT_EXISTS, command.participant)
    name = clean_text(command.display_name, limit=MAX_LABEL_CHARS, what="the name")
    attributes = dict(command.attributes or {})
    if len(attributes) > MAX_ATTRIBUTES or any(
        not key.strip() or len(key) > MAX_LABEL_CHARS or len(value) > MAX_LABEL_CHARS
        for key, value in attributes.items()
    ):
        raise Refusal(
            ErrorCode.INVALID_PARTICIPANT,
            f"at most {MAX_ATTRIBUTES} attributes, each a named label",
        )
    same_role = sum(1 for p in d.state.participants.values() if p.role is command.role)
    d.emit(
        ParticipantAdded(
            **d.at(ASSEMBLY_STREAM),
            participant=command.participant,
            display_name=name,
            role=command.role,
            attributes=attributes,
            pseudonym=f"{command.role.value.capitalize()} {same_role + 1}",
        )
    )


@evolves(ParticipantAdded)
def participant_added(state: Assembly, event: ParticipantAdded) -> None:
    """Jurors and facilitators start in the plenary, whatever round is running."""
    seated = event.role in SEATED_ROLES
    state.participants[event.participant] = Participant(
        event.participant,
        event.display_name,
        event.role,
        dict(event.attributes),
        event.pseudonym,
        PLENARY_ROOM if seated else None,
    )
    plenary = state.rooms[PLENARY_ROOM]
    if event.role is Role.JUROR:
        plenary.jurors.add(event.participant)
    elif event.role is Role.FACILITATOR:
        plenary.facilitators.add(event.participant)


# --- Breakout rounds ------------------------------------------------------------------------


@decides(
    OpenRound,
    yields=(RoundProposed,),
    refusals=(ErrorCode.ROUND_IN_PROGRESS, ErrorCode.INVALID_ROUND),
)
def open_round(d: Decision, command: OpenRound) -> None:
    state = d.state
    if state.current_round() is not None:
        raise Refusal(ErrorCode.ROUND_IN_PROGRESS)
    if (command.room_count is None) == (command.room_size is None):
        raise Refusal(ErrorCode.INVALID_ROUND, "give either a number of rooms or a room size")
    jurors = {
        pid: state.participants[pid].attributes for pid in sorted(state.rooms[PLENARY_ROOM].jurors)
    }
    if not jurors:
        raise Refusal(ErrorCode.INVALID_ROUND, "no juror is in the plenary")
    if command.room_size is not None:
        if command.room_size < 1:
            raise Refusal(ErrorCode.INVALID_ROUND, "a room holds at least one juror")
        room_count = allocation.room_count_for_size(len(jurors), command.room_size)
    else:
        room_count = command.room_count or 0
    if not 1 <= room_count <= len(jurors):
        raise Refusal(ErrorCode.INVALID_ROUND, f"1 to {len(jurors)} rooms for {len(jurors)} jurors")
    history = [[list(room.jurors) for room in past.rooms] for past in state.rounds if past.started]
    rooms = allocation.allocate(jurors, room_count, history=history, seed=command.seed)
    facilitators = sorted(
        pid
        for pid, participant in state.participants.items()
        if participant.role is Role.FACILITATOR and participant.room is not None
    )
    runners = allocation.assign_facilitators(facilitators, room_count)
    envelope = d.at(ASSEMBLY_STREAM)
    round_id = f"r{envelope['seq']}"
    proposed = tuple(
        ProposedRoom(
            room_id=f"{round_id}-{index + 1}",
            name=f"Room {index + 1}",
            jurors=tuple(members),
            facilitators=tuple(runners[index]),
        )
        for index, members in enumerate(rooms)
    )
    d.emit(RoundProposed(**envelope, round_id=round_id, rooms=proposed))


@evolves(RoundProposed)
def round_proposed(state: Assembly, event: RoundProposed) -> None:
    state.rounds.append(Round(event.round_id, list(event.rooms)))


def _proposed_round(state: Assembly) -> Round:
    current = state.current_round()
    if current is None or current.started:
        raise Refusal(ErrorCode.NO_ROUND_PROPOSED)
    return current


def _running_round(state: Assembly) -> Round:
    current = state.current_round()
    if current is None or not current.started:
        raise Refusal(ErrorCode.NO_ROUND_RUNNING)
    return current


@decides(
    AdjustAllocation,
    yields=(AllocationAdjusted,),
    refusals=(
        ErrorCode.NO_ROUND_PROPOSED,
        ErrorCode.ROOM_NOT_FOUND,
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.ALREADY_IN_ROOM,
    ),
)
def adjust_allocation(d: Decision, command: AdjustAllocation) -> None:
    proposal = _proposed_round(d.state)
    target = next((room for room in proposal.rooms if room.room_id == command.to_room), None)
    if target is None:
        raise Refusal(ErrorCode.ROOM_NOT_FOUND, command.to_room)
    placed = [
        room
        for room in proposal.rooms
        if command.participant in room.jurors or command.participant in room.facilitators
    ]
    if not placed:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, f"{command.participant} is not in this round")
    if placed == [target]:
        raise Refusal(ErrorCode.ALREADY_IN_ROOM, command.to_room)
    d.emit(
        AllocationAdjusted(
            **d.at(ASSEMBLY_STREAM),
            round_id=proposal.id,
            participant=command.participant,
            to_room=command.to_room,
        )
    )


@evolves(AllocationAdjusted)
def allocation_adjusted(state: Assembly, event: AllocationAdjusted) -> None:
    """A juror changes rooms; a facilitator leaves every room they ran for the target alone."""
    proposal = state.rounds[-1]
    was_juror = any(event.participant in room.jurors for room in proposal.rooms)

    def without_then_placed(room: ProposedRoom) -> ProposedRoom:
        jurors = [p for p in room.jurors if p != event.participant]
        facilitators = [p for p in room.facilitators if p != event.participant]
        if room.room_id == event.to_room:
            (jurors if was_juror else facilitators).append(event.participant)
        return ProposedRoom(
            room_id=room.room_id,
            name=room.name,
            jurors=tuple(sorted(jurors)),
            facilitators=tuple(facilitators),
        )

    proposal.rooms = [without_then_placed(room) for room in proposal.rooms]


@decides(
    StartRound,
    yields=(
        RoundStarted,
        HandLowered,
        ReplyWithdrawn,
        TurnEnded,
        FloorGranted,
        QuestionPosed,
        PositionPosted,
    ),
    refusals=(
        ErrorCode.NO_ROUND_PROPOSED,
        ErrorCode.INVALID_DURATION,
        ErrorCode.NODE_NOT_FOUND,
        ErrorCode.INVALID_PARENT,
        ErrorCode.INVALID_ROUND,
    ),
)
def start_round(d: Decision, command: StartRound) -> None:
    proposal = _proposed_round(d.state)
    if command.duration_ms is not None:
        check_duration(command.duration_ms)
    plenary = d.state.rooms[PLENARY_ROOM]
    question = _round_question(plenary, command.question_id)
    if command.from_map and question is None:
        raise Refusal(ErrorCode.INVALID_ROUND, "a round from the map needs a plenary question")
    if command.from_map and not d.state.carried:
        raise Refusal(ErrorCode.INVALID_ROUND, "the plenary's map is empty")
    # Only jurors still in the plenary go: one removed or moved since the proposal stays put.
    rooms = tuple(
        ProposedRoom(
            room_id=room.room_id,
            name=room.name,
            jurors=tuple(juror for juror in room.jurors if juror in plenary.jurors),
            facilitators=room.facilitators,
        )
        for room in proposal.rooms
    )
    leaving = {juror for room in rooms for juror in room.jurors}
    floor_freed = False
    for room in rooms:
        for juror in room.jurors:
            floor_freed = leave_lanes(d, plenary, juror, "round_started") or floor_freed
    if floor_freed:
        # In auto mode the floor passes on at once, to the next in line who stays behind.
        give_floor_if_auto(d, plenary, exclude=leaving)
    deadline = None if command.duration_ms is None else d.now + command.duration_ms
    d.emit(
        RoundStarted(
            **d.at(ASSEMBLY_STREAM), round_id=proposal.id, rooms=rooms, deadline_ms=deadline
        )
    )
    if question is not None:
        # Each room starts from the plenary's question, posed by the lead who carried it.
        for room in rooms:
            envelope = d.at(room.room_id)
            question_id = f"n{envelope['seq']}"
            d.emit(QuestionPosed(**envelope, node_id=question_id, text=question.text))
            if command.from_map:
                _positions_from_map(d, room.room_id, question_id)


def _positions_from_map(d: Decision, room_id: str, question_id: str) -> None:
    """One position per merged position of the plenary's map, in the words of its first room."""
    for entry in d.state.carried.values():
        if canonical(d.state, entry.id) != entry.id:
            continue
        envelope = d.at(room_id)
        d.emit(
            PositionPosted(
                **envelope,
                node_id=f"n{envelope['seq']}",
                question_id=question_id,
                text=entry.text,
                origin=entry.id,
            )
        )


def _round_question(plenary: Room, named: str | None) -> Node | None:
    """The plenary question a round's rooms start from: the one named, else the latest one
    still standing (not hidden, not merged into another), else none."""
    if named is not None:
        node = plenary.nodes.get(named)
        if node is None:
            raise Refusal(ErrorCode.NODE_NOT_FOUND, f"no {named!r} in the plenary")
        if node.kind != "question" or node.hidden:
            raise Refusal(ErrorCode.INVALID_PARENT, f"{named!r} is no question of the plenary")
        return node
    standing = [
        node
        for node in plenary.nodes.values()
        if node.kind == "question" and not node.hidden and node.merged_into is None
    ]
    return max(standing, key=lambda node: node.posted_at_ms, default=None)


@evolves(RoundStarted)
def round_started(state: Assembly, event: RoundStarted) -> None:
    current = state.rounds[-1]
    current.started = True
    current.rooms = list(event.rooms)
    current.deadline_ms = event.deadline_ms
    plenary = state.rooms[PLENARY_ROOM]
    for proposed in event.rooms:
        room = Room(
            proposed.room_id, proposed.name, round_id=event.round_id, opened_at_ms=event.at_ms
        )
        room.jurors = set(proposed.jurors)
        room.facilitators = set(proposed.facilitators)
        state.rooms[room.id] = room
        for juror in proposed.jurors:
            plenary.jurors.discard(juror)
            plenary.left_at_ms[juror] = event.at_ms
            state.participants[juror].room = room.id
        for facilitator in proposed.facilitators:
            if facilitator in plenary.facilitators:
                plenary.facilitators.discard(facilitator)
                plenary.left_at_ms[facilitator] = event.at_ms
            state.participants[facilitator].room = room.id


@decides(
    MoveParticipant,
    yields=(ParticipantMoved, HandLowered, ReplyWithdrawn, TurnEnded, FloorGranted),
    refusals=(
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.INVALID_PARTICIPANT,
        ErrorCode.ROOM_NOT_FOUND,
        ErrorCode.ROOM_CLOSED,
        ErrorCode.ALREADY_IN_ROOM,
    ),
)
def move_participant(d: Decision, command: MoveParticipant) -> None:
    participant = d.state.participants.get(command.participant)
    if participant is None:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, command.participant)
    if participant.role not in SEATED_ROLES:
        raise Refusal(ErrorCode.INVALID_PARTICIPANT, "only jurors and facilitators sit in rooms")
    open_room(d.state, command.to_room)
    if participant.room == command.to_room:
        raise Refusal(ErrorCode.ALREADY_IN_ROOM, command.to_room)
    source = d.state.rooms.get(participant.room) if participant.room else None
    leaving_floor = (
        source is not None
        and participant.role is Role.JUROR
        and leave_lanes(d, source, participant.id, "moved")
    )
    if source is not None and leaving_floor:
        give_floor_if_auto(d, source, exclude={participant.id})
    d.emit(
        ParticipantMoved(
            **d.at(ASSEMBLY_STREAM),
            participant=participant.id,
            from_room=participant.room,
            to_room=command.to_room,
        )
    )


@evolves(ParticipantMoved)
def participant_moved(state: Assembly, event: ParticipantMoved) -> None:
    participant = state.participants[event.participant]
    target = state.rooms[event.to_room]
    source = state.rooms.get(event.from_room) if event.from_room else None
    if source is not None:
        source.left_at_ms[participant.id] = event.at_ms
    if participant.role is Role.JUROR:
        if source is not None:
            source.jurors.discard(participant.id)
        target.jurors.add(participant.id)
    else:
        if source is not None:
            source.facilitators.discard(participant.id)
        target.facilitators.add(participant.id)
    participant.room = event.to_room


@decides(
    SetRoundTimer,
    yields=(RoundTimerSet,),
    refusals=(ErrorCode.NO_ROUND_RUNNING, ErrorCode.INVALID_DURATION),
)
def set_round_timer(d: Decision, command: SetRoundTimer) -> None:
    check_duration(command.duration_ms)
    running = _running_round(d.state)
    d.emit(
        RoundTimerSet(
            **d.at(ASSEMBLY_STREAM), round_id=running.id, deadline_ms=d.now + command.duration_ms
        )
    )


@evolves(RoundTimerSet)
def round_timer_set(state: Assembly, event: RoundTimerSet) -> None:
    state.rounds[-1].deadline_ms = event.deadline_ms


@decides(ExpireRoundTimer, yields=(RoundTimerEnded,))
def expire_round_timer(d: Decision, command: ExpireRoundTimer) -> None:
    """Time is up in every room; the lead decides when to recall. A stale expiry does nothing."""
    current = d.state.current_round()
    if current is None or current.id != command.round_id or not current.started:
        return
    if current.deadline_ms is None or d.now < current.deadline_ms:
        return
    d.emit(RoundTimerEnded(**d.at(ASSEMBLY_STREAM), round_id=current.id))


@evolves(RoundTimerEnded)
def round_timer_ended(state: Assembly, event: RoundTimerEnded) -> None:
    state.rounds[-1].deadline_ms = None


@decides(
    Broadcast,
    yields=(AnnouncementBroadcast,),
    refusals=(ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG),
)
def broadcast(d: Decision, command: Broadcast) -> None:
    text = clean_text(command.text)
    d.emit(AnnouncementBroadcast(**d.at(ASSEMBLY_STREAM), text=text))


@evolves(AnnouncementBroadcast)
def announcement_broadcast(state: Assembly, event: AnnouncementBroadcast) -> None:
    state.announcements.append((event.at_ms, event.text))


@decides(
    CloseRound,
    yields=(RoundClosed, TurnEnded, RecallScheduled, PositionsCarried),
    refusals=(ErrorCode.NO_ROUND_RUNNING, ErrorCode.INVALID_DURATION),
)
def close_round(d: Decision, command: CloseRound) -> None:
    """Recall everyone to plenary, now or after a warning; a round only proposed is simply
    withdrawn (nobody is away to warn)."""
    current = d.state.current_round()
    if current is None:
        raise Refusal(ErrorCode.NO_ROUND_RUNNING)
    if command.after_ms is not None:
        check_duration(
            command.after_ms, low_ms=MIN_RECALL_WARNING_MS, high_ms=MAX_RECALL_WARNING_MS
        )
        if current.started:
            d.emit(
                RecallScheduled(
                    **d.at(ASSEMBLY_STREAM),
                    round_id=current.id,
                    recall_at_ms=d.now + command.after_ms,
                )
            )
            return
    _close(d, current)


def _close(d: Decision, current: Round) -> None:
    if current.started:
        for proposed in current.rooms:
            room = d.state.rooms[proposed.room_id]
            if room.floor is not None:
                end_turn(d, room, "round_closed")
        # What each room carries back is recorded before it closes, in its own words.
        carry_at_recall(d, current)
    d.emit(RoundClosed(**d.at(ASSEMBLY_STREAM), round_id=current.id))


@evolves(RecallScheduled)
def recall_scheduled(state: Assembly, event: RecallScheduled) -> None:
    state.rounds[-1].recall_at_ms = event.recall_at_ms


@decides(
    CancelRecall,
    yields=(RecallCancelled,),
    refusals=(ErrorCode.NO_ROUND_RUNNING, ErrorCode.NO_RECALL),
)
def cancel_recall(d: Decision, command: CancelRecall) -> None:
    current = d.state.current_round()
    if current is None or not current.started:
        raise Refusal(ErrorCode.NO_ROUND_RUNNING)
    if current.recall_at_ms is None:
        raise Refusal(ErrorCode.NO_RECALL)
    d.emit(RecallCancelled(**d.at(ASSEMBLY_STREAM), round_id=current.id))


@evolves(RecallCancelled)
def recall_cancelled(state: Assembly, event: RecallCancelled) -> None:
    state.rounds[-1].recall_at_ms = None


@decides(RecallRound, yields=(RoundClosed, TurnEnded, PositionsCarried))
def recall_round(d: Decision, command: RecallRound) -> None:
    """The announced recall, when its time comes. A stale one (cancelled, moved, or the round
    closed already) does nothing."""
    current = d.state.current_round()
    if current is None or current.id != command.round_id or current.recall_at_ms is None:
        return
    if d.now < current.recall_at_ms:
        return
    _close(d, current)


@evolves(RoundClosed)
def round_closed(state: Assembly, event: RoundClosed) -> None:
    current = state.rounds[-1]
    current.closed = True
    if not current.started:
        return
    # What the lead told the rooms ("ten minutes left") is over with the round; the log keeps it.
    state.announcements.clear()
    plenary = state.rooms[PLENARY_ROOM]
    for room in state.rooms.values():
        if room.round_id != event.round_id:
            continue
        room.closed = True
        room.queue = []
        room.replies = []
        for juror in room.jurors:
            plenary.jurors.add(juror)
            state.participants[juror].room = PLENARY_ROOM
        for facilitator in room.facilitators:
            plenary.facilitators.add(facilitator)
            state.participants[facilitator].room = PLENARY_ROOM
