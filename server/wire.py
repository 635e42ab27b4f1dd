"""The socket's packets: python-socketio's, with JSON nested too deep refused before decoding.

`json.loads` recurses once per level, so a small message nested a few thousand levels deep
raised `RecursionError` inside python-socketio's packet decoder: no ack, a traceback in the log.
Here the nesting is measured first; a message too deep decodes to the event `TOO_DEEP`, which
no JSON text can name, so the gateway answers it like any other bad command.
"""

import json
import re
from typing import Any

import socketio
from engineio import json as engineio_json

# palabre's own messages nest a handful of levels (a snapshot's poll's votes); 32 leaves room
# to spare and stays far below the interpreter's recursion limit.
MAX_NESTING_DEPTH = 32

# A JSON string, escapes included (brackets inside it are text), or a single bracket.
STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
OPENING = frozenset("[{")
CLOSING = frozenset("]}")


class _EventName(str):
    """An event name of the server's own: JSON decodes to plain `str`, never to this."""


TOO_DEEP = _EventName("nested too deep")


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON `text` opens more than `limit` arrays or objects inside one another."""
    if text.count("[") + text.count("{") <= limit:
        return False  # Most messages: a handful of brackets, no need to look closer.
    depth = 0
    for match in STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in OPENING:
            depth += 1
            if depth > limit:
                return True
        elif token in CLOSING:
            depth -= 1
    return False


class DepthLimitedJson:
    """The JSON module of the server's packets (python-socketio calls `dumps` and `loads`)."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str, **options: Any) -> Any:
        if nested_deeper_than(text, MAX_NESTING_DEPTH):
            # An event packet's data is `[name, *arguments]`: this one names `TOO_DEEP`. Its
            # ack id was read before the data, so the sender still gets an answer.
            return [TOO_DEEP]
        # engineio's module, as python-socketio's packets use by default: it also caps the
        # length of integers.
        return engineio_json.loads(text, **options)


class DepthLimitedPacket(socketio.packet.Packet):  # type: ignore[misc]
    """Given to the server as its `serializer`, so that only the server's packets use it
    (`json=` would replace the module of every packet in the process, clients' included)."""

    json = DepthLimitedJson
