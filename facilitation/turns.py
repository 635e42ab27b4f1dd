"""Speaking turns: hands, the queue, the reply lane, the floor, its deadline and the transcript."""

from collections.abc import Collection

from facilitation import queue as policies
from facilitation.commands import (
    ExpireTurn,
    ExtendTurn,
    GrantFloor,
    Interject,
    LowerHand,
    MoveToTop,
    NextSpeaker,
    RaiseHand,
    RemoveFromQueue,
    ReorderQueue,
    RequestReply,
    RevokeFloor,
    SetRoomRules,
    Speak,
    WithdrawReply,
    YieldFloor,
)
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    FloorGranted,
    HandLowered,
    HandRaised,
    LeaveReason,
    QueueReordered,
    ReplyRequested,
    ReplyWithdrawn,
    RoomRulesChanged,
    StatementMade,
    TurnEnded,
    TurnEndReason,
    TurnExtended,
    TurnKind,
)
from facilitation.limits import MAX_REPLIES_PER_TURN, MAX_TURN_LIMIT_MS, MIN_TURN_LIMIT_MS
from facilitation.registry import (
    Decision,
    check_duration,
    clean_reason,
    clean_text,
    decides_in_room,
    evolves,
    seated_juror,
)
from facilitation.state import (
    Assembly,
    QueueEntry,
    Room,
    Rules,
    SpeakerStats,
    Statement,
    Turn,
)

# --- Helpers other rules share (moderation and rounds end turns and clear lanes too) ----------


def next_candidate(
    room: Room, *, exclude: Collection[str] = (), queue: list[QueueEntry] | None = None
) -> tuple[str, TurnKind] | None:
    """Who gets the floor next: the reply lane first, then the queue, passing over `exclude`
    (people leaving the room, or the speaker whose turn just ended)."""
    for entry in room.replies:
        if entry.participant not in exclude:
            return entry.participant, "reply"
    for entry in room.queue if queue is None else queue:
        if entry.participant not in exclude:
            return entry.participant, "turn"
    return None


def grant(d: Decision, room: Room, speaker: str, kind: TurnKind) -> None:
    envelope = d.at(room.id)
    limit_ms = room.rules.reply_limit_ms if kind == "reply" else room.rules.turn_limit_ms
    deadline_ms = d.now + limit_ms
    d.emit(
        FloorGranted(
            **envelope,
            turn_id=f"t{envelope['seq']}",
            speaker=speaker,
            kind=kind,
            deadline_ms=deadline_ms,
            warning_at_ms=max(d.now, deadline_ms - room.rules.warning_ms),
        )
    )


def spoken_duration_ms(room: Room, turn: Turn, now_ms: int) -> int:
    """Speaking time of a turn ending now: a pause stops the clock, the deadline caps it."""
    end_ms = now_ms if room.paused_at_ms is None else room.paused_at_ms
    return max(0, min(end_ms, turn.deadline_ms) - turn.started_at_ms - turn.paused_ms)


def end_turn(d: Decision, room: Room, reason: TurnEndReason, note: str = "") -> None:
    turn = room.floor
    assert turn is not None
    d.emit(
        TurnEnded(
            **d.at(room.id),
            turn_id=turn.id,
            speaker=turn.speaker,
            reason=reason,
            duration_ms=spoken_duration_ms(room, turn, d.now),
            note=note,
        )
    )


def give_floor_if_auto(d: Decision, room: Room, *, exclude: Collection[str] = ()) -> None:
    """In auto mode a free floor goes straight to the next in line (never while paused)."""
    if room.rules.auto and room.paused_at_ms is None:
        candidate = next_candidate(room, exclude=exclude)
        if candidate is not None:
            grant(d, room, *candidate)


def leave_lanes(d: Decision, room: Room, participant: str, reason: LeaveReason) -> bool:
    """Take a participant out of the floor, the queue and the reply lane of a room they leave.

    Returns whether they held the floor, so the caller can pass it on.
    """
    if room.queued(participant):
        d.emit(HandLowered(**d.at(room.id), participant=participant, reason=reason))
    if room.replying(participant):
        d.emit(ReplyWithdrawn(**d.at(room.id), participant=participant, reason=reason))
    if room.floor is not None and room.floor.speaker == participant:
        end_turn(d, room, reason)
        return True
    return False


def _spoken_ms(state: Assembly) -> policies.SpokenMs:
    return lambda participant: state.participants[participant].spoken_ms


# --- Hands and the queue --------------------------------------------------------------------


