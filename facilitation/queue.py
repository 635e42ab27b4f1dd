"""The order of a room's speaking queue under each policy.

The queue is an explicit list, so a facilitator's reordering stands. A policy decides where a
newly raised hand goes, and switching to `equity` re-sorts the whole queue once.
"""

from collections.abc import Callable, Sequence

from facilitation.commands import QueuePolicy
from facilitation.state import QueueEntry

SpokenMs = Callable[[str], int]


def equity_key(entry: QueueEntry, spoken_ms: SpokenMs) -> tuple[int, int]:
    """Least speaking time first; among equals, whoever has waited longest."""
    return (spoken_ms(entry.participant), entry.raised_at_ms)


def insertion_index(
    queue: Sequence[QueueEntry], entry: QueueEntry, policy: QueuePolicy, spoken_ms: SpokenMs
) -> int:
    if policy == "first_come":
        return len(queue)
    key = equity_key(entry, spoken_ms)
    for index, queued in enumerate(queue):
        if equity_key(queued, spoken_ms) > key:
            return index
    return len(queue)


def equity_order(queue: Sequence[QueueEntry], spoken_ms: SpokenMs) -> list[QueueEntry]:
    return sorted(queue, key=lambda entry: equity_key(entry, spoken_ms))
