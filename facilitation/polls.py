"""Polls: single choice, multiple choice or an agree-disagree scale, open ballot or secret.

A secret ballot is recorded without its voter: the vote's actor is `BALLOT_ACTOR` and its
`ballot` an HMAC of the poll and the voter under a key the caller keeps outside the log. The
same voter always gets the same ballot in a poll, so a new vote replaces the old one, while
the log, its snapshots and its export link no voter to a choice. Totals stay checkable from
the log: the last choices of each ballot, added up.
"""

import hashlib
import hmac
import json

from facilitation.commands import ClosePoll, OpenPoll, Vote
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import PollClosed, PollOpened, VoteCast
from facilitation.limits import AGREEMENT_SCALE, MAX_LABEL_CHARS, MAX_POLL_OPTIONS
from facilitation.registry import Decision, clean_text, decides_in_room, evolves
from facilitation.roles import BALLOT_ACTOR
from facilitation.state import Assembly, Poll, Room


class BallotKeyMissing(RuntimeError):
    """A secret vote decided without the assembly's ballot key: a server fault, never the
    voter's, so it is raised rather than refused, and nothing is recorded."""


def ballot_id(key: bytes, room: str, poll_id: str, voter: str) -> str:
    """The ballot of `voter` in one poll: the same for every vote they cast in it, and
    unlinkable to them without `key`. Poll ids repeat across rooms, so the room is part of it;
    the assembly is not, since each assembly has its own key."""
    message = json.dumps([room, poll_id, voter], separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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
    """A vote replaces the juror's earlier vote in the same poll (in a secret poll, the earlier
    vote of the same ballot)."""
    poll = _open_poll(room, command.poll_id)
    choices = tuple(sorted(set(command.choices)))
    if len(choices) != len(command.choices) or not choices:
        raise Refusal(ErrorCode.INVALID_CHOICE, "choose at least one option, each once")
    if any(not 0 <= choice < len(poll.options) for choice in choices):
        raise Refusal(ErrorCode.INVALID_CHOICE, "no such option")
    if poll.kind != "multiple" and len(choices) != 1:
        raise Refusal(ErrorCode.INVALID_CHOICE, "this poll takes exactly one choice")
    envelope = d.at(room.id)
    # A secret poll that already holds this juror's vote under their id was opened before
    # ballots were sealed: recording the change the same way keeps one vote per voter.
    if not poll.secret or d.actor in poll.votes:
        d.emit(VoteCast(**envelope, poll_id=poll.id, choices=choices))
        return
    if not d.ballot_key:
        raise BallotKeyMissing("a secret vote needs the assembly's ballot key")
    envelope["actor"] = BALLOT_ACTOR
    ballot = ballot_id(d.ballot_key, room.id, poll.id, d.actor)
    d.emit(VoteCast(**envelope, poll_id=poll.id, choices=choices, ballot=ballot))


@evolves(VoteCast)
def vote_cast(state: Assembly, event: VoteCast) -> None:
    voter = event.ballot or event.actor
    state.rooms[event.room].polls[event.poll_id].votes[voter] = event.choices


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
