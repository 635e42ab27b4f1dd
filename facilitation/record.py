"""The deliberation record as a hash chain: each event carries the hash of the one before it in
its stream, so an exported log can be verified offline by anyone."""

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

# The hash a stream's first event chains from.
GENESIS_HASH = "0" * 64


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """One byte string per event, whatever the producer: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, encoded_event: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(encoded_event)).hexdigest()


def verify_chain(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Check records of the form `{"event": {...}, "prev_hash": h0, "hash": h1}`.

    Records may interleave streams but must be in seq order within each. Returns the problems
    found (empty when the record is intact).
    """
    heads: dict[str, tuple[int, str]] = {}
    problems = []
    for record in records:
        event = record["event"]
        stream, seq = event["room"], event["seq"]
        last_seq, last_hash = heads.get(stream, (0, GENESIS_HASH))
        where = f"{stream}#{seq}"
        if seq != last_seq + 1:
            problems.append(f"{where}: expected seq {last_seq + 1}")
        if record["prev_hash"] != last_hash:
            problems.append(f"{where}: does not chain from the event before it")
        if chain_hash(record["prev_hash"], event) != record["hash"]:
            problems.append(f"{where}: its content does not match its hash")
        heads[stream] = (seq, record["hash"])
    return problems
