"""Speaking time from the media server's talking events: each person's voiced milliseconds in
each room, summed on the server's clock and cut into periods for `record_voice_activity`.

A period starts when someone is first heard after the last record and ends at the record; a
record whose answer was lost is sent again unchanged (the core ignores a repeat), before any
later one, so periods never overlap.
"""

from dataclasses import dataclass, field

from facilitation.commands import RecordVoiceActivity


@dataclass
class _RoomTalk:
    # Start of the period being summed; None while nothing was heard since the last record.
    from_ms: int | None = None
    voiced_ms: dict[str, int] = field(default_factory=dict)
    talking_since_ms: dict[str, int] = field(default_factory=dict)
    # Records made but not yet acknowledged, oldest first.
    unsent: list[RecordVoiceActivity] = field(default_factory=list)


class SpeakingTime:
    """Voiced time per (assembly, room), from started and stopped talking."""

    def __init__(self) -> None:
        self._rooms: dict[tuple[str, str], _RoomTalk] = {}

    def started(self, assembly_id: str, room: str, person: str, now_ms: int) -> None:
        talk = self._rooms.setdefault((assembly_id, room), _RoomTalk())
        if talk.from_ms is None:
            talk.from_ms = now_ms
        talk.talking_since_ms.setdefault(person, now_ms)

    def stopped(self, assembly_id: str, room: str, person: str, now_ms: int) -> None:
        talk = self._rooms.get((assembly_id, room))
        if talk is None or person not in talk.talking_since_ms:
            return
        since = talk.talking_since_ms.pop(person)
        talk.voiced_ms[person] = talk.voiced_ms.get(person, 0) + max(0, now_ms - since)

    def talking(self, assembly_id: str, room: str) -> list[str]:
        talk = self._rooms.get((assembly_id, room))
        return sorted(talk.talking_since_ms) if talk else []

    def rooms(self) -> list[tuple[str, str]]:
        return list(self._rooms)

    def cut(self, assembly_id: str, room: str, now_ms: int) -> list[RecordVoiceActivity]:
        """Close the period at `now_ms` (those still talking go on in the next one), and
        return every record not yet acknowledged, oldest first."""
        talk = self._rooms.get((assembly_id, room))
        if talk is None:
            return []
        if talk.from_ms is not None and now_ms > talk.from_ms:
            voiced = dict(talk.voiced_ms)
            for person, since in talk.talking_since_ms.items():
                voiced[person] = voiced.get(person, 0) + max(0, now_ms - since)
                talk.talking_since_ms[person] = now_ms
            talk.unsent.append(
                RecordVoiceActivity(room=room, from_ms=talk.from_ms, to_ms=now_ms, voiced_ms=voiced)
            )
            talk.voiced_ms = {}
            talk.from_ms = now_ms if talk.talking_since_ms else None
        records = list(talk.unsent)
        if not talk.unsent and talk.from_ms is None:
            del self._rooms[(assembly_id, room)]
        return records

    def acknowledged(self, assembly_id: str, room: str, record: RecordVoiceActivity) -> None:
        talk = self._rooms.get((assembly_id, room))
        if talk is not None and record in talk.unsent:
            talk.unsent.remove(record)
            if not talk.unsent and talk.from_ms is None:
                del self._rooms[(assembly_id, room)]
