"""Deal jurors into breakout rooms that mirror the assembly and keep apart those who already met."""

import random
from collections import Counter
from collections.abc import Mapping, Sequence

Rooms = list[list[str]]

# Swap proposals the local search may evaluate, per juror. This cap is what bounds the run time
# when no perfect allocation exists (about 2 microseconds a proposal, so ~0.3 s for 1,000 jurors).
# On 150 jurors in 15 rooms over three rounds, 60 left ~5 repeat pairs, 150 left ~2 and more
# budget bought almost nothing: the rest are local minima that single swaps cannot leave.
_SEARCH_PROPOSALS_PER_JUROR = 150

# Random partners tried for one troubled juror before the search moves on to the next: enough to
# find a fix when one is common, few enough that a juror who cannot be fixed does not stall a pass.
_PARTNERS_TRIED_PER_TROUBLED_JUROR = 16

# Proposals charged against the budget for each item (a juror, or one room's count of one value)
# looked at when a pass starts, so that many short passes over a handful of unfixable jurors cannot
# outlast the budget. An item costs about a twentieth of a proposal; charging double errs towards
# the time bound.
_PROPOSALS_CHARGED_PER_RESCANNED_ITEM = 0.1

# Chance of taking a swap that leaves the cost unchanged: without sideways moves the search sticks
# on plateaus. 0.3 left fewer repeat pairs than 0.1 or 0.5 on 150 jurors in 15 rooms.
_PLATEAU_ACCEPT_PROBABILITY = 0.3

# Share of swap partners drawn from jurors who differ from the troubled one in a single column
# (see _local_search); the rest are drawn from everybody, which some balance repairs need. Drawing
# half from the near ones cut the repeat pairs left on 150 jurors by about two thirds.
_NEAR_PARTNER_PROBABILITY = 0.5

_NO_ATTRIBUTES: Mapping[str, str] = {}


