"""A change to the shape of the state must come with a new `codec.STATE_VERSION`, or a restart
would read old snapshots as if they had today's shape."""

import hashlib
from typing import Any

from pydantic import TypeAdapter

from facilitation.codec import STATE_VERSION
from facilitation.record import canonical_json
from facilitation.state import Assembly

# The fingerprint of the state's JSON shape at each STATE_VERSION. When the test below fails,
# the classes of facilitation/state.py changed shape: bump STATE_VERSION and add the new
# fingerprint here (snapshots of older versions are then passed over and the log replayed).
# Never edit a fingerprint already listed.
SHAPES = {
    1: "cc2ee0c0ec7945899aee66765996c2336c71fb329d1f7e30310c79e343a68f04",
    # The floor refers to its turn by id (issue 7): one source, not two objects after decoding.
    2: "03fe738290f33e3f9867e84c296d3db6c8c407cde39ea24931691cfb3a9b9a8f",
    # The open floor, voiced time and what voice records need (issue 8).
    3: "967da544e0135888e93ea3a1a10bef4633d36915ad4ab4ce728ad7fea10cb135",
    # A round's recall announced ahead, with its time (issue 10).
    4: "9579d38bfe1f34d287c9243d0fe6589cd3d2507aaf24df9e9cad0b4cc7a752e3",
    # Why each muted juror was muted, so a page opened later can say it (issue 10).
    5: "b769ac953d2231bbe21fc103028d445a68a9cd8a28154744c57b5fc9376ee706",
    # A room's opening time and the lead's notes to it, the fairness alarm thresholds (issue 11).
    6: "cccb43fc49e5fe15e43cb50c46925f0f209f9a9289c480db311574f89bb6f9d5",
    # What each breakout room carries back, the plenary's merged map and its merge proposals,
    # and the map entry a position came from (issue 11).
    7: "82b26398f715b621f4602701a885f84ab8063a3b61587854f59cd0a6332beae4",
}
# What a schema says for people, not about the shape of the JSON.
PROSE = {"title", "description", "default"}


def shape(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {key: shape(value) for key, value in schema.items() if key not in PROSE}
    if isinstance(schema, list):
        return [shape(item) for item in schema]
    return schema


def fingerprint() -> str:
    schema = TypeAdapter(Assembly).json_schema(mode="serialization")
    return hashlib.sha256(canonical_json(shape(schema))).hexdigest()


def test_the_state_version_changes_with_the_shape_of_the_state() -> None:
    assert SHAPES.get(STATE_VERSION) == fingerprint(), (
        f"the state's shape is {fingerprint()}: if you changed it, bump codec.STATE_VERSION "
        "and add the new fingerprint to SHAPES"
    )
    assert list(SHAPES) == list(range(1, STATE_VERSION + 1))
