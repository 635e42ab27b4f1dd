"""The deliberation record as a hash chain: each event carries the hash of the one before it in
its stream, so an exported log can be verified offline by anyone.

What is hashed is the event's body exactly as the store wrote it, never a re-encoding of it:
classes change over the years, the bytes of the record do not. docs/record.md describes the
export file this module checks.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from facilitation.codec import encode_for_log
from facilitation.messages import Event

# The hash a stream's first event chains from.
GENESIS_HASH = "0" * 64
# The export file's own format. Format 1 (files without `format`, written up to commit
# a442838) carried each event re-encoded as an object, and its hash was checked over that
# object's canonical JSON; format 2 carries each stored body verbatim and checks the hash over
# exactly those bytes. Both are read.
EXPORT_FORMAT = 2
FIRST_EXPORT_FORMAT = 1


class NotAnExport(ValueError):
    """A document that is not a palabre export of a format this code reads."""


@dataclass(frozen=True)
class Verification:
    """What checking an export found: how much it holds, and what is wrong with it."""

    events: int
    streams: int
    problems: list[str]


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """One byte string per event, whatever the producer: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, body: bytes) -> str:
    """The hash of a stored body, chained to the hash of the event before it in its stream."""
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def verify_chain(
    records: Iterable[Mapping[str, Any]], *, export_format: int = EXPORT_FORMAT
) -> list[str]:
    """Check records of the form `{"body": text, "prev_hash": h0, "hash": h1, ...}` (format 2)
    or `{"event": {...}, "prev_hash": h0, "hash": h1}` (format 1).

    Records may interleave streams but must be in seq order within each. Returns the problems
    found (empty when the record is intact).
    """
    return _check(records, export_format)[1]


def verify_export(document: Any) -> Verification:
    """Check a whole export file, parsed; raises `NotAnExport` when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        raise NotAnExport("an export is an object with a list of `records`")
    export_format = document.get("format", FIRST_EXPORT_FORMAT)
    if export_format not in (FIRST_EXPORT_FORMAT, EXPORT_FORMAT):
        raise NotAnExport(
            f"export format {export_format!r}: this palabre reads formats "
            f"{FIRST_EXPORT_FORMAT} to {EXPORT_FORMAT}"
        )
    records: list[Any] = document["records"]
    streams, problems = _check(records, export_format)
    return Verification(events=len(records), streams=streams, problems=problems)


def _check(records: Iterable[Any], export_format: int) -> tuple[int, list[str]]:
    heads: dict[str, tuple[int, str]] = {}
    problems: list[str] = []
    for number, record in enumerate(records, start=1):
        try:
            body, event = _hashed(record, export_format)
        except ValueError as unreadable:
            problems.append(f"record {number}: {unreadable}")
            continue
        stream, seq = event["room"], event["seq"]
        last_seq, last_hash = heads.get(stream, (0, GENESIS_HASH))
        where = f"{stream}#{seq}"
        if seq != last_seq + 1:
            problems.append(f"{where}: expected seq {last_seq + 1}")
        if record["prev_hash"] != last_hash:
            problems.append(f"{where}: does not chain from the event before it")
        if chain_hash(record["prev_hash"], body) != record["hash"]:
            problems.append(f"{where}: its content does not match its hash")
        if export_format != FIRST_EXPORT_FORMAT and "event" in record:
            shown = record["event"]
            if not isinstance(shown, dict) or canonical_json(shown) != canonical_json(event):
                problems.append(f"{where}: its `event` does not say what its `body` says")
        heads[stream] = (seq, record["hash"])
    return len(heads), problems


def _hashed(record: Any, export_format: int) -> tuple[bytes, dict[str, Any]]:
    """The bytes a record's hash covers, and the event they hold; ValueError if unreadable."""
    if not isinstance(record, dict):
        raise ValueError("not an object")
    for key in ("prev_hash", "hash"):
        if not isinstance(record.get(key), str):
            raise ValueError(f"no `{key}`")
    if export_format == FIRST_EXPORT_FORMAT:
        event = record.get("event")
        if not isinstance(event, dict):
            raise ValueError("no `event`")
        body = canonical_json(event)
    else:
        text = record.get("body")
        if not isinstance(text, str):
            raise ValueError("no `body`")
        try:
            body = text.encode()
            event = json.loads(text)
        except (UnicodeEncodeError, json.JSONDecodeError):
            raise ValueError("its `body` is not JSON text") from None
        if not isinstance(event, dict):
            raise ValueError("its `body` is not a JSON object")
    if not isinstance(event.get("room"), str) or type(event.get("seq")) is not int:
        raise ValueError("its event names no stream (`room`) and `seq`")
    return body, event


def export_of(assembly_id: str, events: Iterable[Event], exported_at: str) -> dict[str, Any]:
    """An export (format 2) of a log held in memory, each body written as the store writes it:
    for tools, benchmarks and tests that own their log (the server exports what it stored)."""
    heads: dict[str, str] = {}
    records = []
    for position, event in enumerate(events, start=1):
        body = canonical_json(encode_for_log(event))
        prev_hash = heads.get(event.room, GENESIS_HASH)
        heads[event.room] = chain_hash(prev_hash, body)
        records.append(
            {
                "position": position,
                "event": json.loads(body),
                "body": body.decode(),
                "prev_hash": prev_hash,
                "hash": heads[event.room],
            }
        )
    return {
        "format": EXPORT_FORMAT,
        "assembly": assembly_id,
        "exported_at": exported_at,
        "records": records,
        "problems": verify_chain(records),
    }
