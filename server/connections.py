"""The people connected to this process: who they are, what they follow, how fast they send."""

import time
from collections import Counter
from dataclasses import dataclass, field

from facilitation import ASSEMBLY_STREAM, Assembly, Role
from server.audience import AUDIENCE_OF_ROLE, Audience, groups_for, streams_of


class TokenBucket:
    """A rate limit: `rate` takes a second, bursts up to `capacity`."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def take(self) -> bool:
        self._refill()
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def seconds_to_next(self) -> float:
        """How long until `take` succeeds again."""
        self._refill()
        return max(0.0, (1 - self.tokens) / self.rate)

    def full(self) -> bool:
        """Whether it is as good as a new one (so it need not be kept)."""
        self._refill()
        return self.tokens >= self.capacity


@dataclass
class Connection:
    sid: str
    assembly_id: str
    # None for an anonymous observer of a public assembly.
    participant: str | None
    role: Role
    # The room an observer watches.
    watch: str | None
    bucket: TokenBucket
    # The invite it came in with, so withdrawing the invite can show it the door.
    invite_id: str | None = None
    streams: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    # Per stream, the last seq this process had fanned out when the socket joined its groups:
    # later events reach the socket live, so a `sync` replays only those up to here (each event
    # arrives once, live or in the reply, never both).
    joined_after: dict[str, int] = field(default_factory=dict)
    # Whether a `sync` was answered: a later one (a client that saw a gap) is replayed whole.
    synced: bool = False

    @property
    def actor(self) -> str:
        return self.participant or f"observer:{self.sid}"

    @property
    def audience(self) -> Audience:
        return AUDIENCE_OF_ROLE[self.role]

    def desired_streams(self, state: Assembly) -> set[str]:
        if self.role is Role.OBSERVER:
            return {ASSEMBLY_STREAM, self.watch} if self.watch else {ASSEMBLY_STREAM}
        return {ASSEMBLY_STREAM, *streams_of(state, self.participant, self.role)}

    def desired_groups(self, streams: set[str]) -> set[str]:
        return groups_for(self.assembly_id, streams, self.audience)

    def describe(self, state: Assembly, streams: set[str] | None = None) -> dict[str, object]:
        """Who this connection is and what it follows (`streams`, when about to change)."""
        participant = state.participants.get(self.participant) if self.participant else None
        return {
            "assembly": self.assembly_id,
            "participant": self.participant,
            "name": participant.display_name if participant else None,
            "role": self.role.value,
            "room": participant.room if participant else self.watch,
            "streams": sorted(self.streams if streams is None else streams),
        }


class Presence:
    """Who is connected in each room, counting several tabs of one person once."""

    def __init__(self) -> None:
        self._rooms: dict[tuple[str, str], Counter[str]] = {}

    def enter(self, assembly_id: str, room: str, participant: str) -> None:
        self._rooms.setdefault((assembly_id, room), Counter())[participant] += 1

    def leave(self, assembly_id: str, room: str, participant: str) -> None:
        counter = self._rooms.get((assembly_id, room))
        if counter is None:
            return
        counter[participant] -= 1
        if counter[participant] <= 0:
            del counter[participant]

    def present(self, assembly_id: str, room: str) -> list[str]:
        return sorted(self._rooms.get((assembly_id, room), Counter()))
