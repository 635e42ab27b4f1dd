"""The command table in docs/ is generated from the rules and must match them."""

from pathlib import Path

from facilitation.docgen import command_table
from facilitation.messages import Command
from facilitation.registry import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "commands.md"


def test_every_command_has_a_rule() -> None:
    assert set(Command.registry.values()) == set(RULES)


def test_commands_doc_is_up_to_date() -> None:
    assert DOC.read_text() == command_table(), "run `make docs` and commit docs/commands.md"
