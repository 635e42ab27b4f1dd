"""Tests for dealing jurors into balanced breakout rooms that keep apart those who already met."""

import random
import statistics
from collections import Counter
from collections.abc import Callable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facilitation.allocation import (
    Rooms,
    allocate,
    assign_facilitators,
    attribute_spread,
    repeat_meetings,
    room_count_for_size,
)

Jurors = dict[str, dict[str, str]]
History = list[Rooms]

# Uneven on purpose, like a real sortition pool: a rare band, a rare gender, a small region.
AGE_BAND_WEIGHTS = {"18-29": 3, "30-44": 4, "45-59": 4, "60-74": 3, "75+": 1}
GENDER_WEIGHTS = {"f": 48, "m": 48, "x": 4}
REGION_WEIGHTS = {"north": 30, "south": 25, "east": 15, "west": 15, "centre": 10, "islands": 5}


def make_jurors(count: int, seed: int) -> Jurors:
    draw = random.Random(seed)

    def pick(weights: Mapping[str, int]) -> str:
        return draw.choices(list(weights), weights=list(weights.values()))[0]

    return {
        f"juror-{number:04d}": {
            "age": pick(AGE_BAND_WEIGHTS),
            "gender": pick(GENDER_WEIGHTS),
            "region": pick(REGION_WEIGHTS),
        }
        for number in range(count)
    }


def random_allocation(jurors: Mapping[str, Mapping[str, str]], room_count: int, seed: int) -> Rooms:
    """The baseline: shuffle, then cut into rooms whose sizes differ by at most one."""
    ids = sorted(jurors)
    random.Random(seed).shuffle(ids)
    base, extra = divmod(len(ids), room_count)
    rooms: Rooms = []
    start = 0
    for room in range(room_count):
        size = base + (1 if room < extra else 0)
        rooms.append(sorted(ids[start : start + size]))
        start += size
    return rooms


Allocator = Callable[[Jurors, int, History, int], Rooms]


def total_repeats_over_rounds(
    jurors: Jurors, room_count: int, rounds: int, seed: int, allocator: Allocator
) -> int:
    history: History = []
    total = 0
    for round_number in range(rounds):
        rooms = allocator(jurors, room_count, history, seed * 100 + round_number)
        total += repeat_meetings(rooms, history)
        history.append(rooms)
    return total


def ours(jurors: Jurors, room_count: int, history: History, seed: int) -> Rooms:
    return allocate(jurors, room_count, history=history, seed=seed)


def baseline(jurors: Jurors, room_count: int, history: History, seed: int) -> Rooms:
    return random_allocation(jurors, room_count, seed)


def assert_is_partition_with_even_sizes(
    rooms: Rooms, jurors: Mapping[str, object], count: int
) -> None:
    assert len(rooms) == count
    placed = [juror for room in rooms for juror in room]
    assert sorted(placed) == sorted(jurors)  # each juror exactly once
    sizes = [len(room) for room in rooms]
    assert max(sizes) - min(sizes) <= 1


def test_every_juror_is_placed_once_and_sizes_differ_by_at_most_one() -> None:
    jurors = make_jurors(103, seed=3)
    history = [random_allocation(jurors, 10, seed) for seed in range(2)]

    rooms = allocate(jurors, 10, history=history, seed=5)

    assert_is_partition_with_even_sizes(rooms, jurors, 10)
    assert all(room == sorted(room) for room in rooms)


def test_150_jurors_three_attributes_15_rooms_each_value_within_one_of_ideal() -> None:
    jurors = make_jurors(150, seed=2024)
    room_count = 15
    history: History = []
    for round_number in range(3):  # history must not cost any balance
        rooms = allocate(jurors, room_count, history=history, seed=round_number)

        for column in ("age", "gender", "region"):
            totals = Counter(attributes[column] for attributes in jurors.values())
            for room in rooms:
                counts = Counter(jurors[juror][column] for juror in room)
                for value, total in totals.items():
                    assert total // room_count <= counts[value] <= -(-total // room_count), (
                        f"round {round_number}: {column}={value} has {counts[value]} in a room, "
                        f"ideal {total / room_count:.2f}"
                    )
        assert attribute_spread(rooms, jurors) < 1
        history.append(rooms)


def test_three_rounds_repeat_meetings_at_most_half_of_random() -> None:
    seeds = range(5)
    ours_per_seed = []
    random_per_seed = []
    for seed in seeds:
        jurors = make_jurors(150, seed=seed)
        ours_per_seed.append(total_repeats_over_rounds(jurors, 15, 3, seed, ours))
        random_per_seed.append(total_repeats_over_rounds(jurors, 15, 3, seed, baseline))

    ours_mean = statistics.mean(ours_per_seed)
    random_mean = statistics.mean(random_per_seed)
    assert random_mean > 50, "the baseline should meet often, or the comparison says nothing"
    assert ours_mean <= random_mean / 2, f"ours {ours_per_seed}, random {random_per_seed}"


def test_same_seed_same_allocation() -> None:
    jurors = make_jurors(60, seed=8)
    history = [random_allocation(jurors, 6, seed=1)]
    reordered = dict(reversed(list(jurors.items())))

    first = allocate(jurors, 6, history=history, seed=42)
    again = allocate(reordered, 6, history=history, seed=42)

    assert first == again


