"""Time the allocation of jurors into breakout rooms on a generated, unevenly mixed assembly."""

import random
import statistics
import time
from collections.abc import Mapping

from facilitation.allocation import Rooms, allocate, attribute_spread, repeat_meetings

# Uneven on purpose, like a real sortition pool: a rare band, a rare gender, a small region.
AGE_BAND_WEIGHTS = {"18-29": 3, "30-44": 4, "45-59": 4, "60-74": 3, "75+": 1}
GENDER_WEIGHTS = {"f": 48, "m": 48, "x": 4}
REGION_WEIGHTS = {"north": 30, "south": 25, "east": 15, "west": 15, "centre": 10, "islands": 5}

# Any fixed value: the benchmark must time the same assembly on every run.
ASSEMBLY_SEED = 2024


def generate_jurors(count: int, seed: int = ASSEMBLY_SEED) -> dict[str, dict[str, str]]:
    draw = random.Random(seed)

    def pick(weights: Mapping[str, int]) -> str:
        return draw.choices(list(weights), weights=list(weights.values()))[0]

    return {
        f"juror-{number:05d}": {
            "age": pick(AGE_BAND_WEIGHTS),
            "gender": pick(GENDER_WEIGHTS),
            "region": pick(REGION_WEIGHTS),
        }
        for number in range(count)
    }


def generate_history(
    jurors: Mapping[str, Mapping[str, str]], room_count: int, rounds: int
) -> list[Rooms]:
    """Earlier rounds as a live session produces them: each allocated knowing the ones before."""
    history: list[Rooms] = []
    for round_number in range(rounds):
        history.append(allocate(jurors, room_count, history=history, seed=round_number))
    return history


def random_split(jurors: Mapping[str, Mapping[str, str]], room_count: int, seed: int) -> Rooms:
    ids = sorted(jurors)
    random.Random(seed).shuffle(ids)
    return [ids[room::room_count] for room in range(room_count)]


def time_allocation(
    juror_count: int = 1000, room_count: int = 100, rounds_of_history: int = 2, repeats: int = 5
) -> float:
    """Return the median seconds one `allocate` call takes on a generated assembly."""
    jurors = generate_jurors(juror_count)
    history = generate_history(jurors, room_count, rounds_of_history)
    durations = []
    for repeat in range(repeats):
        start = time.perf_counter()
        allocate(jurors, room_count, history=history, seed=rounds_of_history + repeat)
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def main() -> None:
    juror_count, room_count, rounds_of_history, repeats = 1000, 100, 2, 5
    seconds = time_allocation(juror_count, room_count, rounds_of_history, repeats)
    print(
        f"allocation {juror_count} jurors -> {room_count} rooms: "
        f"{seconds:.3f} s (median of {repeats})"
    )
    jurors = generate_jurors(juror_count)
    history = generate_history(jurors, room_count, rounds_of_history)
    rooms = allocate(jurors, room_count, history=history, seed=rounds_of_history)
    baseline = random_split(jurors, room_count, seed=rounds_of_history)
    spread, baseline_spread = attribute_spread(rooms, jurors), attribute_spread(baseline, jurors)
    repeats_left = repeat_meetings(rooms, history)
    baseline_repeats = repeat_meetings(baseline, history)
    print(
        f"  spread {spread:.2f} (random split {baseline_spread:.2f}; under 1 = every value within "
        f"one of its ideal), repeat meetings {repeats_left} (random split {baseline_repeats}) "
        f"after {rounds_of_history} rounds"
    )


if __name__ == "__main__":
    main()
