"""AudioBridge's notifications folded into one event per change. The messages are Janus
1.1.2's own: join, mute, leave and changeroom as the tests against a real Janus received
them; talking and stopped-talking (which only flowing media brings) as its AudioBridge
plugin writes them: {"audiobridge": "talking" | "stopped-talking", "room": ..., "id": ...}."""

from pydantic import JsonValue

from server.voice.room_events import (
    MuteChanged,
    ParticipantJoined,
    ParticipantLeft,
    RoomEvent,
    RoomMirror,
    StartedTalking,
    StoppedTalking,
)

Json = dict[str, JsonValue]
HANDLES = 3


def joined(person: str, room: str = "room-1") -> Json:
    """The answer to palabre's own join (Janus leaves out the display; palabre adds it)."""
    return {"audiobridge": "joined", "room": room, "id": person, "display": person.title()}


def moderated(person: str, *, muted: bool) -> Json:
    return {
        "audiobridge": "event",
        "room": "room-1",
        "participants": [{"id": person, "display": person, "setup": True, "muted": muted}],
    }


def talking(person: str, *, now: bool) -> Json:
    return {"audiobridge": "talking" if now else "stopped-talking", "room": "room-1", "id": person}


def heard_by_every_handle(mirror: RoomMirror, message: Json) -> list[RoomEvent]:
    """The message as Janus sends it: once to each person's handle in the room."""
    changes = []
    for _ in range(HANDLES):
        changes += mirror.apply(message)
    return changes


def test_talking_heard_by_every_handle_is_reported_once() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann"))
    heard_by_every_handle(mirror, moderated("ann", muted=False))
    assert heard_by_every_handle(mirror, talking("ann", now=True)) == [
        StartedTalking("room-1", "ann")
    ]
    assert mirror.talking("room-1") == {"ann"}
    assert heard_by_every_handle(mirror, talking("ann", now=False)) == [
        StoppedTalking("room-1", "ann")
    ]
    assert mirror.talking("room-1") == set()


def test_a_mute_ends_talking_at_once_and_an_unmute_resumes_what_janus_still_holds() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann"))
    mirror.apply(moderated("ann", muted=False))
    mirror.apply(talking("ann", now=True))
    # Janus sends no stopped-talking on a mute: the mirror ends the talk itself.
    assert heard_by_every_handle(mirror, moderated("ann", muted=True)) == [
        MuteChanged("room-1", "ann", True),
        StoppedTalking("room-1", "ann"),
    ]
    # Janus still holds Ann talking, and will send no new `talking` when she speaks.
    assert heard_by_every_handle(mirror, moderated("ann", muted=False)) == [
        MuteChanged("room-1", "ann", False),
        StartedTalking("room-1", "ann"),
    ]
    assert mirror.apply(talking("ann", now=False)) == [StoppedTalking("room-1", "ann")]


def test_nobody_is_heard_talking_while_muted() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann"))
    assert mirror.apply(talking("ann", now=True)) == []
    assert mirror.talking("room-1") == set()


def test_leaving_while_talking_ends_the_talk_first() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann"))
    mirror.apply(joined("bob"))
    mirror.apply(moderated("ann", muted=False))
    mirror.apply(talking("ann", now=True))
    leaving: Json = {"audiobridge": "event", "room": "room-1", "leaving": "ann"}
    assert heard_by_every_handle(mirror, leaving) == [
        StoppedTalking("room-1", "ann"),
        ParticipantLeft("room-1", "ann"),
    ]
    assert mirror.members("room-1") == {"bob"}


def test_a_move_is_a_leave_then_a_muted_join() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann", room="plenary"))
    mirror.apply(moderated("ann", muted=False) | {"room": "plenary"})
    moved: Json = {
        "audiobridge": "roomchanged",
        "room": "room-2",
        "id": "ann",
        "display": "Ann",
        "participants": [{"id": "bob", "display": "Bob", "setup": False, "muted": True}],
    }
    assert mirror.apply(moved) == [
        ParticipantLeft("plenary", "ann"),
        ParticipantJoined("room-2", "ann", "Ann"),
        ParticipantJoined("room-2", "bob", "Bob"),
    ]


def test_everyone_leaves_when_janus_goes_away_or_the_room_ends() -> None:
    mirror = RoomMirror()
    mirror.apply(joined("ann"))
    mirror.apply(joined("bob", room="room-2"))
    mirror.apply(moderated("ann", muted=False))
    mirror.apply(talking("ann", now=True))
    assert mirror.forget_all() == [
        StoppedTalking("room-1", "ann"),
        ParticipantLeft("room-1", "ann"),
        ParticipantLeft("room-2", "bob"),
    ]
    mirror.apply(joined("carl"))
    assert mirror.apply({"audiobridge": "destroyed", "room": "room-1"}) == [
        ParticipantLeft("room-1", "carl")
    ]


def test_messages_about_no_known_room_or_person_change_nothing() -> None:
    mirror = RoomMirror()
    assert mirror.apply({"audiobridge": "talking", "id": "ann"}) == []
    assert mirror.apply(talking("stranger", now=True)) == []
    assert mirror.apply({"audiobridge": "event", "room": "room-1", "leaving": "stranger"}) == []
    assert mirror.apply({"audiobridge": "event", "room": "room-1", "participants": "junk"}) == []
