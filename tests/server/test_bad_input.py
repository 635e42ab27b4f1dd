"""Whatever a client sends, it gets a clear answer, nothing changes unless the command is valid,
and the server goes on serving everyone else."""

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from itsdangerous import URLSafeSerializer

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, Command, Role
from facilitation.events import PositionPosted
from facilitation.limits import MAX_TEXT_CHARS
from server.invites import SALT
from server.settings import HARD_MESSAGE_LIMIT_BYTES, MAX_PAYLOAD_BYTES
from server.wire import MAX_NESTING_DEPTH
from tests.server.harness import (
    WAIT_SECONDS,
    Client,
    LiveServer,
    connect_refusal,
    connected,
    demo_people,
    event_stream,
    plausible,
    serving,
    settings_for,
)

# A value no field of any command accepts: not a string, number, boolean, list of those or map
# of strings.
WRONG_TYPE = [{"nested": True}]
NOT_OBJECTS: list[Any] = [[{"room": PLENARY_ROOM}], "raise_hand", 42, 4.2, True, b"\x00\xff"]
GARBAGE_NAMES = [
    "",
    "RaiseHand",
    "raise-hand",
    "raise_hand ",
    "💥",
    "\x00",
    "../../etc",
    "x" * 5_000,
]
MARKUP = '<script>alert("x")</script><img src=x onerror=alert(1)> &amp; &lt;b&gt; \' " `'


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    # These tests send hundreds of messages from one client: lift the rate limit.
    async with serving(settings_for(database_url, tmp_path, rate_burst=10_000)) as live:
        yield live


@dataclass
class Room:
    """A juror who misbehaves and others who watch, with the stream heads before it began."""

    sender: Client
    witnesses: list[Client]
    heads: dict[str, int]

    async def nothing_happened_and_others_are_served(self) -> None:
        for client in (self.sender, *self.witnesses):
            assert client.last == self.heads
            assert all(events == [] for events in client.applied.values())
        other = self.witnesses[0]
        ack = await other.send("raise_hand")
        assert ack == {"ok": True, "seq": self.heads[PLENARY_ROOM] + 1}
        for client in (self.sender, *self.witnesses):
            await client.wait_seq(PLENARY_ROOM, ack["seq"])
            assert client.types(PLENARY_ROOM) == ["hand_raised"]
            assert client.applied[ASSEMBLY_STREAM] == []


@pytest.fixture
async def room(server: LiveServer) -> AsyncIterator[Room]:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["j1"]) as sender,
        connected(server.url, token=tokens["j2"]) as juror,
        connected(server.url, token=tokens["f1"]) as facilitator,
        connected(server.url, token=tokens["obs"]) as observer,
    ):
        yield Room(sender, [juror, facilitator, observer], dict(sender.last))


def refused(ack: Any, code: str, why: Any = None) -> None:
    assert isinstance(ack, dict), (why, ack)
    assert (ack.get("ok"), ack.get("error")) == (False, code), (why, ack)
    assert ack["detail"], (why, ack)


async def test_malformed_payloads_of_every_command_are_refused_and_change_nothing(
    room: Room,
) -> None:
    sender = room.sender
    for name, command in Command.registry.items():
        fields = plausible(name)
        ack = await sender.send(name, **fields, colour="red")
        refused(ack, "invalid_command", (name, "extra"))
        assert "colour" in ack["detail"]
        ack = await sender.send(name, **fields, type="grant_floor")
        refused(ack, "invalid_command", (name, "type"))
        for field in dataclasses.fields(command):
            wrong = {**fields, field.name: WRONG_TYPE}
            ack = await sender.send(name, **wrong)
            refused(ack, "invalid_command", (name, field.name, "wrong type"))
            assert field.name in ack["detail"], (name, ack)
            required = field.default is dataclasses.MISSING
            # A room left out is the sender's own room: that is not a mistake.
            if required and field.name != "room":
                missing = {k: v for k, v in fields.items() if k != field.name}
                ack = await sender.send(name, **missing)
                refused(ack, "invalid_command", (name, field.name, "missing"))
                assert field.name in ack["detail"], (name, ack)
        for payload in NOT_OBJECTS:
            refused(await sender.raw(name, payload), "invalid_command", (name, payload))
    await room.nothing_happened_and_others_are_served()


