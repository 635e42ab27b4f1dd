"""The agenda: time-boxed items, each optionally tied to a question, run one after another."""

from facilitation.commands import AddAgendaItem, AdvanceAgenda, ExpireAgendaItem, ExtendAgendaItem
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    AgendaItemAdded,
    AgendaItemEnded,
    AgendaItemExtended,
    AgendaItemStarted,
)
from facilitation.limits import MAX_LABEL_CHARS
from facilitation.registry import Decision, check_duration, clean_text, decides_in_room, evolves
from facilitation.state import AgendaItem, Assembly, Room


@decides_in_room(
    AddAgendaItem,
    yields=(AgendaItemAdded,),
    refusals=(
        ErrorCode.TEXT_EMPTY,
        ErrorCode.TEXT_TOO_LONG,
        ErrorCode.INVALID_DURATION,
        ErrorCode.NODE_NOT_FOUND,
    ),
)
def add_item(d: Decision, room: Room, command: AddAgendaItem) -> None:
    title = clean_text(command.title, limit=MAX_LABEL_CHARS, what="the title")
    check_duration(command.duration_ms)
    if command.question_id is not None:
        node = room.nodes.get(command.question_id)
        if node is None or node.kind != "question":
            raise Refusal(ErrorCode.NODE_NOT_FOUND, f"no question {command.question_id}")
    envelope = d.at(room.id)
    d.emit(
        AgendaItemAdded(
            **envelope,
            item_id=f"a{envelope['seq']}",
            title=title,
            duration_ms=command.duration_ms,
            question_id=command.question_id,
        )
    )


@evolves(AgendaItemAdded)
def item_added(state: Assembly, event: AgendaItemAdded) -> None:
    state.rooms[event.room].agenda.append(
        AgendaItem(event.item_id, event.title, event.duration_ms, event.question_id)
    )


@decides_in_room(
    AdvanceAgenda,
    yields=(AgendaItemEnded, AgendaItemStarted),
    refusals=(ErrorCode.ROOM_PAUSED, ErrorCode.AGENDA_FINISHED),
)
def advance(d: Decision, room: Room, command: AdvanceAgenda) -> None:
    # A pause would shift the new item's deadline by time it never ran, so resume first.
    if room.paused_at_ms is not None:
        raise Refusal(ErrorCode.ROOM_PAUSED)
    current = room.current_item()
    upcoming = next((item for item in room.agenda if item.status == "pending"), None)
    if current is None and upcoming is None:
        raise Refusal(ErrorCode.AGENDA_FINISHED)
    if current is not None:
        d.emit(AgendaItemEnded(**d.at(room.id), item_id=current.id, reason="advanced"))
    if upcoming is not None:
        d.emit(
            AgendaItemStarted(
                **d.at(room.id), item_id=upcoming.id, deadline_ms=d.now + upcoming.duration_ms
            )
        )


@evolves(AgendaItemStarted)
def item_started(state: Assembly, event: AgendaItemStarted) -> None:
    item = _item(state.rooms[event.room], event.item_id)
    item.status = "running"
    item.deadline_ms = event.deadline_ms


@decides_in_room(
    ExtendAgendaItem,
    yields=(AgendaItemExtended,),
    refusals=(ErrorCode.NO_CURRENT_ITEM, ErrorCode.INVALID_DURATION),
)
def extend_item(d: Decision, room: Room, command: ExtendAgendaItem) -> None:
    check_duration(command.by_ms)
    current = room.current_item()
    if current is None or current.deadline_ms is None:
        raise Refusal(ErrorCode.NO_CURRENT_ITEM)
    d.emit(
        AgendaItemExtended(
            **d.at(room.id), item_id=current.id, deadline_ms=current.deadline_ms + command.by_ms
        )
    )


@evolves(AgendaItemExtended)
def item_extended(state: Assembly, event: AgendaItemExtended) -> None:
    _item(state.rooms[event.room], event.item_id).deadline_ms = event.deadline_ms


@decides_in_room(ExpireAgendaItem, yields=(AgendaItemEnded,))
def expire_item(d: Decision, room: Room, command: ExpireAgendaItem) -> None:
    """A stale expiry (item already ended, extended or paused) decides nothing."""
    current = room.current_item()
    if current is None or current.id != command.item_id or room.paused_at_ms is not None:
        return
    if current.deadline_ms is None or d.now < current.deadline_ms:
        return
    d.emit(AgendaItemEnded(**d.at(room.id), item_id=current.id, reason="deadline"))


@evolves(AgendaItemEnded)
def item_ended(state: Assembly, event: AgendaItemEnded) -> None:
    _item(state.rooms[event.room], event.item_id).status = "done"


def _item(room: Room, item_id: str) -> AgendaItem:
    return next(item for item in room.agenda if item.id == item_id)
