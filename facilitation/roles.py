"""Who a participant is in an assembly, which decides what they may ask of it."""

from enum import StrEnum


class Role(StrEnum):
    JUROR = "juror"
    FACILITATOR = "facilitator"
    LEAD = "lead"
    OBSERVER = "observer"
    # The organiser's tools and the scheduler: never a person in a room.
    SYSTEM = "system"


# The actor id the server uses for the organiser's API and for deadline expiries.
SYSTEM_ACTOR = "system"

# The assembly-wide stream: events about the whole assembly (roster, rounds, broadcasts).
ASSEMBLY_STREAM = "assembly"
# Every assembly has a plenary room from the start; jurors sit there between rounds.
PLENARY_ROOM = "plenary"

MODERATORS = frozenset({Role.FACILITATOR, Role.LEAD})
CONTRIBUTORS = frozenset({Role.JUROR, Role.FACILITATOR, Role.LEAD})
