"""Building the report of a large assembly: 1,000 jurors in 100 rooms, about 20,000 events.

Prints how long replaying the export and writing each file takes, for the whole assembly
(full and public) and for one room. Target (issue 11): the whole report under 5 s.
Run: `.venv/bin/python bench/report.py`.
"""

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facilitation import SYSTEM_ACTOR, Assembly, Command, Event, Role, execute
from facilitation.commands import (
    AddParticipant,
    ClosePoll,
    CloseRound,
    CreateAssembly,
    Endorse,
    GrantFloor,
    HidePost,
    MuteParticipant,
    OpenPoll,
    OpenRound,
    PoseQuestion,
    PostArgument,
    PostPosition,
    RaiseHand,
    Speak,
    StartRound,
    Vote,
    YieldFloor,
)
from facilitation.events import ArgumentPosted, PollOpened, PositionPosted
from facilitation.record import export_of
from server.reports.model import Scope, build_report
from server.reports.render import csv_files, render_html, transcript

JURORS = 1_000
ROOMS = 100
TARGET_EVENTS = 20_000
BALLOT_KEY = b"bench ballot key"
ATTRIBUTES = {
    "age": ["18-29", "30-44", "45-64", "65+"],
    "region": ["north", "south", "east", "west", "centre"],
}


def session() -> list[Event]:
    """An assembly's log: every room takes turns, posts, endorses, votes and moderates."""
    state, log, rng = Assembly(), [], random.Random(11)
    now = 1_764_061_200_000

    def run(actor: str, command: Command) -> list[Event]:
        events = execute(state, command, actor, now, ballot_key=BALLOT_KEY)
        log.extend(events)
        return events

    run(SYSTEM_ACTOR, CreateAssembly(title="Bench assembly", pseudonymous=True))
    run(SYSTEM_ACTOR, AddParticipant(participant="lead", display_name="Lead", role=Role.LEAD))
    for index in range(ROOMS):
        name = f"Facilitator {index}"
        run(
            SYSTEM_ACTOR,
            AddParticipant(participant=f"f{index}", display_name=name, role=Role.FACILITATOR),
        )
    for index in range(JURORS):
        attributes = {key: rng.choice(values) for key, values in ATTRIBUTES.items()}
        name = f"Juror Name {index}"
        run(
            SYSTEM_ACTOR,
            AddParticipant(
                participant=f"j{index}", display_name=name, role=Role.JUROR, attributes=attributes
            ),
        )
    run("lead", PoseQuestion(room="plenary", text="What should the city do with empty homes?"))
    run("lead", OpenRound(room_count=ROOMS, seed=3))
    run("lead", StartRound(duration_ms=3_600_000))
    rooms = {
        room.room_id: (sorted(room.jurors), room.facilitators[0]) for room in state.rounds[-1].rooms
    }
    positions: dict[str, str] = {}
    arguments: dict[str, list[str]] = {room: [] for room in rooms}
    cycle = 0
    while len(log) < TARGET_EVENTS:
        for room, (jurors, facilitator) in rooms.items():
            now += 250
            speaker = rng.choice(jurors[: max(2, len(jurors) - 2)])
            run(speaker, RaiseHand(room=room))
            now += rng.randint(5_000, 60_000)
            run(facilitator, GrantFloor(room=room))
            run(speaker, Speak(room=room, text=f"Point {cycle} from {speaker} in {room}."))
            now += rng.randint(10_000, 110_000)
            run(speaker, YieldFloor(room=room))
            question = next(iter(state.rooms[room].nodes))
            if cycle == 0:
                posted = run(
                    speaker,
                    PostPosition(room=room, question_id=question, text=f"A position of {room}"),
                )
                positions[room] = next(e for e in posted if isinstance(e, PositionPosted)).node_id
            elif cycle % 3 == 0:
                posted = run(
                    speaker,
                    PostArgument(
                        room=room,
                        position_id=positions[room],
                        stance=rng.choice(["for", "against"]),
                        text=f"Argument {cycle} of {room}",
                    ),
                )
                arguments[room].append(
                    next(e for e in posted if isinstance(e, ArgumentPosted)).node_id
                )
                voter = rng.choice([j for j in jurors if j != speaker])
                if voter not in state.rooms[room].muted:
                    run(voter, Endorse(room=room, node_id=arguments[room][-1]))
            elif cycle == 5:
                # A tenth of the rooms vote by secret ballot.
                secret = room.endswith("7")
                opened = run(
                    facilitator,
                    OpenPoll(
                        room=room,
                        question="Agree?",
                        kind="single",
                        options=("Yes", "No"),
                        secret=secret,
                    ),
                )
                poll = next(e for e in opened if isinstance(e, PollOpened)).poll_id
                for juror in jurors:
                    if juror not in state.rooms[room].muted:
                        run(juror, Vote(room=room, poll_id=poll, choices=(rng.randint(0, 1),)))
                run(facilitator, ClosePoll(room=room, poll_id=poll))
            elif cycle == 7 and arguments[room]:
                run(
                    facilitator, HidePost(room=room, node_id=arguments[room][0], reason="Off topic")
                )
                run(
                    facilitator,
                    MuteParticipant(room=room, participant=jurors[-1], reason="Talked over others"),
                )
        cycle += 1
    run("lead", CloseRound())
    return log


T = TypeVar("T")


def timed(label: str, work: Callable[[], T]) -> tuple[T, float, float]:
    """The result, its wall time and this process's CPU time, printed side by side: on a shared
    machine the gap between them is other programs' doing."""
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"  {label:<36} {wall:7.3f} s wall {used:7.3f} s CPU")
    return result, wall, used


def whole_report(document: dict[str, Any], *, public: bool) -> None:
    report, wall, cpu = timed(
        "replay and gather (build_report)",
        lambda: build_report(document, Scope.of(), public=public),
    )
    html, *spent = timed("report.html", lambda: render_html(report, "en"))
    wall, cpu = wall + spent[0], cpu + spent[1]
    _, *spent = timed("six CSV files", lambda: csv_files(report))
    wall, cpu = wall + spent[0], cpu + spent[1]
    _, *spent = timed("transcript.txt", lambda: transcript(report, "en"))
    wall, cpu = wall + spent[0], cpu + spent[1]
    print(
        f"  {'total (target < 5 s)':<36} {wall:7.3f} s wall {cpu:7.3f} s CPU"
        f"  (report.html {len(html.encode()) / 1e6:.1f} MB)"
    )


def main() -> None:
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    built = time.perf_counter()
    log = session()
    document = export_of("bench", log, "2025-11-25T12:00:00+00:00")
    print(
        f"assembly: {JURORS} jurors, {ROOMS} rooms, {len(log)} events "
        f"(made in {time.perf_counter() - built:.1f} s)"
    )
    for view, public in (("full", False), ("public", True)):
        print(f"whole assembly, {view} report:")
        whole_report(document, public=public)
    room = next(e.room for e in log if e.room.startswith("r"))
    print(f"one room ({room}), the whole log replayed:")
    timed(
        "build_report and report.html",
        lambda: render_html(build_report(document, Scope.of(room=room)), "en"),
    )


if __name__ == "__main__":
    main()
