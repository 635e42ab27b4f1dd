"""The base classes of commands and events, and the registry that names them on the wire."""

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from facilitation.roles import Role


def wire_name(class_name: str) -> str:
    """`RaiseHand` -> `raise_hand`: the name a message has in JSON and in the docs."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


@dataclass(frozen=True, kw_only=True)
class Command:
    """A request from an actor. Subclasses say which roles may issue them."""

    name: ClassVar[str] = "command"
    roles: ClassVar[frozenset[Role]] = frozenset()
    registry: ClassVar[dict[str, type["Command"]]] = {}
    # Read by pydantic at the edge: a message with an unknown field is refused, not ignored.
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__ not in {"RoomCommand"}:
            cls.name = wire_name(cls.__name__)
            Command.registry[cls.name] = cls


@dataclass(frozen=True, kw_only=True)
class RoomCommand(Command):
    """A command that acts in one room."""

    room: str


@dataclass(frozen=True, kw_only=True)
class Event:
    """A fact, in the past tense. `seq` counts from 1 in each stream (a room or the assembly)."""

    name: ClassVar[str] = "event"
    registry: ClassVar[dict[str, type["Event"]]] = {}
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}
    # The version of this event's shape in the log, stored in each body. Bump it when a change
    # would stop older bodies from decoding (a field removed, renamed or retyped, or added
    # without a default), and register an upcaster from the old version (facilitation/upcast.py).
    schema_version: ClassVar[int] = 1

    room: str
    seq: int
    actor: str
    at_ms: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = wire_name(cls.__name__)
        Event.registry[cls.name] = cls