def test_different_seeds_may_give_different_allocations() -> None:
    jurors = make_jurors(60, seed=8)

    allocations = {repr(allocate(jurors, 6, seed=seed)) for seed in range(5)}

    assert len(allocations) > 1


@pytest.mark.parametrize("room_count", [0, -1, 11])
def test_refuses_bad_room_counts(room_count: int) -> None:
    jurors = make_jurors(10, seed=1)

    with pytest.raises(ValueError, match="room"):
        allocate(jurors, room_count)


def test_as_many_rooms_as_jurors_seats_each_alone() -> None:
    jurors = make_jurors(7, seed=1)

    rooms = allocate(jurors, 7)

    assert sorted(rooms) == [[juror] for juror in sorted(jurors)]


def test_missing_attributes_count_as_their_own_value() -> None:
    jurors: Jurors = {
        "ana": {"age": "18-29"},
        "ben": {"age": "18-29"},
        "cy": {"region": "north"},
        "dee": {"region": "north"},
    }

    rooms = allocate(jurors, 2)

    # Balanced only if the two jurors without an age (and the two without a region) are split.
    assert attribute_spread(rooms, jurors) == 0.0
    assert attribute_spread([["ana", "ben"], ["cy", "dee"]], jurors) == 1.0


def test_history_passed_as_a_single_round_is_refused() -> None:
    jurors = make_jurors(4, seed=1)
    one_round = [["juror-0000", "juror-0001"], ["juror-0002", "juror-0003"]]

    with pytest.raises(TypeError, match="history"):
        allocate(jurors, 2, history=one_round)  # type-checks: a str is a Sequence[str]


def test_repeat_meetings_counts_each_pair_once_per_earlier_round() -> None:
    rooms = [["ana", "ben", "cy"], ["dee"]]
    history = [
        [["ana", "ben"], ["ben", "ana"], ["cy"]],  # listed twice, still one meeting that round
        [["ana", "ben", "dee"], ["cy", "zed"]],
        [["cy", "ana"], ["ben"]],
    ]

    assert repeat_meetings(rooms, history) == 3  # ana-ben in two rounds, ana-cy in one


def test_attribute_spread_of_a_lopsided_split() -> None:
    jurors: Jurors = {name: {"gender": "f"} for name in ("ana", "bea", "cat")}
    jurors["dan"] = {"gender": "m"}

    assert attribute_spread([["ana", "bea"], ["cat", "dan"]], jurors) == 0.5
    assert attribute_spread([["ana", "bea", "cat"], ["dan"]], jurors) == 1.5


def test_assign_facilitators_fewer_than_rooms_run_several_rooms_each() -> None:
    assert assign_facilitators(["ana", "ben"], 5) == [["ana"], ["ben"], ["ana"], ["ben"], ["ana"]]


def test_assign_facilitators_as_many_as_rooms_one_each() -> None:
    assert assign_facilitators(["ana", "ben", "cy"], 3) == [["ana"], ["ben"], ["cy"]]


def test_assign_facilitators_more_than_rooms_spreads_the_extras_evenly() -> None:
    facilitators = [f"facilitator-{number}" for number in range(7)]

    rooms = assign_facilitators(facilitators, 3)

    assert sorted(len(room) for room in rooms) == [2, 2, 3]
    assert Counter(name for room in rooms for name in room) == Counter(facilitators)
    assert rooms == assign_facilitators(facilitators, 3)


def test_assign_facilitators_none_leaves_every_room_empty() -> None:
    assert assign_facilitators([], 3) == [[], [], []]
    with pytest.raises(ValueError, match="room_count"):
        assign_facilitators(["ana"], 0)


@pytest.mark.parametrize(
    ("juror_count", "room_size", "expected"),
    [(150, 10, 15), (151, 10, 16), (149, 10, 15), (10, 10, 1), (3, 10, 1), (0, 10, 1)],
)
def test_room_count_for_size(juror_count: int, room_size: int, expected: int) -> None:
    rooms = room_count_for_size(juror_count, room_size)

    assert rooms == expected
    if juror_count:
        assert -(-juror_count // rooms) <= room_size


def test_room_count_for_size_refuses_empty_rooms() -> None:
    with pytest.raises(ValueError, match="room_size"):
        room_count_for_size(10, 0)


@st.composite
def small_assemblies(draw: st.DrawFn) -> tuple[Jurors, int, History, int]:
    ids = draw(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=30, unique=True)
    )
    columns = st.sampled_from(["age", "gender", "region"])
    values = st.sampled_from(["", "a", "b", "c"])
    jurors = {juror: draw(st.dictionaries(columns, values, max_size=3)) for juror in ids}
    room_count = draw(st.integers(min_value=1, max_value=len(ids)))
    # Earlier rounds may name people who have since left, and rooms of any shape.
    people = st.sampled_from([*ids, "left-early"])
    history = draw(st.lists(st.lists(st.lists(people, max_size=6), max_size=5), max_size=3))
    seed = draw(st.integers(min_value=0, max_value=2**32))
    return jurors, room_count, history, seed


@settings(max_examples=150, deadline=None, database=None)
@given(small_assemblies())
def test_any_small_assembly_places_every_juror_once_in_even_rooms(
    assembly: tuple[Jurors, int, History, int],
) -> None:
    jurors, room_count, history, seed = assembly

    rooms = allocate(jurors, room_count, history=history, seed=seed)

    assert_is_partition_with_even_sizes(rooms, jurors, room_count)
