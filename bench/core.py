"""Throughput of the pure core on a realistic assembly: 1,000 jurors in 100 breakout rooms.

Prints commands per second through decide+evolve on one core, and the allocation time.
Target (issue 2): at least 50,000 commands per second on the 2-core reference machine.
Run: `make bench` (or `.venv/bin/python bench/core.py`).
"""

import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.allocation import time_allocation
from facilitation import SYSTEM_ACTOR, Assembly, Command, Refusal, Role, decide, evolve
from facilitation.commands import (
    AddParticipant,
    ClosePoll,
    CreateAssembly,
    Endorse,
    GrantFloor,
    LowerHand,
    NextSpeaker,
    OpenPoll,
    OpenRound,
    PoseQuestion,
    PostArgument,
    PostPosition,
    RaiseHand,
    RequestReply,
    Speak,
    StartRound,
    Vote,
    YieldFloor,
)

JURORS = 1_000
FACILITATORS = 100
ROOMS = 100
CYCLES_PER_ROOM = 40
# Simulated time between two commands anywhere in the assembly.
STEP_MS = 25
ATTRIBUTES = {
    "age": ["18-29", "30-44", "45-64", "65+"],
    "gender": ["f", "m", "x"],
    "region": ["north", "south", "east", "west", "centre"],
}

# The latest ids a room has produced (a post, a poll): later steps of the script refer to them.
Latest = dict[str, str]
Step = tuple[str, Callable[[Latest], Command]]


def setup() -> Assembly:
    state = Assembly()
    rng = random.Random(7)
    now = 0

    def run(actor: str, command: Command) -> None:
        nonlocal now
        now += 1
        for event in decide(state, command, actor, now):
            evolve(state, event)

    run(SYSTEM_ACTOR, CreateAssembly(title="Benchmark assembly"))
    run(SYSTEM_ACTOR, AddParticipant(participant="lead", display_name="Lead", role=Role.LEAD))
    for index in range(FACILITATORS):
        run(
            SYSTEM_ACTOR,
            AddParticipant(
                participant=f"f{index}", display_name=f"F {index}", role=Role.FACILITATOR
            ),
        )
    for index in range(JURORS):
        attributes = {key: rng.choice(values) for key, values in ATTRIBUTES.items()}
        run(
            SYSTEM_ACTOR,
            AddParticipant(
                participant=f"j{index}",
                display_name=f"J {index}",
                role=Role.JUROR,
                attributes=attributes,
            ),
        )
    run("lead", OpenRound(room_count=ROOMS, seed=1))
    run("lead", StartRound(duration_ms=3_600_000))
    return state


def room_script(room: str, jurors: list[str], facilitator: str, cycle: int) -> list[Step]:
    """One cycle of a lively room: hands, turns, a reply, posts, endorsements and a poll."""
    a, b, c, d = (jurors[(cycle + offset) % len(jurors)] for offset in (0, 1, 2, 3))
    script: list[Step] = [
        (a, lambda _: RaiseHand(room=room)),
        (b, lambda _: RaiseHand(room=room)),
        (c, lambda _: RaiseHand(room=room)),
        (facilitator, lambda _: GrantFloor(room=room)),
        (a, lambda _: Speak(room=room, text="I think we should look at the costs first.")),
        (d, lambda _: RequestReply(room=room)),
        (a, lambda _: Speak(room=room, text="And at who pays them.")),
        (a, lambda _: YieldFloor(room=room)),
        (facilitator, lambda _: NextSpeaker(room=room)),
        (d, lambda _: Speak(room=room, text="Briefly: the costs fall on renters.")),
        (d, lambda _: YieldFloor(room=room)),
        (facilitator, lambda _: GrantFloor(room=room)),
        (b, lambda _: YieldFloor(room=room)),
        (c, lambda _: LowerHand(room=room)),
    ]
    if cycle % 4 == 0:
        script += [
            (facilitator, lambda _: PoseQuestion(room=room, text=f"Question {cycle}?")),
            (b, lambda ids: PostPosition(room=room, question_id=ids["node"], text="A position.")),
            (
                c,
                lambda ids: PostArgument(
                    room=room, position_id=ids["node"], stance="for", text="An argument."
                ),
            ),
            (d, lambda ids: Endorse(room=room, node_id=ids["node"])),
            (facilitator, lambda _: OpenPoll(room=room, question="Agree?", kind="scale")),
            *[
                (juror, lambda ids: Vote(room=room, poll_id=ids["poll"], choices=(cycle % 5,)))
                for juror in jurors
            ],
            (facilitator, lambda ids: ClosePoll(room=room, poll_id=ids["poll"])),
        ]
    return script


def main() -> None:
    state = setup()
    rooms = sorted(room.id for room in state.rooms.values() if room.round_id)
    scripts = {
        room: [
            step
            for cycle in range(CYCLES_PER_ROOM)
            for step in room_script(
                room,
                sorted(state.rooms[room].jurors),
                sorted(state.rooms[room].facilitators)[0],
                cycle,
            )
        ]
        for room in rooms
    }
    # Interleave the rooms, as concurrent rooms reach the server.
    longest = max(len(script) for script in scripts.values())
    workload = [
        (room, scripts[room][index])
        for index in range(longest)
        for room in rooms
        if index < len(scripts[room])
    ]
    latest: dict[str, Latest] = {room: {"node": "", "poll": ""} for room in rooms}
    accepted = refused = events_out = 0
    now = 1_000
    gc.collect()
    started = time.perf_counter()
    for room, (actor, build) in workload:
        now += STEP_MS
        try:
            events = decide(state, build(latest[room]), actor, now)
        except Refusal:
            refused += 1
            continue
        accepted += 1
        for event in events:
            evolve(state, event)
            events_out += 1
            if hasattr(event, "node_id"):
                latest[room]["node"] = event.node_id
            elif hasattr(event, "poll_id"):
                latest[room]["poll"] = event.poll_id
    elapsed = time.perf_counter() - started
    total = accepted + refused
    print(
        f"core: {total:,} commands in {elapsed:.3f} s = {total / elapsed:,.0f} commands/s "
        f"({accepted:,} accepted, {refused:,} refused, {events_out:,} events; "
        f"{JURORS} jurors in {ROOMS} rooms, one core)"
    )
    seconds = time_allocation(juror_count=1_000, room_count=100, rounds_of_history=2, repeats=5)
    print(
        f"allocation: 1000 jurors -> 100 rooms with 2 rounds of history: {seconds:.3f} s "
        f"(median of 5)"
    )


if __name__ == "__main__":
    main()
