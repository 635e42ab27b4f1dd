"""palabre's pure core: every rule of a deliberation, as commands in and events out.

No I/O, no clock, no asyncio: the time is an argument, and the state changes only by `evolve`.
"""

from facilitation.engine import decide, evolve, execute, replay
from facilitation.errors import ErrorCode, Refusal
from facilitation.messages import Command, Event, RoomCommand
from facilitation.roles import ASSEMBLY_STREAM, PLENARY_ROOM, SYSTEM_ACTOR, Role
from facilitation.state import Assembly

__all__ = [
    "ASSEMBLY_STREAM",
    "PLENARY_ROOM",
    "SYSTEM_ACTOR",
    "Assembly",
    "Command",
    "ErrorCode",
    "Event",
    "Refusal",
    "Role",
    "RoomCommand",
    "decide",
    "evolve",
    "execute",
    "replay",
]