async def test_wrong_json_types_are_refused_not_converted(room: Room) -> None:
    facilitator, sender = room.witnesses[1], room.sender
    poll = {"question": "Q?", "kind": "single"}
    # Each was converted and accepted before: the field named is the one to refuse.
    by_facilitator: list[tuple[str, dict[str, Any], str]] = [
        ("set_room_rules", {"auto": "yes"}, "auto"),
        ("set_room_rules", {"auto": 1}, "auto"),
        ("set_room_rules", {"turn_limit_ms": "30000"}, "turn_limit_ms"),
        ("set_room_rules", {"turn_limit_ms": True}, "turn_limit_ms"),
        ("set_room_rules", {"turn_limit_ms": 30000.0}, "turn_limit_ms"),
        ("open_poll", {**poll, "options": ["a", 2]}, "options"),
        ("open_poll", {**poll, "secret": "false"}, "secret"),
        ("reorder_queue", {"order": "j1"}, "order"),
    ]
    by_juror: list[tuple[str, dict[str, Any], str]] = [
        ("vote", {"poll_id": "p1", "choices": ["0"]}, "choices"),
        ("vote", {"poll_id": "p1", "choices": [False]}, "choices"),
        ("speak", {"text": 42}, "text"),
    ]
    cases = [(facilitator, *case) for case in by_facilitator]
    cases += [(sender, *case) for case in by_juror]
    for client, name, fields, field in cases:
        ack = await client.send(name, room=PLENARY_ROOM, **fields)
        refused(ack, "invalid_command", (name, fields))
        assert field in ack["detail"], (name, fields, ack)
    await room.nothing_happened_and_others_are_served()
    # JSON arrays still fill the commands' tuples, and exact types still pass.
    rules = await facilitator.send(
        "set_room_rules", room=PLENARY_ROOM, turn_limit_ms=30_000, auto=False
    )
    assert rules["ok"], rules
    assert (await facilitator.send("reorder_queue", room=PLENARY_ROOM, order=["j2"]))["ok"]
    poll = await facilitator.send(
        "open_poll", room=PLENARY_ROOM, question="Cap rents?", kind="single", options=["y", "n"]
    )
    assert poll["ok"], poll
    vote = await sender.send("vote", room=PLENARY_ROOM, poll_id=f"p{poll['seq']}", choices=[0])
    assert vote["ok"], vote


async def test_garbage_gets_a_clear_code_and_the_server_keeps_serving(room: Room) -> None:
    sender = room.sender
    for name in GARBAGE_NAMES:
        ack = await sender.raw(name, plausible("raise_hand"))
        refused(ack, "unknown_command", name)
        assert len(ack["detail"]) < 100, "the detail does not echo a long name back"
    # Text that is no Unicode at all (a lone surrogate travels fine as a JSON escape).
    refused(await sender.send("speak", text="\ud800 hi"), "invalid_command", "surrogate")
    refused(await sender.raw("speak", "\x00\xff\ufffe"), "invalid_command", "garbage string")
    # Several arguments in one message, to a command and to sync.
    many = await sender.sio.call("raise_hand", ({"room": PLENARY_ROOM}, "more"), timeout=5)
    refused(many, "invalid_command", "several arguments")
    refused(await sender.sio.call("sync", ({}, 1), timeout=5), "invalid_command", "sync args")
    refused(await sender.raw("sync", {"resume": ["plenary"]}), "invalid_command", "resume")
    # Events named like socket.io's own: an event, not a connection or a departure.
    refused(await sender.raw("connect", {"assembly": "jury"}), "unknown_command", "connect")
    refused(await sender.raw("disconnect", "bye"), "unknown_command", "disconnect")
    await room.nothing_happened_and_others_are_served()
    # The sender is still who they were, still connected, still heard.
    assert (await sender.send("raise_hand"))["ok"]
    assert sorted(room.witnesses[1].presence[PLENARY_ROOM]) == ["f1", "j1", "j2"]


