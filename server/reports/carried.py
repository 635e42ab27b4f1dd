"""What each room carried back to the plenary at a recall (`positions_carried`, issue 11), read
into the report: every position in the room's own words, its carried arguments, and the room's
jurors' objections to the carry, so a reader sees what reached the plenary and who disagreed."""

from collections.abc import Mapping
from typing import Any

from facilitation.events import PositionsCarried
from server.reports.model import CarriedItem, Gatherer, collects


@collects(PositionsCarried.name)
def read_carried(gatherer: Gatherer, body: Mapping[str, Any]) -> None:
    room = str(body.get("from_room", ""))
    round_id = body.get("round_id")
    marked_by = str(body.get("marked_by") or "")
    at_ms = int(body.get("at_ms", 0))

    def item(kind: str, text: object, by: str = marked_by, stance: object = None) -> None:
        gatherer.carried.append(
            CarriedItem(
                room=room,
                round_id=str(round_id) if round_id is not None else None,
                kind=kind,
                text=str(text),
                marked_by=by,
                at_ms=at_ms,
                stance=str(stance) if stance is not None else None,
            )
        )

    for position in body.get("positions", ()):
        item("position", position.get("text", ""))
        for argument in position.get("arguments", ()):
            item("argument", argument.get("text", ""), stance=argument.get("stance"))
    for objection in body.get("objections", ()):
        item("objection", objection.get("reason", ""), by=str(objection.get("participant", "")))
