"""Each stream's snapshot, built and JSON-encoded once per audience and seq, for every `sync`.

A connect storm (a thousand jurors opening their links within a minute) asks for the same few
snapshots over and over: one per room and audience, and the assembly's. Building and encoding
each once, and handing the same text to every `sync` reply (`server.wire.RawJson`), turns the
cost per connection from the size of the views into the size of the reply.

A view shows its stream's state and, through the roster (names, pseudonyms, who sits where),
the assembly stream's: it is the same for as long as both seqs are, so those two seqs are the
key, and a new event of either makes the next `sync` build it afresh. Every change of the state
comes with an event of one of the two streams (`facilitation.evolve` is the only writer), and
tests/server/test_snapshot_cache.py checks it event by event on a whole deliberation.
"""

import json
from typing import Any

from facilitation import ASSEMBLY_STREAM, Assembly
from server.audience import Audience
from server.fanout import stream_view
from server.wire import RawJson


def encode_view(view: dict[str, Any]) -> RawJson:
    # As python-socketio encodes its packets (compact separators), so the bytes are the same.
    return RawJson(json.dumps(view, separators=(",", ":")), view["seq"])


class SnapshotCache:
    """The latest encoded snapshot of each (stream, audience) of one live assembly (the gateway
    keeps one per `AssemblyRuntime`).

    Only what `read` shows may go in (committed state): a batch being written is never seen,
    so an entry always shows the log at its seqs. The runtime's `generation` is part of the
    key: memory rebuilt from the log (a rollback, a reload after a reset database) may hold
    other events at the same seqs.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, Audience], tuple[tuple[int, int, int], RawJson]] = {}
        # How many snapshots were built, and how many served from the cache (for the tests
        # and the benchmark's notes).
        self.built = 0
        self.served = 0

    def get(
        self,
        state: Assembly,
        generation: int,
        assembly_id: str,
        stream: str,
        audience: Audience,
        now_ms: int,
    ) -> RawJson:
        key = (generation, state.seqs.get(stream, 0), state.seqs.get(ASSEMBLY_STREAM, 0))
        entry = self._entries.get((stream, audience))
        if entry is not None and entry[0] == key:
            self.served += 1
            return entry[1]
        encoded = encode_view(stream_view(state, assembly_id, stream, audience, now_ms))
        self._entries[(stream, audience)] = (key, encoded)
        self.built += 1
        return encoded