@decides_in_room(
    RaiseHand,
    yields=(HandRaised, FloorGranted),
    refusals=(
        ErrorCode.MUTED,
        ErrorCode.ROOM_LOCKED,
        ErrorCode.ALREADY_SPEAKING,
        ErrorCode.ALREADY_IN_QUEUE,
    ),
)
def raise_hand(d: Decision, room: Room, command: RaiseHand) -> None:
    if d.actor in room.muted:
        raise Refusal(ErrorCode.MUTED)
    if room.locked:
        raise Refusal(ErrorCode.ROOM_LOCKED)
    if room.floor is not None and room.floor.speaker == d.actor:
        raise Refusal(ErrorCode.ALREADY_SPEAKING)
    if room.queued(d.actor):
        raise Refusal(ErrorCode.ALREADY_IN_QUEUE)
    d.emit(HandRaised(**d.at(room.id), participant=d.actor))
    if room.rules.auto and room.floor is None and room.paused_at_ms is None:
        entry = QueueEntry(d.actor, d.now)
        at = policies.insertion_index(room.queue, entry, room.rules.policy, _spoken_ms(d.state))
        after = [*room.queue[:at], entry, *room.queue[at:]]
        candidate = next_candidate(room, queue=after)
        assert candidate is not None
        grant(d, room, *candidate)


@evolves(HandRaised)
def hand_raised(state: Assembly, event: HandRaised) -> None:
    room = state.rooms[event.room]
    entry = QueueEntry(event.participant, event.at_ms)
    at = policies.insertion_index(room.queue, entry, room.rules.policy, _spoken_ms(state))
    room.queue.insert(at, entry)


@decides_in_room(LowerHand, yields=(HandLowered,), refusals=(ErrorCode.NOT_IN_QUEUE,))
def lower_hand(d: Decision, room: Room, command: LowerHand) -> None:
    if not room.queued(d.actor):
        raise Refusal(ErrorCode.NOT_IN_QUEUE)
    d.emit(HandLowered(**d.at(room.id), participant=d.actor, reason="lowered"))


@decides_in_room(
    RemoveFromQueue,
    yields=(HandLowered,),
    refusals=(ErrorCode.UNKNOWN_PARTICIPANT, ErrorCode.NOT_IN_QUEUE),
)
def remove_from_queue(d: Decision, room: Room, command: RemoveFromQueue) -> None:
    if command.participant not in d.state.participants:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, command.participant)
    if not room.queued(command.participant):
        raise Refusal(ErrorCode.NOT_IN_QUEUE, command.participant)
    d.emit(HandLowered(**d.at(room.id), participant=command.participant, reason="removed"))


@evolves(HandLowered)
def hand_lowered(state: Assembly, event: HandLowered) -> None:
    room = state.rooms[event.room]
    room.queue = [entry for entry in room.queue if entry.participant != event.participant]


@decides_in_room(ReorderQueue, yields=(QueueReordered,), refusals=(ErrorCode.INVALID_ORDER,))
def reorder_queue(d: Decision, room: Room, command: ReorderQueue) -> None:
    queued = [entry.participant for entry in room.queue]
    if sorted(command.order) != sorted(queued) or len(set(command.order)) != len(queued):
        raise Refusal(ErrorCode.INVALID_ORDER, "the order must list everyone queued, once")
    d.emit(QueueReordered(**d.at(room.id), order=tuple(command.order)))


@decides_in_room(MoveToTop, yields=(QueueReordered,), refusals=(ErrorCode.NOT_IN_QUEUE,))
def move_to_top(d: Decision, room: Room, command: MoveToTop) -> None:
    if not room.queued(command.participant):
        raise Refusal(ErrorCode.NOT_IN_QUEUE, command.participant)
    rest = [e.participant for e in room.queue if e.participant != command.participant]
    d.emit(QueueReordered(**d.at(room.id), order=(command.participant, *rest)))


@evolves(QueueReordered)
def queue_reordered(state: Assembly, event: QueueReordered) -> None:
    room = state.rooms[event.room]
    by_participant = {entry.participant: entry for entry in room.queue}
    room.queue = [by_participant[participant] for participant in event.order]


# --- The reply lane -------------------------------------------------------------------------


