"""Commands and events to and from JSON, validated against their own definitions."""

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from facilitation.messages import Command, Event
from facilitation.state import Assembly
from facilitation.upcast import SCHEMA_VERSION_KEY, UnknownVersion, upcast

# The shape of `encode_state`'s JSON, kept beside each snapshot: a snapshot of another version
# is not decoded, the log is replayed instead. Bump it with every change to the classes of
# facilitation/state.py that changes their JSON (a field added, removed, renamed or retyped:
# `Room.floor` becoming a turn id made 2, the open floor and voiced time 3, a round's
# announced recall 4, the reasons of mutes 5, a room's opening time, its notes and the lead's
# alarm thresholds 6, what rooms carry back to the plenary and its merged map 7);
# tests/core/test_state_version.py holds you to it.
STATE_VERSION = 7


class UnknownMessage(ValueError):
    """A message whose `type` names no command or event."""


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    """Building an adapter compiles a validator: do it once per message class."""
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def encode(message: Command | Event) -> dict[str, Any]:
    """The JSON form: `{"type": <wire name>, ...fields}`."""
    fields: dict[str, Any] = _adapter(type(message)).dump_python(message, mode="json")
    return {"type": message.name, **fields}


def encode_for_log(event: Event) -> dict[str, Any]:
    """The JSON form the log keeps: the event's and the version of its class's shape."""
    return {**encode(event), SCHEMA_VERSION_KEY: event.schema_version}


def _message_class(registry: dict[str, type[Any]], data: Any) -> tuple[type[Any], dict[str, Any]]:
    """The class a message's `type` names, and its other fields."""
    if not isinstance(data, dict):
        raise UnknownMessage("a message is a JSON object")
    fields = dict(data)
    name = fields.pop("type", None)
    cls = registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise UnknownMessage(f"unknown type {name!r}")
    return cls, fields


def decode_command(data: Any) -> Command:
    """A command as a client sent it, decoded strictly: a string is no number or boolean, a
    boolean no integer. Raises `UnknownMessage` or pydantic's `ValidationError`."""
    cls, fields = _message_class(Command.registry, data)
    # Validated as JSON text, not as Python objects: strict Python validation would also refuse
    # the lists that JSON arrays decode to where a command has a tuple.
    command: Command = _adapter(cls).validate_json(json.dumps(fields), strict=True)
    return command


def decode_event(data: Any) -> Event:
    """An event from its JSON form, or from a stored body of any version this code upcasts
    (written by the server itself, so decoded leniently).

    Raises `UnknownMessage`, `UnknownVersion` or pydantic's `ValidationError`.
    """
    if not isinstance(data, dict):
        raise UnknownMessage("a message is a JSON object")
    cls, fields = _message_class(Event.registry, upcast(data))
    event: Event = _adapter(cls).validate_python(fields)
    return event


def validation_detail(problem: ValidationError, whole: str) -> str:
    """The first problem in one line for people, `where: what`; `whole` names a problem with the
    entire input (a payload, a body) rather than one of its fields."""
    first = problem.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    more = f" (and {problem.error_count() - 1} more)" if problem.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def encode_state(state: Assembly) -> dict[str, Any]:
    """A snapshot of a whole assembly, so a restart need not replay the log from the start."""
    snapshot: dict[str, Any] = _adapter(Assembly).dump_python(state, mode="json")
    return snapshot


def decode_state(data: Any) -> Assembly:
    state: Assembly = _adapter(Assembly).validate_python(data)
    return state


def json_schema(cls: type[Command] | type[Event]) -> dict[str, Any]:
    """The JSON Schema of one message, `type` included, unknown fields refused."""
    schema: dict[str, Any] = _adapter(cls).json_schema()
    schema["properties"] = {"type": {"const": cls.name}, **schema.get("properties", {})}
    schema["required"] = ["type", *schema.get("required", [])]
    schema["additionalProperties"] = False
    schema["title"] = cls.name
    return schema


__all__ = [
    "STATE_VERSION",
    "UnknownMessage",
    "UnknownVersion",
    "ValidationError",
    "decode_command",
    "decode_event",
    "decode_state",
    "encode",
    "encode_for_log",
    "encode_state",
    "json_schema",
    "validation_detail",
]
