"""Polls: single choice, multiple choice and agree-disagree scales, open ballot or secret."""

import json
from collections import Counter

import pytest

from facilitation import PLENARY_ROOM, ErrorCode, evolve
from facilitation.codec import encode, encode_state
from facilitation.commands import ClosePoll, OpenPoll, Vote
from facilitation.events import PollClosed, PollOpened, VoteCast
from facilitation.limits import AGREEMENT_SCALE, MAX_LABEL_CHARS, MAX_POLL_OPTIONS, MAX_TEXT_CHARS
from facilitation.polls import BallotKeyMissing, ballot_id
from facilitation.roles import BALLOT_ACTOR
from facilitation.state import Poll
from tests.core.builders import TEST_BALLOT_KEY, World, assembly, only

P = PLENARY_ROOM


def open_poll(world: World, command: OpenPoll) -> Poll:
    poll_id = only(world.run("f1", command), PollOpened).poll_id
    return world.state.rooms[P].polls[poll_id]


def single(world: World, *, secret: bool = False) -> Poll:
    return open_poll(
        world,
        OpenPoll(
            room=P,
            question="Build the bridge?",
            kind="single",
            options=("Yes", "No"),
            secret=secret,
        ),
    )


def close(world: World, poll: Poll) -> PollClosed:
    return only(world.run("f1", ClosePoll(room=P, poll_id=poll.id)), PollClosed)


# --- Opening --------------------------------------------------------------------------------


def test_a_single_choice_poll_opens_with_its_options() -> None:
    world = assembly()

    poll = open_poll(
        world,
        OpenPoll(
            room=P,
            question="  Which site?  ",
            kind="single",
            options=(" North bank ", "South bank", "Neither"),
        ),
    )

    assert (poll.question, poll.kind, poll.open, poll.secret) == (
        "Which site?",
        "single",
        True,
        False,
    )
    assert poll.options == ("North bank", "South bank", "Neither")
    assert poll.votes == {}


def test_a_scale_poll_without_options_uses_the_agree_disagree_scale() -> None:
    world = assembly()

    poll = open_poll(world, OpenPoll(room=P, question="The bridge is needed.", kind="scale"))

    assert poll.options == AGREEMENT_SCALE
    assert poll.options[0] == "Strongly disagree"
    assert poll.options[-1] == "Strongly agree"


def test_a_scale_poll_may_name_its_own_points() -> None:
    world = assembly()

    poll = open_poll(
        world,
        OpenPoll(room=P, question="How urgent?", kind="scale", options=("Low", "Medium", "High")),
    )

    assert poll.options == ("Low", "Medium", "High")


def test_the_secret_flag_is_kept_on_the_poll() -> None:
    world = assembly()

    secret = single(world, secret=True)
    public = single(world)

    assert secret.secret
    assert not public.secret
    assert secret.id != public.id


def test_a_poll_needs_a_question_within_the_limit() -> None:
    world = assembly()

    assert world.refuse("f1", OpenPoll(room=P, question=" ", kind="scale")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("f1", OpenPoll(room=P, question="x" * (MAX_TEXT_CHARS + 1), kind="scale"))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_poll_options_must_be_non_empty_short_labels() -> None:
    world = assembly()

    assert (
        world.refuse("f1", OpenPoll(room=P, question="Q", kind="single", options=("Yes", "  ")))
        == ErrorCode.TEXT_EMPTY
    )
    long_option = "x" * (MAX_LABEL_CHARS + 1)
    assert (
        world.refuse(
            "f1", OpenPoll(room=P, question="Q", kind="single", options=("Yes", long_option))
        )
        == ErrorCode.TEXT_TOO_LONG
    )


def test_a_poll_needs_two_to_twenty_distinct_options() -> None:
    world = assembly()
    too_many = tuple(f"Option {n}" for n in range(MAX_POLL_OPTIONS + 1))

    assert (
        world.refuse("f1", OpenPoll(room=P, question="Q", kind="single")) == ErrorCode.INVALID_POLL
    )
    assert (
        world.refuse("f1", OpenPoll(room=P, question="Q", kind="multiple", options=("Only",)))
        == ErrorCode.INVALID_POLL
    )
    assert (
        world.refuse("f1", OpenPoll(room=P, question="Q", kind="single", options=too_many))
        == ErrorCode.INVALID_POLL
    )
    assert (
        world.refuse("f1", OpenPoll(room=P, question="Q", kind="single", options=("Yes", " Yes")))
        == ErrorCode.INVALID_POLL
    )
    open_poll(world, OpenPoll(room=P, question="Q", kind="single", options=too_many[:-1]))


# --- Voting ---------------------------------------------------------------------------------


def test_a_juror_votes_for_one_option() -> None:
    world = assembly()
    poll = single(world)

    events = world.run("j1", Vote(room=P, poll_id=poll.id, choices=(1,)))

    cast = only(events, VoteCast)
    assert (cast.actor, cast.poll_id, cast.choices) == ("j1", poll.id, (1,))
    assert poll.votes == {"j1": (1,)}


def test_a_juror_changes_their_vote_while_the_poll_is_open() -> None:
    world = assembly()
    poll = single(world)
    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(1,)))
    world.tick(5_000)

    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,)))

    assert poll.votes == {"j1": (0,)}
    assert close(world, poll).totals == (1, 0)