@decides_in_room(
    RequestReply,
    yields=(ReplyRequested,),
    refusals=(
        ErrorCode.MUTED,
        ErrorCode.ROOM_LOCKED,
        ErrorCode.NO_SPEAKER,
        ErrorCode.REPLY_NOT_ALLOWED,
        ErrorCode.ALREADY_REPLYING,
        ErrorCode.REPLY_LANE_FULL,
    ),
)
def request_reply(d: Decision, room: Room, command: RequestReply) -> None:
    """A turn takes at most `replies_per_turn` requests (a room rule), withdrawn ones included,
    so asking, withdrawing and asking again cannot jump the queue."""
    if d.actor in room.muted:
        raise Refusal(ErrorCode.MUTED)
    if room.locked:
        raise Refusal(ErrorCode.ROOM_LOCKED)
    turn = room.floor
    if turn is None:
        raise Refusal(ErrorCode.NO_SPEAKER)
    if turn.speaker == d.actor:
        raise Refusal(ErrorCode.REPLY_NOT_ALLOWED, "you hold the floor")
    if turn.kind == "reply":
        raise Refusal(ErrorCode.REPLY_NOT_ALLOWED, "replies answer a turn, not another reply")
    if room.replying(d.actor):
        raise Refusal(ErrorCode.ALREADY_REPLYING)
    if turn.replies_requested >= room.rules.replies_per_turn:
        raise Refusal(ErrorCode.REPLY_LANE_FULL)
    d.emit(ReplyRequested(**d.at(room.id), participant=d.actor, turn_id=turn.id))


@evolves(ReplyRequested)
def reply_requested(state: Assembly, event: ReplyRequested) -> None:
    room = state.rooms[event.room]
    room.replies.append(QueueEntry(event.participant, event.at_ms))
    if room.floor is not None:
        room.floor.replies_requested += 1


@decides_in_room(WithdrawReply, yields=(ReplyWithdrawn,), refusals=(ErrorCode.NOT_REPLYING,))
def withdraw_reply(d: Decision, room: Room, command: WithdrawReply) -> None:
    if not room.replying(d.actor):
        raise Refusal(ErrorCode.NOT_REPLYING)
    d.emit(ReplyWithdrawn(**d.at(room.id), participant=d.actor, reason="lowered"))


@evolves(ReplyWithdrawn)
def reply_withdrawn(state: Assembly, event: ReplyWithdrawn) -> None:
    room = state.rooms[event.room]
    room.replies = [entry for entry in room.replies if entry.participant != event.participant]


# --- The floor ------------------------------------------------------------------------------


@decides_in_room(
    GrantFloor,
    yields=(FloorGranted,),
    refusals=(
        ErrorCode.ROOM_PAUSED,
        ErrorCode.FLOOR_TAKEN,
        ErrorCode.QUEUE_EMPTY,
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.NOT_IN_ROOM,
        ErrorCode.MUTED,
    ),
)
def grant_floor(d: Decision, room: Room, command: GrantFloor) -> None:
    if room.paused_at_ms is not None:
        raise Refusal(ErrorCode.ROOM_PAUSED)
    if room.floor is not None:
        raise Refusal(ErrorCode.FLOOR_TAKEN, f"{room.floor.speaker} holds the floor")
    if command.participant is None:
        candidate = next_candidate(room)
        if candidate is None:
            raise Refusal(ErrorCode.QUEUE_EMPTY)
        grant(d, room, *candidate)
        return
    seated_juror(d.state, room, command.participant)
    if command.participant in room.muted:
        raise Refusal(ErrorCode.MUTED, command.participant)
    kind: TurnKind = "reply" if room.replying(command.participant) else "turn"
    grant(d, room, command.participant, kind)


@decides_in_room(
    NextSpeaker,
    yields=(TurnEnded, FloorGranted),
    refusals=(ErrorCode.ROOM_PAUSED, ErrorCode.QUEUE_EMPTY),
)
def next_speaker(d: Decision, room: Room, command: NextSpeaker) -> None:
    if room.paused_at_ms is not None:
        raise Refusal(ErrorCode.ROOM_PAUSED)
    speaker = room.floor.speaker if room.floor is not None else None
    candidate = next_candidate(room, exclude=() if speaker is None else {speaker})
    if room.floor is None and candidate is None:
        raise Refusal(ErrorCode.QUEUE_EMPTY)
    if room.floor is not None:
        end_turn(d, room, "next")
    if candidate is not None:
        grant(d, room, *candidate)
    elif room.floor is not None:
        # No one else waits; in auto mode the floor still never idles while the speaker has a
        # turn of their own queued (they were replying).
        give_floor_if_auto(d, room)


