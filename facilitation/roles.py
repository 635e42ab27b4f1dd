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

# The actor of a secret poll's votes, in place of the voter. Brackets and a space keep it out of
# the ids a participant can have, so no one is ever mistaken for it.
BALLOT_ACTOR = "(secret ballot)"

# The assembly-wide stream: events about the whole assembly (roster, rounds, broadcasts).
ASSEMBLY_STREAM = "assembly"
# Every assembly has a plenary room from the start; jurors sit there between rounds.
PLENARY_ROOM = "plenary"

MODERATORS = frozenset({Role.FACILITATOR, Role.LEAD})
CONTRIBUTORS = frozenset({Role.JUROR, Role.FACILITATOR, Role.LEAD})
