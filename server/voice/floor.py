"""The floor is the microphone: where a joined person's voice belongs and whether it is heard,
read from the committed state alone.

Jurors are heard when `audible_jurors` names them; facilitators and the lead in the rooms
they run whenever they have not muted themselves. Muting oneself is always allowed;
unmuting oneself only where one would be heard.
"""

from dataclasses import dataclass

from facilitation import PLENARY_ROOM, Assembly, Role
from facilitation.voice import audible_jurors

# Why a person is muted or live, as the `voice` state event says it.
FLOOR = "floor"
OPEN_FLOOR = "open_floor"
MODERATOR = "moderator"
SELF = "self"
NO_FLOOR = "no_floor"
MUTED = "muted"
PAUSED = "paused"
OFF = "off"
WHY = (FLOOR, OPEN_FLOOR, MODERATOR, SELF, NO_FLOOR, MUTED, PAUSED, OFF)


@dataclass(frozen=True)
class Heard:
    muted: bool
    why: str


def runs(state: Assembly, person: str, role: Role, room_id: str) -> bool:
    """Whether the person runs the (open) room: its facilitators, and the lead everywhere."""
    room = state.rooms.get(room_id)
    if room is None or room.closed:
        return False
    return role is Role.LEAD or (role is Role.FACILITATOR and person in room.facilitators)


def rooms_run(state: Assembly, person: str, role: Role) -> list[str]:
    return sorted(r for r in state.rooms if runs(state, person, role, r))


def voice_room(state: Assembly, person: str, role: Role, current: str | None) -> str | None:
    """The room whose voice the person belongs in now (None: nowhere, they must leave).

    A juror's is the room they sit in; a facilitator or the lead keeps the room they joined
    while they run it, and otherwise goes to the room they are based in, or the first they run.
    """
    participant = state.participants.get(person)
    if participant is None:
        return None
    if role is Role.JUROR:
        return participant.room
    if current is not None and runs(state, person, role, current):
        return current
    if participant.room is not None and runs(state, person, role, participant.room):
        return participant.room
    if role is Role.LEAD and runs(state, person, role, PLENARY_ROOM):
        return PLENARY_ROOM
    run = rooms_run(state, person, role)
    return run[0] if run else None


def heard(state: Assembly, person: str, role: Role, room_id: str, self_muted: bool) -> Heard:
    """Whether the person is muted in that room, and why."""
    room = state.rooms[room_id]
    if runs(state, person, role, room_id):
        return Heard(True, SELF) if self_muted else Heard(False, MODERATOR)
    if person in room.muted:
        return Heard(True, MUTED)
    if room.paused_at_ms is not None:
        return Heard(True, PAUSED)
    if person not in audible_jurors(room):
        return Heard(True, NO_FLOOR)
    if self_muted:
        return Heard(True, SELF)
    floor = room.floor
    return Heard(False, FLOOR if floor is not None and floor.speaker == person else OPEN_FLOOR)
