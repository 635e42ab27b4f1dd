"""The snapshot cache never serves a stale view: along a whole deliberation (every kind of
event, a breakout round with moves, removals and the recall), after each event every stream's
cached snapshot, for every audience, is the text a fresh view encodes to."""

import json

from facilitation import ASSEMBLY_STREAM, Assembly, evolve
from server.audience import Audience
from server.fanout import stream_view
from server.snapshots import SnapshotCache
from server.wire import RawJson, dumps_with_raw
from tests.web.test_client_state import recording


def test_a_cached_snapshot_is_the_fresh_view_after_every_event_of_a_deliberation() -> None:
    log = recording(pseudonymous=True).log
    state, cache = Assembly(), SnapshotCache()
    for event in log:
        evolve(state, event)
        for stream in [ASSEMBLY_STREAM, *state.rooms]:
            for audience in Audience:
                cached = cache.get(state, 1, "jury", stream, audience, 0)
                fresh = stream_view(state, "jury", stream, audience, 0)
                assert cached.text == json.dumps(fresh, separators=(",", ":")), (event, stream)
    # An event of a room leaves the other streams' snapshots as they were: served, not built.
    assert cache.served > 0


def test_a_new_generation_builds_the_snapshot_again() -> None:
    state, cache = Assembly(), SnapshotCache()
    first = cache.get(state, 1, "jury", ASSEMBLY_STREAM, Audience.MEMBER, 0)
    assert cache.get(state, 1, "jury", ASSEMBLY_STREAM, Audience.MEMBER, 0) is first
    assert cache.get(state, 2, "jury", ASSEMBLY_STREAM, Audience.MEMBER, 0) is not first


def test_encoded_text_goes_into_a_packet_as_it_is_and_nothing_else_is_taken_for_it() -> None:
    raw = RawJson('{"seq":3,"people":{"j1":{"name":"Ana"}}}', 3)
    sneaky = 'raw-json-0-"'  # what a client might write, hoping to be taken for the text
    text = dumps_with_raw([{"snapshots": {"plenary": raw, "r1": raw}, "text": sneaky}])
    assert json.loads(text) == [
        {"snapshots": {"plenary": json.loads(raw.text), "r1": json.loads(raw.text)}, "text": sneaky}
    ]
    assert dumps_with_raw({"a": [1, "x"]}) == json.dumps({"a": [1, "x"]})