def room_count_for_size(juror_count: int, room_size: int) -> int:
    """Return the fewest rooms (at least one) such that no room holds more than `room_size`."""
    if room_size < 1:
        raise ValueError(f"room_size must be at least 1, got {room_size}")
    if juror_count < 0:
        raise ValueError(f"juror_count cannot be negative, got {juror_count}")
    return max(1, -(-juror_count // room_size))


def allocate(
    jurors: Mapping[str, Mapping[str, str]],
    room_count: int,
    *,
    history: Sequence[Sequence[Sequence[str]]] = (),
    seed: int = 0,
) -> Rooms:
    """Split `jurors` into `room_count` rooms whose sizes differ by at most one.

    Every room's count of each attribute value is kept within one of its share of the assembly
    (floor or ceil of total / room_count) wherever the search can find such a split, and, without
    giving up any of that balance, as few pairs as possible are seated together again after
    sharing a room in `history` (earlier rounds; ids not in `jurors` are ignored). A missing
    attribute counts as the value "". The result depends only on the inputs and `seed`: each room
    is sorted, and the rooms are ordered by their first juror id.
    """
    ids = sorted(jurors)
    juror_total = len(ids)
    if room_count < 1:
        raise ValueError(f"room_count must be at least 1, got {room_count}")
    if room_count > juror_total:
        raise ValueError(
            f"cannot fill {room_count} rooms with {juror_total} jurors: "
            "every room needs at least one juror"
        )
    for earlier in history:
        _reject_bare_strings(earlier, "each round of history")
    rng = random.Random(seed)
    columns = sorted({column for attributes in jurors.values() for column in attributes})
    profiles = [tuple(jurors[juror].get(column, "") for column in columns) for juror in ids]
    room_of = _stratified_deal(profiles, room_count, rng)
    if room_count > 1:
        features, penalty = _encode_balance(profiles, room_count)
        index = {juror: position for position, juror in enumerate(ids)}
        met = _met_counts(index, history)
        _local_search(room_of, features, penalty, met, room_count, rng)
    rooms: Rooms = [[] for _ in range(room_count)]
    for position, room in enumerate(room_of):
        rooms[room].append(ids[position])  # ids are sorted, so each room comes out sorted
    rooms.sort()
    return rooms


def assign_facilitators(facilitators: Sequence[str], room_count: int) -> list[list[str]]:
    """Hand out facilitators to rooms round-robin, one list per room in room order.

    With at least as many facilitators as rooms, every room gets one and the extras are spread so
    that no room has two more than another. With fewer, each facilitator runs several rooms and is
    listed in each of them. With none, every room's list is empty.
    """
    if room_count < 1:
        raise ValueError(f"room_count must be at least 1, got {room_count}")
    rooms: list[list[str]] = [[] for _ in range(room_count)]
    if not facilitators:
        return rooms
    for turn in range(max(room_count, len(facilitators))):
        rooms[turn % room_count].append(facilitators[turn % len(facilitators)])
    return rooms


def attribute_spread(
    rooms: Sequence[Sequence[str]], jurors: Mapping[str, Mapping[str, str]]
) -> float:
    """Return the largest |count - ideal| over every room, attribute and value; 0.0 is perfect.

    The ideal for a value is its total over the jurors in `rooms` divided by the number of rooms.
    A missing attribute, or a juror absent from `jurors`, counts as the value "".
    """
    _reject_bare_strings(rooms, "rooms")
    if not rooms:
        return 0.0
    columns = sorted(
        {column for room in rooms for juror in room for column in jurors.get(juror, _NO_ATTRIBUTES)}
    )
    spread = 0.0
    for column in columns:
        per_room = [
            Counter(jurors.get(juror, _NO_ATTRIBUTES).get(column, "") for juror in room)
            for room in rooms
        ]
        totals: Counter[str] = Counter()
        for counts in per_room:
            totals.update(counts)
        for value, total in totals.items():
            ideal = total / len(rooms)
            spread = max([spread, *(abs(counts[value] - ideal) for counts in per_room)])
    return spread


def repeat_meetings(
    rooms: Sequence[Sequence[str]], history: Sequence[Sequence[Sequence[str]]]
) -> int:
    """Count the pairs seated together in `rooms` that already shared a room in `history`.

    A pair counts once for every earlier round in which it met.
    """
    _reject_bare_strings(rooms, "rooms")
    current = _pairs(rooms)
    total = 0
    for earlier in history:
        _reject_bare_strings(earlier, "each round of history")
        total += len(current & _pairs(earlier))
    return total


def _reject_bare_strings(rooms: Sequence[Sequence[str]], what: str) -> None:
    # A str is itself a Sequence[str], so passing one round where the history (a list of rounds)
    # is expected would otherwise be read as rooms of single characters and silently ignored.
    if isinstance(rooms, str) or any(isinstance(room, str) for room in rooms):
        raise TypeError(f"{what} must be a list of rooms, each a list of juror ids, not strings")


def _pairs(
    rooms: Sequence[Sequence[str]], known: Mapping[str, int] | None = None
) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for room in rooms:
        members = sorted({juror for juror in room if known is None or juror in known})
        for position, first in enumerate(members):
            pairs.update((first, second) for second in members[position + 1 :])
    return pairs


def _stratified_deal(
    profiles: Sequence[tuple[str, ...]], room_count: int, rng: random.Random
) -> list[int]:
    # Dealing jurors with the same profile one after another, snake-wise, spreads each profile
    # within one across the rooms; the rarest profiles go first so the leftovers that the local
    # search must fix are the common values, which have the most partners to swap with. The shuffle
    # only breaks ties, so that different seeds give different rooms.
    frequency = Counter(profiles)
    order = list(range(len(profiles)))
    rng.shuffle(order)
    order.sort(key=lambda juror: (frequency[profiles[juror]], profiles[juror]))
    room_of = [0] * len(profiles)
    for position, juror in enumerate(order):
        lap, offset = divmod(position, room_count)
        room_of[juror] = offset if lap % 2 == 0 else room_count - 1 - offset
    return room_of


def _encode_balance(
    profiles: Sequence[tuple[str, ...]], room_count: int
) -> tuple[list[tuple[int, ...]], list[list[int]]]:
    # Each (column, value) becomes a small integer "feature" so that per-room counts fit in flat
    # lists, and penalty[feature][count] says how far a room holding `count` of it is outside
    # [floor(ideal), ceil(ideal)]: precomputing that keeps the inner loop free of arithmetic.
    feature_of: dict[tuple[int, str], int] = {}
    features = [
        tuple(
            feature_of.setdefault((column, value), len(feature_of))
            for column, value in enumerate(profile)
        )
        for profile in profiles
    ]
    totals = Counter(feature for row in features for feature in row)
    largest_room = -(-len(profiles) // room_count)
    penalty: list[list[int]] = []
    for feature in range(len(feature_of)):
        low, high = totals[feature] // room_count, -(-totals[feature] // room_count)
        penalty.append([max(0, count - high, low - count) for count in range(largest_room + 2)])
    return features, penalty


def _met_counts(
    index: Mapping[str, int], history: Sequence[Sequence[Sequence[str]]]
) -> list[dict[int, int]]:
    # met[a][b] is the number of earlier rounds a and b shared a room in, kept sparse because each
    # juror has met only a few others.
    met: list[dict[int, int]] = [{} for _ in index]
    for earlier in history:
        for first, second in _pairs(earlier, index):
            a, b = index[first], index[second]
            met[a][b] = met[a].get(b, 0) + 1
            met[b][a] = met[b].get(a, 0) + 1
    return met


def _local_search(
    room_of: list[int],
    features: Sequence[tuple[int, ...]],
    penalty: Sequence[Sequence[int]],
    met: Sequence[dict[int, int]],
    room_count: int,
    rng: random.Random,
) -> None:
    # Swaps between rooms keep every room's size, so only balance and repeats need watching. The
    # cost is compared lexicographically, (balance penalty, repeat pairs), which is the "BIG *
    # balance + repeats" cost with BIG large enough that no repeat is ever traded for imbalance.
    juror_total = len(room_of)
    counts = [[0] * len(penalty) for _ in range(room_count)]
    for juror, room in enumerate(room_of):
        for feature in features[juror]:
            counts[room][feature] += 1
    # load[j][r]: rounds j has already spent with the current members of room r, summed; kept up
    # to date on every swap so a swap's change in repeats costs a few dictionary look-ups.
    load: list[dict[int, int]] = [{} for _ in range(juror_total)]
    for juror, room in enumerate(room_of):
        for other, rounds in met[juror].items():
            load[other][room] = load[other].get(room, 0) + rounds

    # Jurors who share a's values in every column but one: swapping with them moves only one
    # column's counts, so it keeps the balance far more often than swapping with anybody.
    groups: dict[tuple[int, tuple[int, ...]], list[int]] = {}
    for juror, row in enumerate(features):
        for column in range(len(row)):
            groups.setdefault((column, row[:column] + row[column + 1 :]), []).append(juror)
    near = [
        [groups[(column, row[:column] + row[column + 1 :])] for column in range(len(row))]
        for row in features
    ]

    budget = _SEARCH_PROPOSALS_PER_JUROR * juror_total
    rescan_items = juror_total + room_count * len(penalty)
    rescan_cost = max(1, int(_PROPOSALS_CHARGED_PER_RESCANNED_ITEM * rescan_items))
    while budget > 0:
        unbalanced = [
            any(penalty[feature][count] for feature, count in enumerate(room_counts))
            for room_counts in counts
        ]
        # Balance outranks repeats, so while any room is off balance only its jurors are worked
        # on; otherwise jurors stuck with someone they met would crowd out the balance repairs.
        if any(unbalanced):
            troubled = [juror for juror, room in enumerate(room_of) if unbalanced[room]]
        else:
            troubled = [juror for juror, room in enumerate(room_of) if load[juror].get(room, 0)]
        if not troubled:
            return
        budget -= rescan_cost
        rng.shuffle(troubled)
        for a in troubled:
            room_a = room_of[a]
            features_a = features[a]
            load_a = load[a]
            counts_a = counts[room_a]
            near_a = near[a]
            for _ in range(_PARTNERS_TRIED_PER_TROUBLED_JUROR):
                budget -= 1
                # int(random() * n) rather than randrange(n): the search draws hundreds of
                # thousands of indices and randrange's pure-Python checks dominated its run time.
                if near_a and rng.random() < _NEAR_PARTNER_PROBABILITY:
                    group = near_a[int(rng.random() * len(near_a))]
                    b = group[int(rng.random() * len(group))]
                else:
                    b = int(rng.random() * juror_total)
                room_b = room_of[b]
                if room_b == room_a:
                    continue
                counts_b = counts[room_b]
                # Only the columns where a and b differ move: room a loses one of a's value (fa)
                # and gains one of b's (fb), room b the reverse.
                balance_change = 0
                for fa, fb in zip(features_a, features[b], strict=True):
                    if fa != fb:
                        pa, pb = penalty[fa], penalty[fb]
                        a_fa, a_fb = counts_a[fa], counts_a[fb]
                        b_fa, b_fb = counts_b[fa], counts_b[fb]
                        balance_change += pa[a_fa - 1] - pa[a_fa] + pb[a_fb + 1] - pb[a_fb]
                        balance_change += pb[b_fb - 1] - pb[b_fb] + pa[b_fa + 1] - pa[b_fa]
                if balance_change > 0:
                    continue
                # Neither a nor b sits with the other before or after, hence the correction.
                load_b = load[b]
                repeat_change = load_a.get(room_b, 0) - load_a.get(room_a, 0)
                repeat_change += load_b.get(room_a, 0) - load_b.get(room_b, 0)
                repeat_change -= 2 * met[a].get(b, 0)
                if balance_change == 0 and (
                    repeat_change > 0
                    or (repeat_change == 0 and rng.random() >= _PLATEAU_ACCEPT_PROBABILITY)
                ):
                    continue
                room_of[a], room_of[b] = room_b, room_a
                for fa, fb in zip(features_a, features[b], strict=True):
                    if fa != fb:
                        counts_a[fa] -= 1
                        counts_a[fb] += 1
                        counts_b[fb] -= 1
                        counts_b[fa] += 1
                for other, rounds in met[a].items():
                    load[other][room_a] -= rounds
                    load[other][room_b] = load[other].get(room_b, 0) + rounds
                for other, rounds in met[b].items():
                    load[other][room_b] -= rounds
                    load[other][room_a] = load[other].get(room_a, 0) + rounds
                break
            if budget <= 0:
                return