def test_a_multiple_choice_vote_records_each_option_once_in_order() -> None:
    world = assembly()
    poll = open_poll(
        world,
        OpenPoll(
            room=P, question="Which matter?", kind="multiple", options=("Cost", "Traffic", "Nature")
        ),
    )

    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(2, 0)))

    assert poll.votes == {"j1": (0, 2)}


def test_a_vote_on_a_scale_takes_one_point() -> None:
    world = assembly()
    poll = open_poll(world, OpenPoll(room=P, question="The bridge is needed.", kind="scale"))

    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(4,)))

    assert (
        world.refuse("j2", Vote(room=P, poll_id=poll.id, choices=(3, 4)))
        == ErrorCode.INVALID_CHOICE
    )
    assert (
        world.refuse("j2", Vote(room=P, poll_id=poll.id, choices=(5,))) == ErrorCode.INVALID_CHOICE
    )


def test_a_single_choice_vote_takes_exactly_one_option() -> None:
    world = assembly()
    poll = single(world)

    assert (
        world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=(0, 1)))
        == ErrorCode.INVALID_CHOICE
    )
    assert world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=())) == ErrorCode.INVALID_CHOICE


def test_a_vote_must_name_existing_options_each_once() -> None:
    world = assembly()
    poll = open_poll(
        world,
        OpenPoll(room=P, question="Which matter?", kind="multiple", options=("Cost", "Traffic")),
    )

    assert (
        world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=(2,))) == ErrorCode.INVALID_CHOICE
    )
    assert (
        world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=(-1,))) == ErrorCode.INVALID_CHOICE
    )
    assert (
        world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=(0, 0)))
        == ErrorCode.INVALID_CHOICE
    )
    assert world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=())) == ErrorCode.INVALID_CHOICE


def test_voting_in_a_missing_poll_is_refused() -> None:
    world = assembly()

    assert world.refuse("j1", Vote(room=P, poll_id="p99", choices=(0,))) == ErrorCode.POLL_NOT_FOUND


# --- Closing --------------------------------------------------------------------------------


def test_closing_gives_the_totals_per_option_and_the_number_of_voters() -> None:
    world = assembly(jurors=5)
    poll = open_poll(
        world,
        OpenPoll(
            room=P, question="Which matter?", kind="multiple", options=("Cost", "Traffic", "Nature")
        ),
    )
    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0, 1)))
    world.run("j2", Vote(room=P, poll_id=poll.id, choices=(1,)))
    world.run("j3", Vote(room=P, poll_id=poll.id, choices=(0, 1, 2)))
    world.run("j4", Vote(room=P, poll_id=poll.id, choices=(1,)))

    closed = close(world, poll)

    assert (closed.totals, closed.voters) == ((2, 4, 1), 4)
    assert not poll.open


def test_closing_a_poll_nobody_voted_in_gives_zero_totals() -> None:
    world = assembly()
    poll = open_poll(world, OpenPoll(room=P, question="The bridge is needed.", kind="scale"))

    closed = close(world, poll)

    assert (closed.totals, closed.voters) == ((0, 0, 0, 0, 0), 0)


def test_a_secret_poll_closes_with_totals_only() -> None:
    world = assembly()
    poll = single(world, secret=True)
    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,)))
    world.run("j2", Vote(room=P, poll_id=poll.id, choices=(0,)))

    closed = close(world, poll)

    assert (closed.totals, closed.voters) == ((2, 0), 2)
    assert poll.secret


def test_no_vote_once_the_poll_is_closed() -> None:
    world = assembly()
    poll = single(world)
    world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,)))
    close(world, poll)

    assert world.refuse("j1", Vote(room=P, poll_id=poll.id, choices=(1,))) == ErrorCode.POLL_CLOSED
    assert world.refuse("j2", Vote(room=P, poll_id=poll.id, choices=(1,))) == ErrorCode.POLL_CLOSED
    assert poll.votes == {"j1": (0,)}


