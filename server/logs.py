"""Structured logs: one JSON object per line, and never a token in any of them."""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Invite tokens (itsdangerous) and bearer tokens travel in URLs, headers and auth payloads; mask
# anything that looks like one, wherever it appears in a message or a field.
TOKEN_PATTERNS = (
    re.compile(r"(/join/)[A-Za-z0-9_\-.]+"),
    re.compile(
        r"((?:token|authorization|auth)[\"']?\s*[:=]\s*[\"']?(?:Bearer\s+)?)[^\s\"'&,}]+",
        re.IGNORECASE,
    ),
)
# uvicorn adds `color_message`, a duplicate of the message for terminals.
STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def redact(text: str) -> str:
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_FIELDS:
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for palabre and uvicorn's access log alike."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("palabre", "uvicorn", "uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