@evolves(FloorGranted)
def floor_granted(state: Assembly, event: FloorGranted) -> None:
    room = state.rooms[event.room]
    lane = room.replies if event.kind == "reply" else room.queue
    waited = next((e for e in lane if e.participant == event.speaker), None)
    if event.kind == "reply":
        room.replies = [e for e in room.replies if e.participant != event.speaker]
    else:
        room.queue = [e for e in room.queue if e.participant != event.speaker]
        # Replies answer the turn that just ended; a new turn starts a new exchange.
        room.replies = []
    turn = Turn(
        event.turn_id,
        event.speaker,
        event.kind,
        event.at_ms,
        event.deadline_ms,
        event.warning_at_ms,
    )
    room.turns[turn.id] = turn
    room.floor_turn_id = turn.id
    stats = room.stats.setdefault(event.speaker, SpeakerStats())
    stats.turns += 1
    if waited is not None:
        stats.longest_wait_ms = max(stats.longest_wait_ms, event.at_ms - waited.raised_at_ms)


@decides_in_room(YieldFloor, yields=(TurnEnded, FloorGranted), refusals=(ErrorCode.NOT_YOUR_TURN,))
def yield_floor(d: Decision, room: Room, command: YieldFloor) -> None:
    if room.floor is None or room.floor.speaker != d.actor:
        raise Refusal(ErrorCode.NOT_YOUR_TURN)
    end_turn(d, room, "yielded")
    give_floor_if_auto(d, room)


@decides_in_room(ExpireTurn, yields=(TurnEnded, FloorGranted))
def expire_turn(d: Decision, room: Room, command: ExpireTurn) -> None:
    """A late or repeated expiry is harmless: it decides nothing."""
    turn = room.floor
    if turn is None or turn.id != command.turn_id or room.paused_at_ms is not None:
        return
    if d.now < turn.deadline_ms:
        return
    end_turn(d, room, "expired")
    give_floor_if_auto(d, room)


@decides_in_room(
    RevokeFloor,
    yields=(TurnEnded, FloorGranted),
    refusals=(ErrorCode.NO_SPEAKER, ErrorCode.TEXT_TOO_LONG),
)
def revoke_floor(d: Decision, room: Room, command: RevokeFloor) -> None:
    reason = clean_reason(command.reason, required=False)
    if room.floor is None:
        raise Refusal(ErrorCode.NO_SPEAKER)
    end_turn(d, room, "revoked", reason)
    give_floor_if_auto(d, room)


@evolves(TurnEnded)
def turn_ended(state: Assembly, event: TurnEnded) -> None:
    room = state.rooms[event.room]
    room.floor_turn_id = None
    room.stats.setdefault(event.speaker, SpeakerStats()).spoken_ms += event.duration_ms
    state.participants[event.speaker].spoken_ms += event.duration_ms


@decides_in_room(
    ExtendTurn,
    yields=(TurnExtended,),
    refusals=(ErrorCode.NO_SPEAKER, ErrorCode.INVALID_DURATION),
)
def extend_turn(d: Decision, room: Room, command: ExtendTurn) -> None:
    check_duration(command.by_ms, high_ms=MAX_TURN_LIMIT_MS)
    turn = room.floor
    if turn is None:
        raise Refusal(ErrorCode.NO_SPEAKER)
    # The room's clock: stopped at the pause, if any. An overdue turn (its expiry not yet
    # handled) is extended from now, so the speaker really gets the extra time.
    clock_ms = d.now if room.paused_at_ms is None else room.paused_at_ms
    deadline_ms = max(turn.deadline_ms, clock_ms) + command.by_ms
    d.emit(
        TurnExtended(
            **d.at(room.id),
            turn_id=turn.id,
            deadline_ms=deadline_ms,
            warning_at_ms=max(clock_ms, deadline_ms - room.rules.warning_ms),
        )
    )


@evolves(TurnExtended)
def turn_extended(state: Assembly, event: TurnExtended) -> None:
    turn = state.rooms[event.room].floor
    assert turn is not None and turn.id == event.turn_id
    turn.deadline_ms = event.deadline_ms
    turn.warning_at_ms = event.warning_at_ms


# --- Rules of the room ----------------------------------------------------------------------


