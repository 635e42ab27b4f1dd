"""The command table in docs/ is generated from the rules and must match them."""

import dataclasses
from pathlib import Path

import pytest

from facilitation import PLENARY_ROOM, ErrorCode, Refusal, RoomCommand
from facilitation.commands import GrantFloor, MuteParticipant, RemoveParticipant
from facilitation.docgen import command_table
from facilitation.messages import Command
from facilitation.registry import RULES
from tests.core.builders import assembly

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def test_every_command_has_a_rule() -> None:
    assert set(Command.registry.values()) == set(RULES)


def test_commands_doc_is_up_to_date() -> None:
    assert DOC.read_text() == command_table(), "run `make docs` and commit docs/commands.md"


def test_the_commands_refusing_a_juror_seated_elsewhere_list_not_in_room() -> None:
    """`not_in_room` about the juror a command names (not its sender) shows in its row."""
    world = assembly()
    world.run("f1", RemoveParticipant(room=PLENARY_ROOM, participant="j1", reason="Abuse."))
    naming = [
        rule.command
        for rule in RULES.values()
        if issubclass(rule.command, RoomCommand)
        and "participant" in {field.name for field in dataclasses.fields(rule.command)}
    ]
    refusing = set()
    for command_class in naming:
        fields = {"room": PLENARY_ROOM, "participant": "j1"}
        if "reason" in {field.name for field in dataclasses.fields(command_class)}:
            fields["reason"] = "Abuse."
        # The lead acts in every room: a `not_in_room` here is about j1, nobody else.
        try:
            world.decide("lead", command_class(**fields))
        except Refusal as refusal:
            if refusal.code is ErrorCode.NOT_IN_ROOM:
                refusing.add(command_class)

    assert refusing == {GrantFloor, MuteParticipant, RemoveParticipant}
    declared = {c for c in naming if ErrorCode.NOT_IN_ROOM in RULES[c].declared}
    assert declared == refusing


@pytest.mark.parametrize("name", ["vote", "request_reply"])
def test_the_notes_say_how_votes_and_reply_requests_count(name: str) -> None:
    notes = [line for line in command_table().splitlines() if line.startswith(f"- `{name}`:")]
    assert len(notes) == 1
    assert {"vote": "replaces", "request_reply": "withdrawn ones included"}[name] in notes[0]
