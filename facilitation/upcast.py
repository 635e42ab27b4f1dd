"""Old event bodies brought up to today's event classes before they are decoded: the log is
never rewritten, so a class that changes must still read everything written before it.

Each stored body carries `schema_version` (bodies written before there were versions have none,
and are version 1). An upcaster registered for `(event type, version)` turns a body of that
version into one of the next version; `upcast` applies them in turn until the body is at the
version of today's class. A renamed event is an upcaster of its old name that returns a body
of the new `type`.
"""

from collections.abc import Callable, Mapping
from typing import Any

from facilitation.messages import Event

SCHEMA_VERSION_KEY = "schema_version"
# The version of bodies written before events carried one (up to commit a442838).
UNVERSIONED = 1

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownVersion(ValueError):
    """A body of a version this code cannot bring up to date: newer than its class, or older
    with no upcaster to follow."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the function that turns an `event_type` body of `from_version` into the next."""

    def register(step: Upcaster) -> Upcaster:
        if (event_type, from_version) in UPCASTERS:
            raise ValueError(f"two upcasters for {event_type} version {from_version}")
        UPCASTERS[event_type, from_version] = step
        return step

    return register


def upcast(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `body` as today's class of its type reads them, its version left out.

    A `type` no class or upcaster knows is returned as it is, for the decoder to refuse.
    """
    fields = dict(body)
    version = fields.pop(SCHEMA_VERSION_KEY, UNVERSIONED)
    if type(version) is not int or version < UNVERSIONED:
        raise UnknownVersion(f"{SCHEMA_VERSION_KEY} {version!r} is not a version")
    # Each step takes another (type, version) pair, the version only growing: the loop ends after
    # at most one step per registered upcaster.
    while True:
        name = fields.get("type")
        known = Event.registry.get(name) if isinstance(name, str) else None
        if known is not None and version == known.schema_version:
            return fields
        if known is not None and version > known.schema_version:
            raise UnknownVersion(
                f"{name} version {version} is newer than this palabre reads"
                f" ({known.schema_version})"
            )
        step = UPCASTERS.get((name, version)) if isinstance(name, str) else None
        if step is None:
            if known is None:
                return fields
            raise UnknownVersion(f"no upcaster for {name} version {version}")
        fields = step(dict(fields))
        version += 1
