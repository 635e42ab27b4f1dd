"""The lead's private note to a room's facilitators: the moderators of the room read it live and
in snapshots, everyone else learns only that one was sent; the full report has its words, the
public report does not."""

from facilitation import PLENARY_ROOM
from facilitation.commands import SendFacilitatorNote
from facilitation.events import FacilitatorNoteSent
from facilitation.record import export_of
from server.audience import Audience, payloads
from server.reports.model import Scope, build_report
from server.reports.render import csv_files, render_html
from server.views import room_view
from tests.core.builders import World, assembly, only

NOTE = "Juror 3 has waited ten minutes: give them the floor"


def noted() -> tuple[World, FacilitatorNoteSent]:
    world = assembly(jurors=3, facilitators=1)
    event = only(
        world.run("lead", SendFacilitatorNote(room=PLENARY_ROOM, text=NOTE)), FacilitatorNoteSent
    )
    return world, event


def test_only_the_rooms_moderators_are_sent_the_words_of_a_note() -> None:
    world, event = noted()
    sent = payloads(world.state, event)
    assert sent[Audience.MODERATOR]["text"] == NOTE
    assert sent[Audience.MEMBER]["text"] is None
    assert sent[Audience.OBSERVER]["text"] is None
    assert sent[Audience.OBSERVER]["facilitators"] == ["f1"]


def test_only_the_rooms_moderators_see_notes_in_a_snapshot() -> None:
    world, _ = noted()
    state = world.state
    moderator = room_view(state, PLENARY_ROOM, Audience.MODERATOR, 0)
    assert [note["text"] for note in moderator["notes"]] == [NOTE]
    for audience in (Audience.MEMBER, Audience.OBSERVER):
        assert room_view(state, PLENARY_ROOM, audience, 0)["notes"] == []


def test_the_full_report_has_the_note_and_the_public_one_only_that_it_was_sent() -> None:
    world, _ = noted()
    document = export_of("noted", world.log, "2025-11-25T10:00:00+00:00")
    full = build_report(document, Scope.of(room=PLENARY_ROOM))
    public = build_report(document, Scope.of(room=PLENARY_ROOM), public=True)
    assert NOTE in render_html(full, "en")
    assert NOTE in csv_files(full)["moderation.csv"]
    shown = render_html(public, "en")
    assert NOTE not in shown
    assert "private note from the lead" in shown
    assert NOTE not in csv_files(public)["moderation.csv"]
    assert "note_sent" in csv_files(public)["moderation.csv"]
