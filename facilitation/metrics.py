"""Fairness figures of a room, derived from its events alone (through `replay`).

Who spoke, how long, how often, how long they waited; how unequal speaking time is (the Gini
coefficient) and who has not spoken yet. Speaking time comes in two figures: floor time (the
turns, whether or not anyone was heard) and voiced time (what the media server heard, in turns
or on an open floor). Each has its Gini; without voice, voiced time stays at zero.
"""

from dataclasses import dataclass

from facilitation.roles import Role
from facilitation.state import Assembly, Room
from facilitation.turns import spoken_duration_ms


@dataclass(frozen=True)
class SpeakerFigures:
    participant: str
    # Floor time: the turns held, the one under way counted up to now.
    spoken_ms: int
    turns: int
    # The longest a hand waited before its turn; a hand still up counts as waiting until now.
    longest_wait_ms: int
    # Voiced time, as recorded so far: a turn held in silence adds floor time and none of this.
    voiced_ms: int


@dataclass(frozen=True)
class RoomFairness:
    room: str
    speakers: tuple[SpeakerFigures, ...]
    # Of floor time: 0 when every juror held the floor equally long, towards 1 when one juror
    # did all the talking.
    gini: float
    # The same of voiced time.
    voiced_gini: float
    # Jurors who held the floor or were heard, as a share of them all; and those who did neither.
    share_spoken: float
    not_spoken: tuple[str, ...]


def gini(values: list[int]) -> float:
    """The Gini coefficient of non-negative values (0.0 for none, or all zero)."""
    total = sum(values)
    if not values or total == 0:
        return 0.0
    ordered = sorted(values)
    count = len(ordered)
    weighted = sum((index + 1) * value for index, value in enumerate(ordered))
    return (2 * weighted) / (count * total) - (count + 1) / count


def room_fairness(state: Assembly, room_id: str, now_ms: int) -> RoomFairness:
    """Figures over the room's jurors: everyone seated now, and anyone who spoke here before."""
    room: Room = state.rooms[room_id]
    spoke_here = {p for p in room.stats if state.participants[p].role is Role.JUROR}
    jurors = sorted(room.jurors | spoke_here)
    waiting_since = {entry.participant: entry.raised_at_ms for entry in room.queue}
    speakers = []
    for juror in jurors:
        stats = room.stats.get(juror)
        spoken = stats.spoken_ms if stats else 0
        if room.floor is not None and room.floor.speaker == juror:
            spoken += spoken_duration_ms(room, room.floor, now_ms)
        waiting = now_ms - waiting_since[juror] if juror in waiting_since else 0
        speakers.append(
            SpeakerFigures(
                participant=juror,
                spoken_ms=spoken,
                turns=stats.turns if stats else 0,
                longest_wait_ms=max(stats.longest_wait_ms if stats else 0, waiting),
                voiced_ms=stats.voiced_ms if stats else 0,
            )
        )
    not_spoken = tuple(s.participant for s in speakers if s.turns == 0 and s.voiced_ms == 0)
    return RoomFairness(
        room=room_id,
        speakers=tuple(speakers),
        gini=gini([s.spoken_ms for s in speakers]),
        voiced_gini=gini([s.voiced_ms for s in speakers]),
        share_spoken=(len(speakers) - len(not_spoken)) / len(speakers) if speakers else 0.0,
        not_spoken=not_spoken,
    )


@dataclass(frozen=True)
class StratumShare:
    """One stratum of the jurors (a value of one balancing attribute: "region" = "north"):
    its share of the seats against its share of the floor time."""

    attribute: str
    value: str
    seats: int
    seat_share: float
    spoken_ms: int
    speaking_share: float

    @property
    def ratio(self) -> float:
        """Speaking share over seat share: 1 is a fair share, 0.5 half of it."""
        return self.speaking_share / self.seat_share if self.seat_share else 1.0


def strata(state: Assembly, figures: RoomFairness) -> tuple[StratumShare, ...]:
    """Every stratum of the jurors the figures cover, by attribute then value. A juror without
    an attribute counts in none of its strata, so each attribute's shares are over those who
    have it."""
    attributes = sorted(
        {key for s in figures.speakers for key in state.participants[s.participant].attributes}
    )
    found = []
    for attribute in attributes:
        seats: dict[str, int] = {}
        spoken: dict[str, int] = {}
        for speaker in figures.speakers:
            value = state.participants[speaker.participant].attributes.get(attribute)
            if value is None:
                continue
            seats[value] = seats.get(value, 0) + 1
            spoken[value] = spoken.get(value, 0) + speaker.spoken_ms
        all_seats, all_spoken = sum(seats.values()), sum(spoken.values())
        for value in sorted(seats):
            found.append(
                StratumShare(
                    attribute=attribute,
                    value=value,
                    seats=seats[value],
                    seat_share=seats[value] / all_seats,
                    spoken_ms=spoken[value],
                    speaking_share=spoken[value] / all_spoken if all_spoken else 0.0,
                )
            )
    return tuple(found)


def quietest_stratum(shares: tuple[StratumShare, ...]) -> StratumShare | None:
    """The stratum furthest below its fair share of floor time; none before anyone spoke."""
    if not shares or all(share.spoken_ms == 0 for share in shares):
        return None
    return min(shares, key=lambda share: (share.ratio, share.attribute, share.value))
