"""The socket's packets: python-socketio's, with JSON nested too deep refused before decoding,
and JSON encoded once (`RawJson`) placed in a packet as it is.

`json.loads` recurses once per level, so a small message nested a few thousand levels deep
raised `RecursionError` inside python-socketio's packet decoder: no ack, a traceback in the log.
Here the nesting is measured first; a message too deep decodes to the event `TOO_DEEP`, which
no JSON text can name, so the gateway answers it like any other bad command.

Going out, python-socketio looks for binary parts in every value of every packet, recursively
(`Packet.data_is_binary`), and then encodes it whole. palabre never sends binary, so its packets
say so (`uses_binary_events = False`, the attribute python-socketio's own msgpack packets set),
and a snapshot encoded once for a connect storm (`server.snapshots`) goes into each `sync`
reply as the same text, not walked or encoded again.
"""

import json
import re
import secrets
from typing import Any

import engineio.packet
import socketio
from engineio import json as engineio_json
from socketio.packet import BINARY_EVENT, EVENT

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
# The event of a message that is no socket.io event at all (`4x`, `42{}`, an empty message).
MALFORMED = _EventName("not a socket.io event")


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


class RawJson:
    """A JSON value already encoded (a snapshot), put into a packet as its text is.

    `seq` is the view's own, so code that sequences snapshots need not decode the text."""

    __slots__ = ("seq", "text")

    def __init__(self, text: str, seq: int) -> None:
        self.text = text
        self.seq = seq

    def __repr__(self) -> str:
        return f"RawJson(seq={self.seq}, {len(self.text)} chars)"


# Stands in a packet's JSON for a `RawJson` until its text replaces it: random per process, so
# no text a client sends can name it.
_RAW_MARK = f"raw-json-{secrets.token_hex(16)}-"


def dumps_with_raw(data: Any, **options: Any) -> str:
    """`json.dumps`, with each `RawJson` written as its text (the C encoder does the rest)."""
    raws: list[RawJson] = []

    def mark(value: Any) -> str:
        if not isinstance(value, RawJson):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        raws.append(value)
        return f"{_RAW_MARK}{len(raws) - 1}"

    text = json.dumps(data, default=mark, **options)
    if not raws:
        return text
    # Each mark is a whole JSON string: its quotes go with it. Built in one pass, in order.
    parts: list[str] = []
    start = 0
    for index, raw in enumerate(raws):
        quoted = f'"{_RAW_MARK}{index}"'
        at = text.index(quoted, start)
        parts.extend((text[start:at], raw.text))
        start = at + len(quoted)
    parts.append(text[start:])
    return "".join(parts)


class DepthLimitedJson:
    """The JSON module of the server's packets (python-socketio calls `dumps` and `loads`)."""

    dumps = staticmethod(dumps_with_raw)

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
    # palabre sends no binary: no walk through every value of every packet looking for it.
    uses_binary_events = False

    def __init__(self, *args: Any, encoded_packet: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)
        # An empty message is not decoded at all: it would reach the handler with no event.
        if encoded_packet is not None:
            self._refuse_malformed()

    def decode(self, encoded_packet: Any) -> int:
        """As socket.io decodes, except that what is no event of a known shape becomes the event
        `MALFORMED` (answered `invalid_command` when it has an ack id) instead of a traceback
        in python-socketio's handler."""
        try:
            attachments: int = super().decode(encoded_packet)
        except (ValueError, IndexError, TypeError):
            self.packet_type, self.namespace, self.id = EVENT, "/", None
            self.data: Any = None
            return 0
        return attachments

    def _refuse_malformed(self) -> None:
        if self.packet_type in (EVENT, BINARY_EVENT) and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            self.data = [MALFORMED]


class EngineJson:
    """engine.io's JSON module, refusing text nested too deep as it refuses any text that is no
    JSON: engine.io then hands it on as text, which socket.io finds `MALFORMED`. Without it a
    raw engine.io message (`4[[[...`) met `RecursionError` and the connection died with a
    traceback."""

    dumps = staticmethod(engineio_json.dumps)

    @staticmethod
    def loads(text: str, **options: Any) -> Any:
        if nested_deeper_than(text, MAX_NESTING_DEPTH):
            raise ValueError(f"nested deeper than {MAX_NESTING_DEPTH} levels")
        return engineio_json.loads(text, **options)


def guard_engineio() -> None:
    """Give engine.io the guarded module. engine.io has no hook per server: its own `json=`
    option sets this same class attribute for the whole process, as this does. It only
    decodes engine.io's own small packets (the handshake) with it, so clients in the same
    process lose nothing."""
    engineio.packet.Packet.json = EngineJson
