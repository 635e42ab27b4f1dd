"""The agenda: time-boxed items run one after another, each optionally tied to a question."""

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode
from facilitation.commands import (
    AddAgendaItem,
    AdvanceAgenda,
    ExpireAgendaItem,
    ExtendAgendaItem,
    PauseRoom,
    PoseQuestion,
    PostPosition,
    ResumeRoom,
)
from facilitation.events import (
    AgendaItemAdded,
    AgendaItemEnded,
    AgendaItemExtended,
    AgendaItemStarted,
    PositionPosted,
    QuestionPosed,
)
from facilitation.limits import MAX_DURATION_MS, MAX_LABEL_CHARS
from facilitation.state import AgendaItem
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM
MINUTE = 60_000


def agenda(world: World) -> list[AgendaItem]:
    return world.state.rooms[P].agenda


def add_item(world: World, title: str, duration_ms: int = 10 * MINUTE) -> str:
    events = world.run("f1", AddAgendaItem(room=P, title=title, duration_ms=duration_ms))
    return only(events, AgendaItemAdded).item_id


def statuses(world: World) -> list[str]:
    return [item.status for item in agenda(world)]


def test_items_are_added_in_order_and_wait_their_turn() -> None:
    world = assembly()

    first = add_item(world, "  Welcome  ", 5 * MINUTE)
    second = add_item(world, "Evidence", 30 * MINUTE)

    assert [(item.id, item.title, item.duration_ms) for item in agenda(world)] == [
        (first, "Welcome", 5 * MINUTE),
        (second, "Evidence", 30 * MINUTE),
    ]
    assert statuses(world) == ["pending", "pending"]
    assert world.state.rooms[P].current_item() is None


def test_an_item_can_be_tied_to_a_question_of_the_room() -> None:
    world = assembly()
    events = world.run("f1", PoseQuestion(room=P, text="Should the town build the bridge?"))
    question = only(events, QuestionPosed).node_id

    world.run(
        "lead", AddAgendaItem(room=P, title="The bridge", duration_ms=MINUTE, question_id=question)
    )

    assert agenda(world)[0].question_id == question


def test_an_item_can_only_be_tied_to_an_existing_question() -> None:
    world = assembly()
    events = world.run("f1", PoseQuestion(room=P, text="Should the town build the bridge?"))
    question = only(events, QuestionPosed).node_id
    events = world.run("j1", PostPosition(room=P, question_id=question, text="Yes"))
    position = only(events, PositionPosted).node_id

    assert (
        world.refuse("f1", AddAgendaItem(room=P, title="X", duration_ms=MINUTE, question_id="n99"))
        == ErrorCode.NODE_NOT_FOUND
    )
    assert (
        world.refuse(
            "f1", AddAgendaItem(room=P, title="X", duration_ms=MINUTE, question_id=position)
        )
        == ErrorCode.NODE_NOT_FOUND
    )


def test_an_item_needs_a_short_title() -> None:
    world = assembly()

    assert (
        world.refuse("f1", AddAgendaItem(room=P, title="   ", duration_ms=MINUTE))
        == ErrorCode.TEXT_EMPTY
    )
    assert (
        world.refuse(
            "f1", AddAgendaItem(room=P, title="x" * (MAX_LABEL_CHARS + 1), duration_ms=MINUTE)
        )
        == ErrorCode.TEXT_TOO_LONG
    )
    add_item(world, "x" * MAX_LABEL_CHARS)


def test_an_item_needs_a_duration_within_a_day() -> None:
    world = assembly()

    assert (
        world.refuse("f1", AddAgendaItem(room=P, title="Break", duration_ms=0))
        == ErrorCode.INVALID_DURATION
    )
    assert (
        world.refuse("f1", AddAgendaItem(room=P, title="Break", duration_ms=MAX_DURATION_MS + 1))
        == ErrorCode.INVALID_DURATION
    )
    add_item(world, "All day", MAX_DURATION_MS)


def test_advancing_starts_the_first_item_with_its_deadline() -> None:
    world = assembly()
    first = add_item(world, "Welcome", 5 * MINUTE)
    add_item(world, "Evidence")

    events = world.run("f1", AdvanceAgenda(room=P))

    started = only(events, AgendaItemStarted)
    assert [type(event) for event in events] == [AgendaItemStarted]
    assert (started.item_id, started.deadline_ms) == (first, world.now_ms + 5 * MINUTE)
    assert statuses(world) == ["running", "pending"]
    current = world.state.rooms[P].current_item()
    assert current is not None
    assert current.id == first


def test_advancing_ends_the_running_item_and_starts_the_next() -> None:
    world = assembly()
    first = add_item(world, "Welcome", 5 * MINUTE)
    second = add_item(world, "Evidence", 30 * MINUTE)
    world.run("f1", AdvanceAgenda(room=P))
    world.tick(MINUTE)

    events = world.run("f1", AdvanceAgenda(room=P))

    ended, started = events
    assert isinstance(ended, AgendaItemEnded)
    assert (ended.item_id, ended.reason) == (first, "advanced")
    assert isinstance(started, AgendaItemStarted)
    assert (started.item_id, started.deadline_ms) == (second, world.now_ms + 30 * MINUTE)
    assert statuses(world) == ["done", "running"]