class DeeplyNested:
    """A list nested `depth` levels deep, as a client may send it: the standard library's
    encoder, like its decoder, gives up long before thousands of levels."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


class DeepJson:
    """The JSON module of a client that can send a `DeeplyNested` list (no more than one)."""

    PLACEHOLDER = "\x00deeply nested\x00"

    @staticmethod
    def dumps(data: Any, **options: Any) -> str:
        nested: list[DeeplyNested] = []

        def stand_in(value: Any) -> str:
            assert isinstance(value, DeeplyNested) and not nested, value
            nested.append(value)
            return DeepJson.PLACEHOLDER

        text = json.dumps(data, default=stand_in, **options)
        if not nested:
            return text
        depth = nested[0].depth
        return text.replace(json.dumps(DeepJson.PLACEHOLDER), "[" * depth + "]" * depth)

    @staticmethod
    def loads(text: str, **options: Any) -> Any:
        return json.loads(text, **options)


class DeepPacket(socketio.packet.Packet):  # type: ignore[misc]
    # The serializer of this client only: `json=` would replace every packet's module.
    json = DeepJson


class ErrorRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def errors_logged() -> Iterator[list[logging.LogRecord]]:
    """Every error logged while it lasts, by palabre, uvicorn or the socket.io libraries."""
    recorder = ErrorRecorder()
    # The root logger hears the libraries; palabre's and uvicorn's own do not propagate.
    loggers = [logging.getLogger(name) for name in ("", "palabre", "uvicorn", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        yield recorder.records
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)


async def test_a_payload_nested_too_deep_is_refused_before_decoding(
    room: Room, server: LiveServer
) -> None:
    tokens = await server.palabre.invites.issue("jury", "j1", Role.JUROR, now=datetime.now(UTC))
    deep = Client(server.url, sio=socketio.AsyncClient(reconnection=False, serializer=DeepPacket))
    with errors_logged() as errors:
        await deep.connect(token=tokens[1])
        for depth in (MAX_NESTING_DEPTH + 1, 5_000, 30_000):
            ack = await deep.raw("speak", DeeplyNested(depth))
            refused(ack, "invalid_command", depth)
            assert str(MAX_NESTING_DEPTH) in ack["detail"], ack
        # Nesting within the limit is only as wrong as any other list...
        refused(await deep.raw("speak", DeeplyNested(MAX_NESTING_DEPTH - 1)), "invalid_command")
        # ...and brackets inside strings (escaped quotes too) are text, not nesting.
        text = '\\"' + "[{" * 500
        ack = await room.sender.send("post_reply", room=PLENARY_ROOM, parent_id="n1", text=text)
        assert (ack["ok"], ack["error"]) == (False, "node_not_found"), ack
        await deep.drop()
        # Auth nested too deep is no auth object: refused as such.
        refusals: list[Any] = []
        refused_client = socketio.AsyncClient(reconnection=False, serializer=DeepPacket)
        refused_client.on("connect_error", refusals.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused_client.connect(
                server.url,
                auth={"token": DeeplyNested(5_000)},
                transports=["websocket"],
                wait_timeout=WAIT_SECONDS,
            )
        assert [r["message"] for r in refusals] == ["assembly_not_found"], refusals
    assert errors == [], [record.getMessage() for record in errors]
    await room.nothing_happened_and_others_are_served()


async def test_oversize_payloads_are_refused_and_abuse_is_cut_off(room: Room) -> None:
    sender = room.sender
    over = "x" * (MAX_PAYLOAD_BYTES + 1)
    refused(await sender.send("speak", text=over), "payload_too_large", "text")
    refused(await sender.send("raise_hand", note=over), "payload_too_large", "extra field")
    refused(await sender.raw("speak", over), "payload_too_large", "a string")
    refused(await sender.raw("nonsense", {"text": over}), "unknown_command", "unknown first")
    await room.nothing_happened_and_others_are_served()

    # The cap counts bytes as sent: the longest post, in emoji, is well under it.
    longest = "🗳" * MAX_TEXT_CHARS
    facilitator = room.witnesses[1]
    assert (await facilitator.send("interject", room=PLENARY_ROOM, text=longest))["ok"]

    # Beyond the transport's hard limit the server hangs up on the sender, and only on them.
    gone = asyncio.Event()
    sender.sio.on("disconnect", lambda *reason: gone.set())
    await sender.sio.emit("speak", {"text": "x" * (HARD_MESSAGE_LIMIT_BYTES + 1)})
    await asyncio.wait_for(gone.wait(), WAIT_SECONDS)
    ack = await facilitator.send("interject", room=PLENARY_ROOM, text="Carry on.")
    assert ack["ok"], ack
    for witness in room.witnesses:
        await witness.wait_seq(PLENARY_ROOM, ack["seq"])


async def test_a_client_sending_too_fast_is_told_rate_limited(
    database_url: str, tmp_path: Path
) -> None:
    burst = 3
    settings = settings_for(database_url, tmp_path, rate_burst=burst, rate_per_second=0.01)
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser)
        async with (
            connected(server.url, token=tokens["j1"]) as hasty,
            connected(server.url, token=tokens["j2"]) as calm,
        ):
            acks = [await hasty.send("raise_hand") for _ in range(burst)]
            assert acks[0]["ok"] and [a["error"] for a in acks[1:]] == ["already_in_queue"] * 2
            refused(await hasty.send("lower_hand"), "rate_limited")
            refused(await hasty.raw("nonsense", {}), "rate_limited")
            # Only the hasty one is slowed down.
            assert (await calm.send("raise_hand"))["ok"]


async def test_bad_invite_tokens_are_refused_at_connect_with_their_code(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser)
    invites = server.palabre.invites
    now = datetime.now(UTC)
    _, expired = await invites.issue("jury", "j1", Role.JUROR, now=now - timedelta(days=365))
    revoked_invite, revoked = await invites.issue("jury", "j2", Role.JUROR, now=now)
    assert await server.organiser.revoke(revoked_invite.id)
    forged = str(URLSafeSerializer("not-our-key", salt=SALT).dumps("some-invite"))
    unknown = invites.token("an-invite-never-issued")

    cases: list[tuple[dict[str, Any], str]] = [
        ({"token": "garbage"}, "invalid_token"),
        ({"token": ""}, "invalid_token"),
        ({"token": 12345}, "invalid_token"),
        ({"token": tokens["j1"][:-3]}, "invalid_token"),
        ({"token": forged}, "invalid_token"),
        ({"token": unknown}, "invalid_token"),
        ({"token": expired}, "expired_token"),
        ({"token": revoked}, "revoked_token"),
        ({}, "assembly_not_found"),
        ({"assembly": "no-such-jury"}, "assembly_not_found"),
        ({"assembly": "jury", "watch": "no-such-room"}, "room_not_found"),
    ]
    for auth, code in cases:
        refusal = await connect_refusal(server.url, **auth)
        assert refusal["message"] == code, (auth, refusal)
        assert refusal["data"]["error"] == code, (auth, refusal)
        assert refusal["data"]["detail"], (auth, refusal)
    for token, code in ((expired, "expired_token"), (revoked, "revoked_token")):
        url = f"{server.url}/assemblies/jury/streams/{PLENARY_ROOM}"
        async with event_stream(url, token=token) as stream:
            assert (stream.status, stream.refusal["error"]) == (403, code)

    # The valid link still opens the room, and a refusal left nothing behind.
    async with connected(server.url, token=tokens["j1"]) as juror:
        assert juror.you["participant"] == "j1"
        assert len(server.palabre.fanout.connections) == 1


async def test_unusable_auth_fields_are_refused_at_connect_with_their_code(
    server: LiveServer,
) -> None:
    await demo_people(server.organiser)
    # Long, but under the transport's hard limit, so the refusal can come back.
    huge = "x" * (HARD_MESSAGE_LIMIT_BYTES // 2)
    cases: list[tuple[dict[str, Any], str]] = [
        # A lone surrogate travels fine as a JSON escape, but is no text.
        ({"token": "\ud800"}, "invalid_token"),
        ({"token": "a\udfffb.c"}, "invalid_token"),
        ({"token": huge}, "invalid_token"),
        ({"token": ["a", "b"]}, "invalid_token"),
        ({"token": None, "assembly": "jury", "watch": 3}, "room_not_found"),
        ({"assembly": "\ud800"}, "assembly_not_found"),
        ({"assembly": huge}, "assembly_not_found"),
        ({"assembly": {"id": "jury"}}, "assembly_not_found"),
        ({"assembly": "jury", "watch": "\ud800"}, "room_not_found"),
        ({"assembly": "jury", "watch": huge}, "room_not_found"),
        ({"assembly": "jury", "watch": ["plenary"]}, "room_not_found"),
    ]
    for auth, code in cases:
        refusal = await connect_refusal(server.url, **auth)
        assert refusal["message"] == code, (auth, refusal)
        assert refusal["data"]["error"] == code, (auth, refusal)
        assert 0 < len(refusal["data"]["detail"]) < 200, (auth, refusal)
    # Nothing was left half-connected, and the server still lets people in.
    assert server.palabre.fanout.connections == {}
    async with connected(server.url, assembly="jury") as observer:
        assert observer.you["room"] == PLENARY_ROOM


async def test_a_connect_that_meets_a_store_fault_is_refused_as_unavailable(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await demo_people(server.organiser)

    async def failing() -> list[str]:
        raise ConnectionError("the database went away")

    # An assembly not live in this process yet must be looked up in the store, which fails.
    monkeypatch.setattr(server.palabre.store, "assembly_ids", failing)
    refusal = await connect_refusal(server.url, assembly="another-jury")
    assert refusal["data"]["error"] == "unavailable", refusal
    assert server.palabre.fanout.connections == {}
    monkeypatch.undo()
    async with connected(server.url, assembly="jury") as observer:
        assert observer.you["room"] == PLENARY_ROOM


async def test_markup_in_a_post_is_kept_and_sent_back_verbatim(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    url = f"{server.url}/assemblies/jury/streams/{PLENARY_ROOM}"
    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
        event_stream(url) as feed,
    ):
        question = await f1.send("pose_question", room=PLENARY_ROOM, text=f"Q: {MARKUP}")
        position = await j1.send("post_position", question_id=f"n{question['seq']}", text=MARKUP)
        assert position["ok"], position
        await j2.wait_seq(PLENARY_ROOM, position["seq"])
        await feed.wait_id(position["seq"])
        for payload in (j2.applied[PLENARY_ROOM][-1], feed.events()[-1]):
            assert payload["text"] == MARKUP
        async with connected(server.url, assembly="jury") as latecomer:
            texts = [node["text"] for node in latecomer.snapshots[PLENARY_ROOM]["nodes"]]
        assert texts == [f"Q: {MARKUP}", MARKUP]
    (stored,) = await server.palabre.store.stream_events(
        "jury", PLENARY_ROOM, after_seq=position["seq"] - 1
    )
    assert isinstance(stored.event, PositionPosted)
    assert stored.event.text == MARKUP


async def next_starting(raw: aiohttp.ClientWebSocketResponse, prefix: str) -> str:
    """The next text message that starts with `prefix`, past events and pings (bounded)."""
    for _ in range(100):
        message = await raw.receive(timeout=WAIT_SECONDS)
        if isinstance(message.data, str) and message.data.startswith(prefix):
            return message.data
    raise AssertionError(f"no message starting with {prefix!r}")


async def test_messages_that_are_no_socket_io_event_get_no_traceback_and_hurt_nobody(
    room: Room, server: LiveServer
) -> None:
    _, token = await server.palabre.invites.issue("jury", "j1", Role.JUROR, now=datetime.now(UTC))
    endpoint = server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    garbage = [
        "4",  # an empty message
        "4x",  # no packet type
        "42[1]",  # an event named by a number
        "42",  # an event with no data
        "4" + "[" * 5_000 + "]" * 5_000,  # deep JSON where engine.io looks for JSON
        "42" + "{" * 3_000,  # deep and never closed
    ]
    with errors_logged() as errors:
        async with aiohttp.ClientSession() as http, http.ws_connect(endpoint) as raw:
            await raw.receive(timeout=WAIT_SECONDS)  # engine.io's open packet
            await raw.send_str("40" + json.dumps({"token": token}))
            await next_starting(raw, "40{")
            for message in garbage:
                await raw.send_str(message)
            # With an ack id, the sender is told what was wrong; the connection stays open.
            await raw.send_str('427{"text": "not in a list"}')
            answer = await next_starting(raw, "437[")
            ack = json.loads(answer[3:])[0]
            assert (ack["ok"], ack["error"]) == (False, "invalid_command"), ack
    assert errors == [], [record.getMessage() for record in errors]
    await room.nothing_happened_and_others_are_served()
