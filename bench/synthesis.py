"""The synthesis of 100 rooms' carried positions, as the server makes it after a recall.

1,000 jurors in 100 breakout rooms, each room carrying 5 positions (in French or in English,
reworded from 40 shared proposals, so that many rooms raise the same one in their own words)
with an argument for and against each. Timed, median of several runs:
- the recall: `close_round` decided and applied, 100 `positions_carried` events;
- the proposals: the map read for the similarity (`server.synthesis.texts_for`), character
  n-gram TF-IDF and cosine similarity over the 500 texts (`server.similarity`), and the
  `propose_merges` command decided and applied;
- the merged map as the pages group it (`facilitation.synthesis.map_groups`).
Target (issue 11): the whole synthesis under 1 s. Printed, never asserted.
Run: `.venv/bin/python bench/synthesis.py`.
"""

import copy
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Assembly, Command, Role, execute
from facilitation.commands import (
    AddParticipant,
    CloseRound,
    CreateAssembly,
    OpenRound,
    PoseQuestion,
    PostArgument,
    PostPosition,
    StartRound,
)
from facilitation.events import PositionPosted
from facilitation.synthesis import map_groups
from server.similarity import near_duplicates
from server.synthesis import proposals, texts_for

JURORS = 1_000
ROOMS = 100
POSITIONS_PER_ROOM = 5
RUNS = 5

# Forty proposals, each in a few wordings a room might choose; half French, half English.
SUBJECTS_EN = [
    "public buses", "the library", "bike lanes", "street trees", "school meals", "night trains",
    "public toilets", "the swimming pool", "local markets", "social housing", "park benches",
    "youth clubs", "solar panels on schools", "street lighting", "recycling centres",
    "care homes", "the town hall", "sports grounds", "allotments", "the river banks",
]  # fmt: skip
SUBJECTS_FR = [
    "les bus", "la médiathèque", "les pistes cyclables", "les arbres des rues", "la cantine",
    "les trains de nuit", "les toilettes publiques", "la piscine", "les marchés locaux",
    "les logements sociaux", "les bancs publics", "les maisons des jeunes",
    "les panneaux solaires des écoles", "l'éclairage des rues", "les déchetteries",
    "les maisons de retraite", "la mairie", "les terrains de sport", "les jardins partagés",
    "les berges du fleuve",
]  # fmt: skip
WORDINGS_EN = [
    "Invest more in {s} for every resident",
    "More money should go to {s} for all residents",
    "We want better {s} for every resident",
    "Improve {s} for everyone in town",
]
WORDINGS_FR = [
    "Investir davantage dans {s} pour tous les habitants",
    "Il faut plus de moyens pour {s} pour tous les habitants",
    "Nous voulons de meilleurs services pour {s} pour chaque habitant",
    "Améliorer {s} pour tout le monde en ville",
]


def recalled_assembly() -> Assembly:
    """An assembly whose 100 rooms each posted 5 positions, just before the recall."""
    state = Assembly()
    rng = random.Random(11)
    now = 0

    def run(actor: str, command: Command) -> list[object]:
        nonlocal now
        now += 10
        return list(execute(state, command, actor, now))

    run(SYSTEM_ACTOR, CreateAssembly(title="Bench"))
    run(SYSTEM_ACTOR, AddParticipant(participant="lead", display_name="Lead", role=Role.LEAD))
    for n in range(ROOMS):
        run(
            SYSTEM_ACTOR,
            AddParticipant(participant=f"f{n}", display_name="F", role=Role.FACILITATOR),
        )
    for n in range(JURORS):
        run(SYSTEM_ACTOR, AddParticipant(participant=f"j{n}", display_name="J", role=Role.JUROR))
    run("lead", PoseQuestion(room=PLENARY_ROOM, text="What should the budget fund?"))
    run("lead", OpenRound(room_count=ROOMS, seed=3))
    run("lead", StartRound())
    current = state.current_round()
    assert current is not None
    for index, proposed in enumerate(current.rooms):
        room = state.rooms[proposed.room_id]
        question = next(n.id for n in room.nodes.values() if n.kind == "question")
        french = index % 2 == 1
        subjects, wordings = (SUBJECTS_FR, WORDINGS_FR) if french else (SUBJECTS_EN, WORDINGS_EN)
        jurors = sorted(room.jurors)
        for subject in rng.sample(subjects, POSITIONS_PER_ROOM):
            text = rng.choice(wordings).format(s=subject)
            events = run(jurors[0], PostPosition(room=room.id, question_id=question, text=text))
            position = next(e for e in events if isinstance(e, PositionPosted)).node_id
            for stance in ("for", "against"):
                reason = f"{stance}: {subject}"
                run(
                    jurors[1],
                    PostArgument(room=room.id, position_id=position, stance=stance, text=reason),
                )
    return state


CPU_SECONDS: list[float] = []


def timed(action: object) -> tuple[float, object]:
    """Wall time, and the process's CPU time kept aside: on a machine shared with other work
    the CPU time says what the synthesis itself costs."""
    cpu = time.process_time()
    started = time.perf_counter()
    result = action()  # type: ignore[operator]
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - started, result


def main() -> None:
    before = recalled_assembly()
    round_id = before.rounds[-1].id
    recall_s, propose_s, group_s = [], [], []
    found = groups = carried = 0
    for _ in range(RUNS):
        state = copy.deepcopy(before)
        seconds, _ = timed(lambda s=state: execute(s, CloseRound(), "lead", 10**9))
        recall_s.append(seconds)
        carried = len(state.carried)

        def propose(s: Assembly = state) -> int:
            texts, skip = texts_for(s, round_id)
            pairs = near_duplicates(texts, skip=skip)
            execute(s, proposals(round_id, pairs), SYSTEM_ACTOR, 10**9 + 1)
            return len(pairs)

        seconds, result = timed(propose)
        propose_s.append(seconds)
        found = int(result)  # type: ignore[call-overload]
        seconds, result = timed(lambda s=state: map_groups(s))
        group_s.append(seconds)
        groups = len(result)  # type: ignore[arg-type]
    recall, propose_median, group = (statistics.median(x) for x in (recall_s, propose_s, group_s))
    cpu = statistics.median(
        sum(CPU_SECONDS[run * 3 : run * 3 + 3]) for run in range(len(CPU_SECONDS) // 3)
    )
    print(f"{ROOMS} rooms, {JURORS} jurors, {carried} carried positions (French and English)")
    print(f"  the recall, every room's carry decided and applied: {recall:.3f} s")
    print(f"  merge proposals (TF-IDF + cosine, propose_merges): {propose_median:.3f} s,"
          f" {found} proposals")  # fmt: skip
    print(f"  the merged map grouped for the pages: {group:.4f} s, {groups} groups")
    print(f"synthesis of {ROOMS} rooms: {recall + propose_median + group:.3f} s wall,"
          f" {cpu:.3f} s CPU (median of {RUNS}; target under 1 s)")  # fmt: skip


if __name__ == "__main__":
    main()