def test_advancing_past_the_last_item_ends_it_and_then_the_agenda_is_finished() -> None:
    world = assembly()
    only_item = add_item(world, "Welcome")
    world.run("f1", AdvanceAgenda(room=P))

    events = world.run("f1", AdvanceAgenda(room=P))

    assert [type(event) for event in events] == [AgendaItemEnded]
    assert only(events, AgendaItemEnded).item_id == only_item
    assert statuses(world) == ["done"]
    assert world.refuse("f1", AdvanceAgenda(room=P)) == ErrorCode.AGENDA_FINISHED


def test_an_empty_agenda_cannot_advance() -> None:
    world = assembly()

    assert world.refuse("f1", AdvanceAgenda(room=P)) == ErrorCode.AGENDA_FINISHED


def test_an_item_added_after_the_agenda_finished_can_still_be_started() -> None:
    world = assembly()
    add_item(world, "Welcome")
    world.run("f1", AdvanceAgenda(room=P))
    world.run("f1", AdvanceAgenda(room=P))
    late = add_item(world, "Any other business")

    events = world.run("f1", AdvanceAgenda(room=P))

    assert only(events, AgendaItemStarted).item_id == late


def test_the_agenda_cannot_advance_while_the_room_is_paused() -> None:
    world = assembly()
    add_item(world, "Welcome")
    world.run("f1", PauseRoom(room=P))

    assert world.refuse("f1", AdvanceAgenda(room=P)) == ErrorCode.ROOM_PAUSED

    world.run("f1", ResumeRoom(room=P))
    world.run("f1", AdvanceAgenda(room=P))


def test_extending_the_running_item_moves_its_deadline() -> None:
    world = assembly()
    item = add_item(world, "Evidence", 30 * MINUTE)
    world.run("f1", AdvanceAgenda(room=P))
    deadline = agenda(world)[0].deadline_ms
    assert deadline is not None

    events = world.run("f1", ExtendAgendaItem(room=P, by_ms=5 * MINUTE))

    extended = only(events, AgendaItemExtended)
    assert (extended.item_id, extended.deadline_ms) == (item, deadline + 5 * MINUTE)
    assert agenda(world)[0].deadline_ms == deadline + 5 * MINUTE


def test_extending_needs_a_running_item() -> None:
    world = assembly()
    add_item(world, "Welcome")

    assert world.refuse("f1", ExtendAgendaItem(room=P, by_ms=MINUTE)) == ErrorCode.NO_CURRENT_ITEM

    world.run("f1", AdvanceAgenda(room=P))
    world.run("f1", AdvanceAgenda(room=P))
    assert world.refuse("f1", ExtendAgendaItem(room=P, by_ms=MINUTE)) == ErrorCode.NO_CURRENT_ITEM


def test_extending_needs_a_duration_within_a_day() -> None:
    world = assembly()
    add_item(world, "Welcome")
    world.run("f1", AdvanceAgenda(room=P))

    assert world.refuse("f1", ExtendAgendaItem(room=P, by_ms=0)) == ErrorCode.INVALID_DURATION
    assert (
        world.refuse("f1", ExtendAgendaItem(room=P, by_ms=MAX_DURATION_MS + 1))
        == ErrorCode.INVALID_DURATION
    )


def test_an_item_ends_at_its_deadline_and_the_next_waits_for_the_facilitator() -> None:
    world = assembly()
    item = add_item(world, "Welcome", 5 * MINUTE)
    add_item(world, "Evidence")
    world.run("f1", AdvanceAgenda(room=P))
    world.tick(5 * MINUTE)

    events = world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=item))

    ended = only(events, AgendaItemEnded)
    assert [type(event) for event in events] == [AgendaItemEnded]
    assert (ended.item_id, ended.reason) == (item, "deadline")
    assert statuses(world) == ["done", "pending"]


def test_an_early_or_stale_item_expiry_decides_nothing() -> None:
    world = assembly()
    first = add_item(world, "Welcome", 5 * MINUTE)
    second = add_item(world, "Evidence", 5 * MINUTE)
    world.run("f1", AdvanceAgenda(room=P))
    world.tick(5 * MINUTE - 1)

    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=first)) == []
    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=second)) == []
    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id="a999")) == []

    world.run("f1", AdvanceAgenda(room=P))
    world.tick(5 * MINUTE)
    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=first)) == []
    assert statuses(world) == ["done", "running"]


def test_the_old_deadline_no_longer_ends_an_extended_item() -> None:
    world = assembly()
    item = add_item(world, "Welcome", 5 * MINUTE)
    world.run("f1", AdvanceAgenda(room=P))
    world.run("f1", ExtendAgendaItem(room=P, by_ms=2 * MINUTE))
    world.tick(5 * MINUTE)

    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=item)) == []

    world.tick(2 * MINUTE)
    assert [type(e) for e in world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=item))] == [
        AgendaItemEnded
    ]
