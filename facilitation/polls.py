"""Polls: single choice, multiple choice or an agree-disagree scale, open ballot or secret."""

from facilitation.commands import ClosePoll, OpenPoll, Vote
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import PollClosed, PollOpened, VoteCast
from facilitation.limits import AGREEMENT_SCALE, MAX_LABEL_CHARS, MAX_POLL_OPTIONS
from facilitation.registry import Decision, clean_text, decides_in_room, evolves
from facilitation.state import Assembly, Poll, Room


def totals(poll: Poll) -> tuple[int, ...]:
    """Votes per option: a secret poll shows only these, never who chose what."""
    counts = [0] * len(poll.options)
    for choices in poll.votes.values():
        for choice in choices:
            counts[choice] += 1
    return tuple(counts)


@decides_in_room(
    OpenPoll,
    yields=(PollOpened,),
    refusals=(ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG, ErrorCode.INVALID_POLL),
)
def open_poll(d: Decision, room: Room, command: OpenPoll) -> None:
    question = clean_text(command.question)
    raw_options = command.options or (AGREEMENT_SCALE if command.kind == "scale" else ())
    options = tuple(
        clean_text(option, limit=MAX_LABEL_CHARS, what="an option") for option in raw_options
    )
    if not 2 <= len(options) <= MAX_POLL_OPTIONS:
        raise Refusal(ErrorCode.INVALID_POLL, f"a poll has 2 to {MAX_POLL_OPTIONS} options")
    if len(set(options)) != len(options):
        raise Refusal(ErrorCode.INVALID_POLL, "options must differ")
    envelope = d.at(room.id)
    d.emit(
        PollOpened(
            **envelope,
            poll_id=f"p{envelope['seq']}",
            question=question,
            kind=command.kind,
            options=options,
            secret=command.secret,
        )
    )


@evolves(PollOpened)
def poll_opened(state: Assembly, event: PollOpened) -> None:
    state.rooms[event.room].polls[event.poll_id] = Poll(
        event.poll_id, event.question, event.kind, event.options, event.secret
    )


def _open_poll(room: Room, poll_id: str) -> Poll:
    poll = room.polls.get(poll_id)
    if poll is None:
        raise Refusal(ErrorCode.POLL_NOT_FOUND, poll_id)
    if not poll.open:
        raise Refusal(ErrorCode.POLL_CLOSED, poll_id)
    return poll


@decides_in_room(
    Vote,
    yields=(VoteCast,),
    refusals=(ErrorCode.POLL_NOT_FOUND, ErrorCode.POLL_CLOSED, ErrorCode.INVALID_CHOICE),
)
def vote(d: Decision, room: Room, command: Vote) -> None:
    """A vote replaces the juror's earlier vote in the same poll."""
    poll = _open_poll(room, command.poll_id)
    choices = tuple(sorted(set(command.choices)))
    if len(choices) != len(command.choices) or not choices:
        raise Refusal(ErrorCode.INVALID_CHOICE, "choose at least one option, each once")
    if any(not 0 <= choice < len(poll.options) for choice in choices):
        raise Refusal(ErrorCode.INVALID_CHOICE, "no such option")
    if poll.kind != "multiple" and len(choices) != 1:
        raise Refusal(ErrorCode.INVALID_CHOICE, "this poll takes exactly one choice")
    d.emit(VoteCast(**d.at(room.id), poll_id=poll.id, choices=choices))


@evolves(VoteCast)
def vote_cast(state: Assembly, event: VoteCast) -> None:
    state.rooms[event.room].polls[event.poll_id].votes[event.actor] = event.choices


@decides_in_room(
    ClosePoll, yields=(PollClosed,), refusals=(ErrorCode.POLL_NOT_FOUND, ErrorCode.POLL_CLOSED)
)
def close_poll(d: Decision, room: Room, command: ClosePoll) -> None:
    poll = _open_poll(room, command.poll_id)
    d.emit(
        PollClosed(**d.at(room.id), poll_id=poll.id, totals=totals(poll), voters=len(poll.votes))
    )


@evolves(PollClosed)
def poll_closed(state: Assembly, event: PollClosed) -> None:
    state.rooms[event.room].polls[event.poll_id].open = False
