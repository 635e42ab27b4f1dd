"""After a recall, proposes the merges of near-duplicate positions on the plenary's map.

A commit subscriber: when a round's recall is committed here, it reads the map, finds the
near-duplicates (`server.similarity`, in a worker thread, off the event loop) and submits
them as the system's `propose_merges`, so the proposals and their reasons are on the record.
Nothing is merged: the lead confirms or rejects each proposal. Another process that also
proposes after the same recall changes nothing (the core keeps the first proposals).
"""

import asyncio
import logging

from facilitation import SYSTEM_ACTOR, Assembly
from facilitation.commands import MergeCandidate, ProposeMerges
from facilitation.events import PositionsCarried
from facilitation.synthesis import canonical
from server.runtime import AssemblyRuntime, Commit, Unavailable
from server.similarity import Pair, Text, near_duplicates

log = logging.getLogger("palabre.synthesis")


def texts_for(state: Assembly, round_id: str) -> tuple[list[Text], list[tuple[str, str]]]:
    """The map's entries as the similarity reads them, and the pairs proposed before."""
    texts = [
        Text(entry.id, canonical(state, entry.id), entry.text, entry.round_id == round_id)
        for entry in state.carried.values()
    ]
    proposed = [(p.first, p.second) for p in state.merge_proposals.values()]
    return texts, proposed


def proposals(round_id: str, pairs: list[Pair]) -> ProposeMerges:
    return ProposeMerges(
        round_id=round_id,
        candidates=tuple(
            MergeCandidate(
                first=pair.first, second=pair.second, similarity=pair.similarity, shared=pair.shared
            )
            for pair in pairs
        ),
    )


class Synthesiser:
    def __init__(self) -> None:
        # Kept so that a proposal under way is not garbage-collected mid-flight.
        self._tasks: set[asyncio.Task[None]] = set()

    def on_commit(self, commit: Commit) -> None:
        if not commit.local:
            return
        rounds = {
            d.record.event.round_id
            for d in commit.deliveries
            if isinstance(d.record.event, PositionsCarried)
        }
        for round_id in sorted(rounds):
            task = asyncio.create_task(self.propose(commit.runtime, round_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def propose(self, runtime: AssemblyRuntime, round_id: str) -> None:
        try:
            texts, proposed = await runtime.read(lambda state: texts_for(state, round_id))
            pairs = await asyncio.to_thread(near_duplicates, texts, skip=proposed)
            if not pairs:
                return
            outcome = await runtime.submit(proposals(round_id, pairs), SYSTEM_ACTOR)
        except Unavailable:
            log.warning("no merge proposals for %s/%s: the assembly is away", runtime.id, round_id)
            return
        if not outcome.ok:
            log.warning("merge proposals for %s refused: %s", round_id, outcome.error)

    async def idle(self) -> None:
        """Wait for the proposals under way: for tests and an orderly stop."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
