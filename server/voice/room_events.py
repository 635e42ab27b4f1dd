"""What happens in AudioBridge rooms, as typed events: Janus's notifications, which reach
every participant's handle (so each arrives once per person in the room), folded into one
event per change.

Janus keeps a person `talking` through a mute (their packets are dropped before their level
is read, so nothing clears it), and sends no new `talking` when they speak again after the
unmute. So the mirror keeps Janus's view and the mute apart, and reports a person as
talking while both say so: a mute stops their talking at once, and an unmute while Janus
still holds them talking starts it again.
"""

from dataclasses import dataclass

from pydantic import JsonValue

Json = dict[str, JsonValue]


@dataclass(frozen=True)
class ParticipantJoined:
    room_id: str
    participant_id: str
    display: str | None


@dataclass(frozen=True)
class ParticipantLeft:
    room_id: str
    participant_id: str


@dataclass(frozen=True)
class StartedTalking:
    room_id: str
    participant_id: str


@dataclass(frozen=True)
class StoppedTalking:
    room_id: str
    participant_id: str


@dataclass(frozen=True)
class MuteChanged:
    room_id: str
    participant_id: str
    muted: bool


RoomEvent = ParticipantJoined | ParticipantLeft | StartedTalking | StoppedTalking | MuteChanged


@dataclass
class _Member:
    display: str | None
    muted: bool
    # Janus's own flag, which outlives a mute.
    talking: bool = False

    @property
    def heard_talking(self) -> bool:
        return self.talking and not self.muted


def _text(value: JsonValue) -> str | None:
    """An id as palabre names it: Janus sends strings (string_ids), numbers elsewhere."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


def _display(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _entries(value: JsonValue) -> list[Json]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class RoomMirror:
    """Who is in which AudioBridge room, muted or talking, as Janus's messages told it."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, _Member]] = {}

    def members(self, room_id: str) -> set[str]:
        return set(self._rooms.get(room_id, {}))

    def talking(self, room_id: str) -> set[str]:
        room = self._rooms.get(room_id, {})
        return {person for person, member in room.items() if member.heard_talking}

    def apply(self, data: Json) -> list[RoomEvent]:
        """The changes one AudioBridge message brings (none when it repeats one applied)."""
        kind = data.get("audiobridge")
        room_id = _text(data.get("room"))
        if room_id is None:
            return []
        person = _text(data.get("id"))
        if kind in {"talking", "stopped-talking"} and person is not None:
            return self._talking(room_id, person, kind == "talking")
        if kind == "destroyed":
            return self._empty(room_id)
        changes: list[RoomEvent] = []
        if kind == "roomchanged" and person is not None:
            for old_room, members in list(self._rooms.items()):
                if old_room != room_id and person in members:
                    changes += self._leave(old_room, person)
        if kind in {"joined", "roomchanged"} and person is not None:
            # The joiner's own answer: palabre always joins people muted.
            changes += self._upsert(room_id, person, _display(data.get("display")), muted=True)
        for entry in _entries(data.get("participants")):
            changes += self._entry(room_id, entry)
        leaving = _text(data.get("leaving"))
        if leaving is not None:
            changes += self._leave(room_id, leaving)
        if kind == "left" and person is not None:
            changes += self._leave(room_id, person)
        return changes

    def forget_all(self) -> list[RoomEvent]:
        """Everyone leaves every room (Janus went away with them)."""
        changes: list[RoomEvent] = []
        for room_id in list(self._rooms):
            changes += self._empty(room_id)
        return changes

    def _entry(self, room_id: str, entry: Json) -> list[RoomEvent]:
        person = _text(entry.get("id"))
        muted = entry.get("muted")
        if person is None or not isinstance(muted, bool):
            return []
        display = entry.get("display")
        changes = self._upsert(
            room_id, person, display if isinstance(display, str) else None, muted
        )
        talking = entry.get("talking")
        if isinstance(talking, bool):
            changes += self._talking(room_id, person, talking)
        return changes

    def _upsert(
        self, room_id: str, person: str, display: str | None, muted: bool
    ) -> list[RoomEvent]:
        room = self._rooms.setdefault(room_id, {})
        member = room.get(person)
        if member is None:
            room[person] = _Member(display, muted)
            return [ParticipantJoined(room_id, person, display)]
        if member.muted == muted:
            return []
        was_heard = member.heard_talking
        member.muted = muted
        changes: list[RoomEvent] = [MuteChanged(room_id, person, muted)]
        return changes + self._talk_change(room_id, person, was_heard, member.heard_talking)

    def _talking(self, room_id: str, person: str, talking: bool) -> list[RoomEvent]:
        member = self._rooms.get(room_id, {}).get(person)
        if member is None:
            return []
        was_heard = member.heard_talking
        member.talking = talking
        return self._talk_change(room_id, person, was_heard, member.heard_talking)

    @staticmethod
    def _talk_change(room_id: str, person: str, before: bool, after: bool) -> list[RoomEvent]:
        if after and not before:
            return [StartedTalking(room_id, person)]
        if before and not after:
            return [StoppedTalking(room_id, person)]
        return []

    def _leave(self, room_id: str, person: str) -> list[RoomEvent]:
        room = self._rooms.get(room_id, {})
        member = room.pop(person, None)
        if not room:
            self._rooms.pop(room_id, None)
        if member is None:
            return []
        changes: list[RoomEvent] = []
        if member.heard_talking:
            changes.append(StoppedTalking(room_id, person))
        return [*changes, ParticipantLeft(room_id, person)]

    def _empty(self, room_id: str) -> list[RoomEvent]:
        changes: list[RoomEvent] = []
        for person in sorted(self._rooms.get(room_id, {})):
            changes += self._leave(room_id, person)
        return changes