@decides_in_room(
    SetRoomRules, yields=(RoomRulesChanged, FloorGranted), refusals=(ErrorCode.INVALID_RULES,)
)
def set_room_rules(d: Decision, room: Room, command: SetRoomRules) -> None:
    old = room.rules
    new = Rules(
        turn_limit_ms=_pick(command.turn_limit_ms, old.turn_limit_ms),
        warning_ms=_pick(command.warning_ms, old.warning_ms),
        reply_limit_ms=_pick(command.reply_limit_ms, old.reply_limit_ms),
        replies_per_turn=_pick(command.replies_per_turn, old.replies_per_turn),
        policy=command.policy or old.policy,
        auto=old.auto if command.auto is None else command.auto,
        open_floor=old.open_floor if command.open_floor is None else command.open_floor,
    )
    if new == old:
        raise Refusal(ErrorCode.INVALID_RULES, "nothing to change")
    for limit in (new.turn_limit_ms, new.reply_limit_ms):
        if not MIN_TURN_LIMIT_MS <= limit <= MAX_TURN_LIMIT_MS:
            raise Refusal(
                ErrorCode.INVALID_RULES,
                f"time limits must be between {MIN_TURN_LIMIT_MS} and {MAX_TURN_LIMIT_MS} ms",
            )
    if not 0 <= new.warning_ms < new.turn_limit_ms:
        raise Refusal(ErrorCode.INVALID_RULES, "the warning must come before the turn ends")
    if not 0 <= new.replies_per_turn <= MAX_REPLIES_PER_TURN:
        raise Refusal(
            ErrorCode.INVALID_RULES, f"replies per turn must be 0 to {MAX_REPLIES_PER_TURN}"
        )
    d.emit(
        RoomRulesChanged(
            **d.at(room.id),
            turn_limit_ms=new.turn_limit_ms,
            warning_ms=new.warning_ms,
            reply_limit_ms=new.reply_limit_ms,
            replies_per_turn=new.replies_per_turn,
            policy=new.policy,
            auto=new.auto,
            open_floor=new.open_floor,
        )
    )
    if new.auto and room.floor is None and room.paused_at_ms is None:
        after = room.queue
        if new.policy == "equity" and old.policy != "equity":
            after = policies.equity_order(room.queue, _spoken_ms(d.state))
        candidate = next_candidate(room, queue=after)
        if candidate is not None:
            grant(d, room, *candidate)


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value


@evolves(RoomRulesChanged)
def room_rules_changed(state: Assembly, event: RoomRulesChanged) -> None:
    room = state.rooms[event.room]
    switched_to_equity = event.policy == "equity" and room.rules.policy != "equity"
    room.rules = Rules(
        event.turn_limit_ms,
        event.warning_ms,
        event.reply_limit_ms,
        event.replies_per_turn,
        event.policy,
        event.auto,
        event.open_floor,
    )
    if switched_to_equity:
        room.queue = policies.equity_order(room.queue, _spoken_ms(state))


# --- The transcript -------------------------------------------------------------------------


@decides_in_room(
    Speak,
    yields=(StatementMade,),
    refusals=(
        ErrorCode.NOT_YOUR_TURN,
        ErrorCode.MUTED,
        ErrorCode.ROOM_PAUSED,
        ErrorCode.TEXT_EMPTY,
        ErrorCode.TEXT_TOO_LONG,
    ),
)
def speak(d: Decision, room: Room, command: Speak) -> None:
    """The floor holder, until their time is up. With the floor open, every juror of the room
    who is not muted, as they may be heard: a statement outside one's own turn belongs to none."""
    own_turn = room.floor if room.floor is not None and room.floor.speaker == d.actor else None
    if room.rules.open_floor:
        if d.actor in room.muted:
            raise Refusal(ErrorCode.MUTED)
    elif own_turn is None:
        raise Refusal(ErrorCode.NOT_YOUR_TURN)
    if room.paused_at_ms is not None:
        raise Refusal(ErrorCode.ROOM_PAUSED)
    if own_turn is not None and not room.rules.open_floor and d.now >= own_turn.deadline_ms:
        raise Refusal(ErrorCode.NOT_YOUR_TURN, "your time is up")
    text = clean_text(command.text)
    envelope = d.at(room.id)
    d.emit(
        StatementMade(
            **envelope,
            statement_id=f"s{envelope['seq']}",
            turn_id=None if own_turn is None else own_turn.id,
            kind="statement",
            text=text,
        )
    )


@decides_in_room(
    Interject, yields=(StatementMade,), refusals=(ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG)
)
def interject(d: Decision, room: Room, command: Interject) -> None:
    text = clean_text(command.text)
    envelope = d.at(room.id)
    turn_id = room.floor.id if room.floor is not None else None
    d.emit(
        StatementMade(
            **envelope,
            statement_id=f"s{envelope['seq']}",
            turn_id=turn_id,
            kind="interjection",
            text=text,
        )
    )


@evolves(StatementMade)
def statement_made(state: Assembly, event: StatementMade) -> None:
    state.rooms[event.room].statements.append(
        Statement(
            event.statement_id, event.turn_id, event.actor, event.kind, event.text, event.at_ms
        )
    )
