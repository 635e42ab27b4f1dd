"""The merged map of a recorded twelve-room session: the server's similarity proposes the
planted near-duplicates (French and English) and nothing is merged until the lead says so."""

import copy

import pytest

from facilitation import SYSTEM_ACTOR
from facilitation.commands import ConfirmMerge, RejectMerge
from facilitation.synthesis import canonical, map_groups
from server.similarity import Text, fold, gram_words, near_duplicates, shared_words
from server.synthesis import proposals, texts_for
from server.views import synthesis_view
from tests.fixtures.synthesis_session import OBJECTION, ROOMS, Recorded, record


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    return record()


def proposed_pairs(recorded: Recorded) -> set[frozenset[str]]:
    round_id = recorded.world.state.rounds[-1].id
    texts, skip = texts_for(recorded.world.state, round_id)
    return {frozenset((p.first, p.second)) for p in near_duplicates(texts, skip=skip)}


def test_the_session_has_at_least_ten_rooms_in_french_and_english(recorded: Recorded) -> None:
    state = recorded.world.state
    assert ROOMS >= 10
    assert len({entry.room for entry in state.carried.values()}) == ROOMS
    assert any("é" in text for text in recorded.texts.values())
    assert any(" the " in text for text in recorded.texts.values())


def test_the_proposals_find_the_planted_pairs_with_precision_and_recall_of_at_least_0_8(
    recorded: Recorded,
) -> None:
    found = proposed_pairs(recorded)
    right = found & recorded.pairs
    precision = len(right) / len(found) if found else 0.0
    recall = len(right) / len(recorded.pairs)
    print(
        f"\nmerge proposals: {len(found)} found, {len(right)} of {len(recorded.pairs)} planted"
        f" pairs; precision {precision:.2f}, recall {recall:.2f}"
    )
    assert precision >= 0.8
    assert recall >= 0.8


def test_proposals_never_merge_on_their_own(recorded: Recorded) -> None:
    world = recorded.world
    before = len(map_groups(world.state))
    round_id = world.state.rounds[-1].id
    texts, skip = texts_for(world.state, round_id)
    command = proposals(round_id, near_duplicates(texts, skip=skip))
    events = world.decide(SYSTEM_ACTOR, command)
    assert events
    state = world.state
    assert len(map_groups(state)) == before == len(state.carried)
    assert all(entry.merged_into is None for entry in state.carried.values())


def test_every_unique_position_reaches_the_plenary_map(recorded: Recorded) -> None:
    state = recorded.world.state
    standing = {group[0].id: group for group in map_groups(state)}
    assert recorded.unique <= set(standing)
    # In its own room's words, alone in its group, in what every viewer of the plenary is sent.
    sent = {entry["entry_id"]: entry for entry in synthesis_view(state)["entries"]}
    for entry_id in recorded.unique:
        assert [e.text for e in standing[entry_id]] == [recorded.texts[entry_id]]
        assert sent[entry_id]["text"] == recorded.texts[entry_id]
        assert sent[entry_id]["merged_into"] is None


def test_a_confirmed_merge_keeps_each_rooms_wording_and_the_objection(recorded: Recorded) -> None:
    world = copy.deepcopy(recorded.world)
    round_id = world.state.rounds[-1].id
    texts, skip = texts_for(world.state, round_id)
    world.run(SYSTEM_ACTOR, proposals(round_id, near_duplicates(texts, skip=skip)))
    # The lead confirms the true pairs and rejects the rest (a unique position stays alone).
    for proposal in list(world.state.merge_proposals.values()):
        pair = frozenset((proposal.first, proposal.second))
        decision = ConfirmMerge if pair in recorded.pairs else RejectMerge
        world.run("lead", decision(proposal_id=proposal.id))
    groups = map_groups(world.state)
    assert recorded.unique <= {group[0].id for group in groups}
    assert len(groups) == len(world.state.carried) - len(recorded.pairs)
    for pair in recorded.pairs:
        first, second = sorted(pair)
        assert canonical(world.state, first) == canonical(world.state, second)
        group = next(g for g in groups if g[0].id == canonical(world.state, first))
        assert {e.text for e in group} == {recorded.texts[first], recorded.texts[second]}
    objections = [o.reason for found in world.state.carry_objections.values() for o in found]
    assert objections == [OBJECTION]


def test_the_lead_sees_the_words_that_made_each_proposal(recorded: Recorded) -> None:
    round_id = recorded.world.state.rounds[-1].id
    texts, skip = texts_for(recorded.world.state, round_id)
    for pair in near_duplicates(texts, skip=skip):
        assert pair.shared, pair
    bus, buses = gram_words("Free bus for all"), gram_words("Free buses for all")
    assert shared_words(bus, buses, [(" bus", 1.0), ("s ", 2.0)]) == ("bus ~ buses",)
    assert fold("Médiathèque") == "mediatheque"


def test_texts_already_together_or_proposed_before_are_not_proposed_again() -> None:
    texts = [
        Text("a", "a", "Free buses for every resident", True),
        Text("b", "a", "Free buses for all residents", True),
        Text("c", "c", "Free buses for all residents!", False),
        Text("d", "d", "Plant trees along the main streets", False),
    ]
    found = {frozenset((p.first, p.second)) for p in near_duplicates(texts)}
    assert frozenset(("a", "b")) not in found  # one group already
    assert frozenset(("a", "c")) in found
    assert frozenset(("b", "c")) in found
    again = near_duplicates(texts, skip=[("c", "a")])
    assert {frozenset((p.first, p.second)) for p in again} == {frozenset(("b", "c"))}
    # Two texts carried in earlier rounds only are not compared again.
    assert near_duplicates([t for t in texts if not t.new]) == []
