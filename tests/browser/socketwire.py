"""What the browser tests' stand-ins on a page's socket read and rewrite: socket.io messages
as engine.io carries them over the websocket."""

import json
import re
from collections.abc import Callable
from typing import Any

# The page's socket.io connection, for `route_web_socket`.
SOCKET = re.compile(r".*/socket\.io/.*")
# An event from the page: "42", the ack id, the JSON arguments.
EMIT = re.compile(r"^42(\d+)(\[.*\])$", re.DOTALL)
# An ack travelling to the page: "43", the ack id, the JSON arguments.
ACK = re.compile(r"^43(\d+)(\[.*\])$", re.DOTALL)


def rewrite_reply(message: str | bytes, change: Callable[[dict[str, Any]], bool]) -> str | bytes:
    """The message with its ack's reply object changed in place by `change`, which says
    whether it changed anything; any other message as it was."""
    found = ACK.match(message) if isinstance(message, str) else None
    if found is None:
        return message
    arguments = json.loads(found[2])
    reply = arguments[0] if arguments and isinstance(arguments[0], dict) else None
    if reply is None or not change(reply):
        return message
    return f"43{found[1]}{json.dumps(arguments)}"