def test_closing_a_closed_or_missing_poll_is_refused() -> None:
    world = assembly()
    poll = single(world)
    close(world, poll)

    assert world.refuse("f1", ClosePoll(room=P, poll_id=poll.id)) == ErrorCode.POLL_CLOSED
    assert world.refuse("f1", ClosePoll(room=P, poll_id="p99")) == ErrorCode.POLL_NOT_FOUND


# --- Secret ballots -------------------------------------------------------------------------


def test_a_secret_vote_is_recorded_under_a_ballot_and_never_under_the_voter() -> None:
    world = assembly()
    poll = single(world, secret=True)

    cast = only(world.run("j1", Vote(room=P, poll_id=poll.id, choices=(1,))), VoteCast)

    assert cast.actor == BALLOT_ACTOR
    assert cast.ballot == ballot_id(TEST_BALLOT_KEY, P, poll.id, "j1")
    assert "j1" not in json.dumps(encode(cast))
    assert poll.votes == {cast.ballot: (1,)}
    snapshot = encode_state(world.state)["rooms"][P]["polls"][poll.id]
    assert "j1" not in json.dumps(snapshot)


def test_voting_again_in_a_secret_poll_replaces_the_vote_of_the_same_ballot() -> None:
    world = assembly()
    poll = single(world, secret=True)
    first = only(world.run("j1", Vote(room=P, poll_id=poll.id, choices=(1,))), VoteCast)
    world.run("j2", Vote(room=P, poll_id=poll.id, choices=(1,)))
    world.tick(5_000)

    changed = only(world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,))), VoteCast)

    assert changed.ballot == first.ballot
    assert poll.votes[first.ballot] == (0,)
    assert (close(world, poll).totals, len(poll.votes)) == ((1, 1), 2)


def test_each_voter_has_an_unrelated_ballot_in_each_poll_and_assembly() -> None:
    world = assembly()
    polls = [single(world, secret=True), single(world, secret=True)]
    for poll in polls:
        world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,)))
        world.run("j2", Vote(room=P, poll_id=poll.id, choices=(0,)))
    ballots = [ballot for poll in polls for ballot in poll.votes]

    assert len(set(ballots)) == 4
    # Another assembly's key gives the same voter in the same poll another ballot.
    assert ballot_id(b"another key", P, polls[0].id, "j1") not in ballots


def test_a_secret_vote_without_a_ballot_key_is_a_server_fault_and_records_nothing() -> None:
    world = assembly()
    poll = single(world, secret=True)
    world.ballot_key = b""

    with pytest.raises(BallotKeyMissing):
        world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,)))
    assert poll.votes == {}


def test_the_totals_of_a_secret_poll_add_up_the_last_vote_of_each_ballot_in_the_log() -> None:
    world = assembly(jurors=4)
    poll = open_poll(
        world,
        OpenPoll(room=P, question="Which?", kind="multiple", options=("A", "B", "C"), secret=True),
    )
    for juror, choices in [
        ("j1", (0,)),
        ("j2", (1, 2)),
        ("j1", (2,)),
        ("j3", (0, 1)),
        ("j2", (1,)),
    ]:
        world.run(juror, Vote(room=P, poll_id=poll.id, choices=choices))

    closed = close(world, poll)

    last: dict[str, tuple[int, ...]] = {}
    for event in world.log:
        if isinstance(event, VoteCast) and event.poll_id == poll.id:
            assert event.actor == BALLOT_ACTOR
            last[event.ballot] = event.choices
    counted = Counter(choice for choices in last.values() for choice in choices)
    assert closed.totals == tuple(counted[index] for index in range(3)) == (1, 2, 1)
    assert closed.voters == len(last) == 3


def test_an_open_poll_still_records_who_voted_what() -> None:
    world = assembly()
    poll = single(world)

    cast = only(world.run("j1", Vote(room=P, poll_id=poll.id, choices=(1,))), VoteCast)

    assert (cast.actor, cast.ballot) == ("j1", "")
    assert poll.votes == {"j1": (1,)}


def test_secret_votes_logged_under_the_voter_by_older_versions_still_count_once() -> None:
    """Logs from before ballots were sealed: the voter was the actor and there was no ballot."""
    world = assembly()
    poll = single(world, secret=True)
    seq = world.state.seqs[P] + 1
    old = VoteCast(room=P, seq=seq, actor="j1", at_ms=world.now_ms, poll_id=poll.id, choices=(1,))
    evolve(world.state, old)
    world.log.append(old)

    again = only(world.run("j1", Vote(room=P, poll_id=poll.id, choices=(0,))), VoteCast)
    world.run("j2", Vote(room=P, poll_id=poll.id, choices=(0,)))

    # The juror already stands in this poll's record: their change replaces that vote.
    assert (again.actor, again.ballot) == ("j1", "")
    assert (close(world, poll).totals, len(poll.votes)) == ((2, 0), 2)
