"""Stored event bodies carry the version of their shape, and old shapes are brought up to
today's classes by upcasters before they are decoded."""

from typing import Any

import pytest

from facilitation.codec import UnknownMessage, decode_event, encode, encode_for_log
from facilitation.events import HandRaised
from facilitation.upcast import SCHEMA_VERSION_KEY, UPCASTERS, UnknownVersion, upcaster
from tests.core.builders import assembly

RAISED = HandRaised(room="plenary", seq=4, actor="j1", at_ms=1_000, participant="j1")


def a_later_hand_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if `hand_raised` had moved to version 2, which renamed `raised_by` to `participant`
    and dropped `urgent`: an upcaster from version 1, for this test only."""
    monkeypatch.setattr(HandRaised, "schema_version", 2)
    monkeypatch.setattr("facilitation.upcast.UPCASTERS", dict(UPCASTERS))

    @upcaster("hand_raised", 1)
    def rename_raised_by(body: dict[str, Any]) -> dict[str, Any]:
        body["participant"] = body.pop("raised_by")
        body.pop("urgent")
        return body


def test_every_event_is_logged_with_the_version_of_its_class_and_reads_back() -> None:
    for event in assembly().log:
        body = encode_for_log(event)
        assert body == {**encode(event), SCHEMA_VERSION_KEY: type(event).schema_version}
        assert decode_event(body) == event


def test_a_body_without_a_version_is_read_as_version_1() -> None:
    assert SCHEMA_VERSION_KEY not in encode(RAISED)
    assert decode_event(encode(RAISED)) == RAISED


def test_an_old_shaped_body_decodes_through_its_upcaster(monkeypatch: pytest.MonkeyPatch) -> None:
    written_then = {
        "type": "hand_raised",
        "room": "plenary",
        "seq": 4,
        "actor": "j1",
        "at_ms": 1_000,
        "raised_by": "j1",
        "urgent": True,
    }
    with pytest.raises(ValueError):  # today's class alone refuses the old shape
        decode_event(written_then)

    a_later_hand_raised(monkeypatch)

    assert decode_event(written_then) == RAISED
    assert decode_event({**written_then, SCHEMA_VERSION_KEY: 1}) == RAISED
    assert decode_event({**encode(RAISED), SCHEMA_VERSION_KEY: 2}) == RAISED
    assert encode_for_log(RAISED)[SCHEMA_VERSION_KEY] == 2


def test_an_old_body_without_its_upcaster_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(HandRaised, "schema_version", 2)

    with pytest.raises(UnknownVersion, match="no upcaster for hand_raised version 1"):
        decode_event(encode(RAISED))


@pytest.mark.parametrize("version", [2, 0, "1", True, None])
def test_a_version_this_code_cannot_read_is_refused(version: Any) -> None:
    with pytest.raises(UnknownVersion):
        decode_event({**encode(RAISED), SCHEMA_VERSION_KEY: version})


def test_an_unknown_type_is_still_an_unknown_message() -> None:
    with pytest.raises(UnknownMessage):
        decode_event({"type": "hand_waved", SCHEMA_VERSION_KEY: 1})


def test_an_upcaster_is_registered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    a_later_hand_raised(monkeypatch)
    with pytest.raises(ValueError, match="two upcasters"):
        upcaster("hand_raised", 1)(lambda body: body)
