"""The protocol's JSON Schema: valid, complete, and true to what the server really sends.

A realistic deliberation runs through the core (turns, posts, a secret and an open poll,
hiding and unhiding, a breakout round); every event it yields, as each audience receives it,
and every snapshot of every stream for every audience must validate, while payloads with an
unknown field or a wrong type must not.
"""

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from facilitation import (
    ASSEMBLY_STREAM,
    PLENARY_ROOM,
    SYSTEM_ACTOR,
    Command,
    ErrorCode,
    Event,
    Role,
    RoomCommand,
    decide,
    evolve,
)
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.codec import encode
from server import gateway
from server.audience import AUDIENCE_OF_ROLE, Audience, payloads
from server.connections import Connection, TokenBucket
from server.fanout import stream_view
from server.schema import ACK_EDGE_CODES, CONNECT_CODES, protocol_schema
from server.views import assembly_view, room_view
from tests.core.builders import World, only

P = PLENARY_ROOM
SCHEMA = protocol_schema()
MINUTE = 60_000


def validator(definition: str) -> Draft202012Validator:
    return Draft202012Validator({**SCHEMA, "$ref": f"#/$defs/{definition}"})


VALIDATORS: dict[str, Draft202012Validator] = {}


def problem(definition: str, payload: Any) -> str | None:
    check = VALIDATORS.get(definition)
    if check is None:
        check = VALIDATORS[definition] = validator(definition)
    error = best_match(check.iter_errors(payload))
    return None if error is None else f"{error.json_path}: {error.message}"


def valid(definition: str, payload: Any) -> None:
    found = problem(definition, payload)
    assert found is None, f"{definition}: {found}\n{payload!r}"


def invalid(definition: str, payload: Any) -> None:
    assert problem(definition, payload) is not None, f"{definition} accepted {payload!r}"


# --- A deliberation, run the way the server runs it ------------------------------------------


class Session(World):
    """Each event applied and redacted one at a time, as `server.runtime` does; every command
    checked against its payload definition, every delivery kept, every few steps a snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[Event, dict[Audience, dict[str, Any]]]] = []
        self.snapshots: list[tuple[str, Audience, dict[str, Any]]] = []
        self.replies: list[dict[str, Any]] = []
        # The names of the commands whose payloads were checked, so that none goes unchecked.
        self.commands_checked: set[str] = set()

    def run(self, actor: str, command: Command) -> list[Event]:
        check_command_payload(command)
        self.commands_checked.add(command.name)
        events = decide(self.state, command, actor, self.now_ms, ballot_key=self.ballot_key)
        for event in events:
            evolve(self.state, event)
            self.deliveries.append((event, payloads(self.state, event)))
        self.log.extend(events)
        return events

    def snapshot(self) -> None:
        """Every stream's view for every audience, and a `sync` reply for every role."""
        for audience in Audience:
            self.snapshots.append(
                ("assembly_view", audience, assembly_view(self.state, "jury", audience))
            )
            for room_id in self.state.rooms:
                self.snapshots.append(
                    ("room_view", audience, room_view(self.state, room_id, audience, self.now_ms))
                )
        for participant in [*self.state.participants, None]:
            self.replies.append(self.sync_reply(participant))

    def sync_reply(self, participant: str | None) -> dict[str, Any]:
        """What `sync` answers a fresh connection, built as `server.gateway.sync` builds it."""
        role = self.state.participants[participant].role if participant else Role.OBSERVER
        connection = Connection(
            sid="sid",
            assembly_id="jury",
            participant=participant,
            role=role,
            watch=P if role is Role.OBSERVER else None,
            bucket=TokenBucket(1, 1),
        )
        connection.streams = connection.desired_streams(self.state)
        return {
            "ok": True,
            "you": connection.describe(self.state),
            "server_time_ms": self.now_ms,
            "snapshots": {
                stream: stream_view(self.state, "jury", stream, connection.audience, self.now_ms)
                for stream in sorted(connection.streams)
            },
            "events": [],
        }


def check_command_payload(command: Command) -> None:
    """What a client sends for `command`: its fields, and without `room` for room commands."""
    fields = encode(command)
    del fields["type"]
    valid(f"command.{command.name}", fields)
    if isinstance(command, RoomCommand):
        valid(f"command.{command.name}", {k: v for k, v in fields.items() if k != "room"})


def voice_heard(s: Session, room: str, voiced_ms: dict[str, int]) -> cmd.RecordVoiceActivity:
    """What the media server heard in the room over the ten seconds ending now."""
    return cmd.RecordVoiceActivity(
        room=room, from_ms=s.now_ms - 10_000, to_ms=s.now_ms, voiced_ms=voiced_ms
    )


def deliberate(*, pseudonymous: bool) -> Session:
    s = Session()
    s.run(
        SYSTEM_ACTOR,
        cmd.CreateAssembly(title="Citizens' jury on housing", pseudonymous=pseudonymous),
    )
    people = [("lead", Role.LEAD), ("f1", Role.FACILITATOR), ("f2", Role.FACILITATOR)]
    people += [(f"j{n}", Role.JUROR) for n in range(1, 9)] + [("obs", Role.OBSERVER)]
    for person, role in people:
        attributes = {"age": "30-44", "area": "north"} if role is Role.JUROR else None
        s.run(
            SYSTEM_ACTOR,
            cmd.AddParticipant(
                participant=person,
                display_name=person.title(),
                role=role,
                attributes=attributes,
            ),
        )
    s.snapshot()

    # A full turn cycle: hands, the queue, the floor, replies, statements, the clock.
    for juror in ("j1", "j2", "j3", "j4", "j5"):
        s.run(juror, cmd.RaiseHand(room=P))
    s.run("j5", cmd.LowerHand(room=P))
    s.run("f1", cmd.SetRoomRules(room=P, turn_limit_ms=MINUTE, replies_per_turn=2, policy="equity"))
    s.run("f1", cmd.ReorderQueue(room=P, order=("j2", "j1", "j3", "j4")))
    s.run("f1", cmd.MoveToTop(room=P, participant="j3"))
    s.run("f1", cmd.RemoveFromQueue(room=P, participant="j4"))
    first = only(s.run("f1", cmd.GrantFloor(room=P)), ev.FloorGranted)
    s.run(first.speaker, cmd.Speak(room=P, text="Rents have doubled in ten years."))
    s.run("j6", cmd.RequestReply(room=P))
    s.run("j6", cmd.WithdrawReply(room=P))
    s.run("j7", cmd.RequestReply(room=P))
    s.run("f1", cmd.ExtendTurn(room=P, by_ms=30_000))
    s.run("f1", cmd.Interject(room=P, text="Thirty more seconds, then a reply."))
    s.snapshot()
    s.tick(20_000)
    s.run(first.speaker, cmd.YieldFloor(room=P))
    s.run("f1", cmd.NextSpeaker(room=P))
    s.tick(10_000)
    s.run("f1", cmd.NextSpeaker(room=P))
    current = s.plenary.floor
    assert current is not None
    s.tick(2 * MINUTE)
    s.run(SYSTEM_ACTOR, cmd.ExpireTurn(room=P, turn_id=current.id))
    s.run("j4", cmd.RaiseHand(room=P))
    s.run("f1", cmd.GrantFloor(room=P, participant="j4"))
    s.run("f1", cmd.RevokeFloor(room=P, reason="Off topic"))

    # Moderation of the room.
    s.run("f1", cmd.MuteParticipant(room=P, participant="j5", reason="Shouting"))
    s.run("f1", cmd.UnmuteParticipant(room=P, participant="j5"))
    s.run("f1", cmd.LockRoom(room=P))
    s.run("f1", cmd.UnlockRoom(room=P))
    s.run("f1", cmd.PauseRoom(room=P))
    s.tick(5_000)
    s.run("f1", cmd.ResumeRoom(room=P))

    # Voice: an open floor, a statement without a turn, what the media server heard.
    s.run("f1", cmd.SetRoomRules(room=P, open_floor=True))
    s.run("j6", cmd.Speak(room=P, text="May I add something?"))
    s.tick(10_000)
    s.run(SYSTEM_ACTOR, voice_heard(s, P, {"j6": 4_000, "j2": 1_500, "f1": 2_000}))
    s.snapshot()
    s.run("f1", cmd.SetRoomRules(room=P, open_floor=False))

    # The argument map and the agenda.
    question = only(
        s.run("f1", cmd.PoseQuestion(room=P, text="Should the city cap rents?")), ev.QuestionPosed
    )
    item = only(
        s.run(
            "f1",
            cmd.AddAgendaItem(
                room=P, title="Rent caps", duration_ms=20 * MINUTE, question_id=question.node_id
            ),
        ),
        ev.AgendaItemAdded,
    )
    s.run("f1", cmd.AdvanceAgenda(room=P))
    s.run("f1", cmd.ExtendAgendaItem(room=P, by_ms=5 * MINUTE))
    position = only(
        s.run(
            "j1",
            cmd.PostPosition(room=P, question_id=question.node_id, text="Cap rents at 3% a year."),
        ),
        ev.PositionPosted,
    )
    pro = only(
        s.run(
            "j2",
            cmd.PostArgument(
                room=P, position_id=position.node_id, stance="for", text="It keeps families."
            ),
        ),
        ev.ArgumentPosted,
    )
    again = only(
        s.run(
            "j3",
            cmd.PostArgument(
                room=P, position_id=position.node_id, stance="for", text="Families stay."
            ),
        ),
        ev.ArgumentPosted,
    )
    s.run(
        "j4",
        cmd.PostArgument(
            room=P, position_id=position.node_id, stance="against", text="Less building."
        ),
    )
    reply = only(
        s.run("j5", cmd.PostReply(room=P, parent_id=pro.node_id, text="Only if it is enforced.")),
        ev.ReplyPosted,
    )
    s.run("j6", cmd.Endorse(room=P, node_id=pro.node_id))
    s.run("j7", cmd.Endorse(room=P, node_id=pro.node_id))
    s.run("j7", cmd.WithdrawEndorsement(room=P, node_id=pro.node_id))
    s.run("f1", cmd.HidePost(room=P, node_id=reply.node_id, reason="Personal attack"))
    s.snapshot()
    unhidden = s.run(
        "f1", cmd.UnhidePost(room=P, node_id=reply.node_id, reason="Misread; restored")
    )
    assert isinstance(unhidden[0], ev.PostUnhidden)
    s.run("f1", cmd.MergeNodes(room=P, duplicate_id=again.node_id, into_id=pro.node_id))
    if not s.plenary.queued("j1"):
        s.run("j1", cmd.RaiseHand(room=P))
    s.run("f1", cmd.GrantFloor(room=P, participant="j1"))
    s.run("j1", cmd.LinkTurn(room=P, node_id=position.node_id))

    # A secret poll and an open one, with votes, changed votes and the close.
    secret = only(
        s.run(
            "f1",
            cmd.OpenPoll(
                room=P, question="Cap rents?", kind="single", options=("Yes", "No"), secret=True
            ),
        ),
        ev.PollOpened,
    )
    s.run("j1", cmd.Vote(room=P, poll_id=secret.poll_id, choices=(0,)))
    s.run("j2", cmd.Vote(room=P, poll_id=secret.poll_id, choices=(1,)))
    open_poll = only(
        s.run(
            "f1",
            cmd.OpenPoll(
                room=P, question="Which measures?", kind="multiple", options=("Cap", "Build", "Tax")
            ),
        ),
        ev.PollOpened,
    )
    s.run("j1", cmd.Vote(room=P, poll_id=open_poll.poll_id, choices=(0, 2)))
    s.run("j3", cmd.Vote(room=P, poll_id=open_poll.poll_id, choices=(1,)))
    s.run("j1", cmd.Vote(room=P, poll_id=open_poll.poll_id, choices=(2,)))
    scale = only(
        s.run("f2", cmd.OpenPoll(room=P, question="Rent caps work.", kind="scale")), ev.PollOpened
    )
    s.run("j4", cmd.Vote(room=P, poll_id=scale.poll_id, choices=(3,)))
    s.snapshot()
    s.run("f1", cmd.ClosePoll(room=P, poll_id=secret.poll_id))
    s.run("f1", cmd.ClosePoll(room=P, poll_id=open_poll.poll_id))
    s.tick(30 * MINUTE)
    s.run(SYSTEM_ACTOR, cmd.ExpireAgendaItem(room=P, item_id=item.item_id))

    # A breakout round: propose, adjust, start, work in a room, time, broadcast, move, close.
    s.run("j8", cmd.RaiseHand(room=P))
    s.run("lead", cmd.OpenRound(room_count=2, seed=7))
    proposed = s.state.current_round()
    assert proposed is not None
    first_room, second_room = proposed.rooms
    s.run(
        "lead", cmd.AdjustAllocation(participant=first_room.jurors[0], to_room=second_room.room_id)
    )
    s.snapshot()
    s.run("lead", cmd.StartRound(duration_ms=30 * MINUTE))
    room = first_room.room_id
    juror = sorted(s.state.rooms[room].jurors)[0]
    runner = sorted(s.state.rooms[room].facilitators)[0]
    s.run(juror, cmd.RaiseHand(room=room))
    s.run(runner, cmd.GrantFloor(room=room))
    s.run(juror, cmd.Speak(room=room, text="In my street every flat is a holiday let."))
    s.run("lead", cmd.SetRoundTimer(duration_ms=10 * MINUTE))
    s.run("lead", cmd.Broadcast(text="Ten minutes left in every room."))
    s.run("lead", cmd.SetFairnessAlarms(unspoken_after_ms=15 * MINUTE, max_gini=0.4))
    s.run("lead", cmd.SendFacilitatorNote(room=room, text="Two have not spoken yet."))
    s.snapshot()
    mover = sorted(s.state.rooms[second_room.room_id].jurors)[0]
    s.run("lead", cmd.MoveParticipant(participant=mover, to_room=room))
    # Each room marks what it carries back; a juror objects to one room's choice.
    carried = []
    for breakout in (room, second_room.room_id):
        here = s.state.rooms[breakout]
        question = only(
            s.run(sorted(here.facilitators)[0], cmd.PoseQuestion(room=breakout, text="Cap rents?")),
            ev.QuestionPosed,
        )
        position = only(
            s.run(
                sorted(here.jurors)[0],
                cmd.PostPosition(
                    room=breakout, question_id=question.node_id, text="Cap rents for families"
                ),
            ),
            ev.PositionPosted,
        )
        carried.append(f"{breakout}/{position.node_id}")
        s.run(
            sorted(here.facilitators)[0],
            cmd.ProposeCarry(room=breakout, positions=(position.node_id,)),
        )
    s.run(sorted(s.state.rooms[room].jurors)[-1], cmd.ObjectToCarry(room=room, reason="Too soft"))
    s.snapshot()
    round_now = s.state.current_round()
    assert round_now is not None
    s.tick(10 * MINUTE)
    s.run(SYSTEM_ACTOR, cmd.ExpireRoundTimer(round_id=round_now.id))
    s.run("lead", cmd.CloseRound(after_ms=2 * MINUTE))
    s.run("lead", cmd.CancelRecall())
    s.run("lead", cmd.CloseRound(after_ms=MINUTE))
    s.snapshot()
    s.tick(MINUTE)
    s.run(SYSTEM_ACTOR, cmd.RecallRound(round_id=round_now.id))
    s.run(SYSTEM_ACTOR, voice_heard(s, room, {juror: 3_000}))  # heard before the recall
    # The server proposes a merge twice over; the lead confirms one and rejects the other.
    pair = cmd.MergeCandidate(
        first=carried[0], second=carried[1], similarity=1.0, shared=("rents",)
    )
    merges = s.run(SYSTEM_ACTOR, cmd.ProposeMerges(round_id=round_now.id, candidates=(pair, pair)))
    s.snapshot()
    s.run("lead", cmd.ConfirmMerge(proposal_id=only(merges[:1], ev.MergeProposed).proposal_id))
    s.run("lead", cmd.RejectMerge(proposal_id=only(merges[1:], ev.MergeProposed).proposal_id))
    s.run("f1", cmd.RemoveParticipant(room=P, participant="j8", reason="Left the jury"))
    s.snapshot()
    return s


@pytest.fixture(scope="module", params=[False, True], ids=["named", "pseudonymous"])
def session(request: pytest.FixtureRequest) -> Session:
    return deliberate(pseudonymous=request.param)


# --- The document ----------------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_each_call_returns_a_document_of_its_own() -> None:
    mine = protocol_schema()
    mine["$defs"]["event.hand_raised"]["properties"]["participant"]["type"] = "integer"
    assert protocol_schema() == SCHEMA


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_every_reference_and_every_socket_message_names_a_definition() -> None:
    pointers = list(refs(SCHEMA["$defs"]))
    socket = SCHEMA["x-socket"]
    pointers += [socket["connect"]["auth"], socket["connect"]["connect_error"]]
    pointers += [
        entry[part] for entry in socket["client_events"].values() for part in ("payload", "ack")
    ]
    pointers += list(socket["server_events"].values())
    for pointer in pointers:
        assert pointer.startswith("#/$defs/"), pointer
        assert pointer.removeprefix("#/$defs/") in SCHEMA["$defs"], pointer


def test_every_command_and_every_event_has_a_definition() -> None:
    defs = SCHEMA["$defs"]
    for name, command in Command.registry.items():
        assert f"command.{name}" in defs, name
        assert SCHEMA["x-socket"]["client_events"][name]["roles"] == sorted(
            r.value for r in command.roles
        )
    for name in Event.registry:
        assert f"event.{name}" in defs, name
    voice = {"voice_join", "voice_ice", "voice_mute_self", "voice_leave", "voice_listen"}
    voice |= {"voice_listen_answer"}
    others = {"sync", "past_rounds", "roster"}
    assert set(SCHEMA["x-socket"]["client_events"]) == {*Command.registry, *others, *voice}
    assert set(defs["event"]["properties"]["type"]["enum"]) == set(Event.registry)


def test_every_error_code_is_known() -> None:
    ack_codes = set(SCHEMA["$defs"]["error_code"]["enum"])
    assert {code.value for code in ErrorCode} <= ack_codes
    assert set(ACK_EDGE_CODES) <= ack_codes
    assert {"unknown_command", "invalid_command", "payload_too_large", "rate_limited"} <= ack_codes
    assert {"not_connected", "unavailable"} <= ack_codes
    # A code added to the gateway must be placed: in acks, or at connect.
    edge = {value for name, value in vars(gateway.EdgeCode).items() if name.isupper()}
    assert edge <= ack_codes | set(CONNECT_CODES)
    assert {"invalid_token", "expired_token", "revoked_token"} <= set(CONNECT_CODES)


# --- Real events, as each audience receives them ---------------------------------------------


def test_the_scenario_yields_every_kind_of_event(session: Session) -> None:
    assert {event.name for event, _ in session.deliveries} == set(Event.registry)


def test_the_scenario_sends_every_kind_of_command(session: Session) -> None:
    assert session.commands_checked == set(Command.registry)


def test_every_event_validates_for_every_audience(session: Session) -> None:
    for event, delivered in session.deliveries:
        assert set(delivered) == set(Audience)
        for payload in delivered.values():
            assert payload["type"] == event.name
            valid("event", payload)
            valid(f"event.{event.name}", payload)
        if not isinstance(event, ev.PostUnhidden | ev.VoteCast):
            # The plain `encode` form is what moderators get for every other event, with the
            # figures a client could not work out itself added to a few (`server.audience`).
            moderator = dict(delivered[Audience.MODERATOR])
            added = (
                {"spoken_ms"} if isinstance(event, ev.HandRaised | ev.RoomRulesChanged) else set()
            )
            if isinstance(event, ev.RoundClosed):
                added = {"returned"}
            if isinstance(event, ev.ParticipantMoved):
                added = {"role", "display_name", "attributes"}
            assert set(moderator) - set(encode(event)) <= added
            for key in added:
                moderator.pop(key, None)
            assert moderator == encode(event)


def test_secret_votes_are_redacted_and_open_ones_are_not(session: Session) -> None:
    votes = [(e, d) for e, d in session.deliveries if isinstance(e, ev.VoteCast)]
    secret = [d for e, d in votes if session.state.rooms[e.room].polls[e.poll_id].secret]
    shown = [d for e, d in votes if not session.state.rooms[e.room].polls[e.poll_id].secret]
    assert secret and shown
    assert all(e.ballot for e, _ in votes if session.state.rooms[e.room].polls[e.poll_id].secret)
    for delivered in secret:
        for payload in delivered.values():
            assert (payload["actor"], payload["choices"]) == ("", [])
            assert "voters" in payload and "totals" not in payload
            # The ballot id the log keeps would let anyone follow one voter's changes of mind.
            assert "ballot" not in payload
    for delivered in shown:
        for payload in delivered.values():
            assert payload["actor"] and payload["choices"]
            assert "voters" not in payload


def test_the_figures_added_for_clients_are_in_the_scenario(session: Session) -> None:
    moderators = [d[Audience.MODERATOR] for _, d in session.deliveries]
    assert any("spoken_ms" in p for p in moderators if p["type"] == "hand_raised")
    assert any("spoken_ms" in p for p in moderators if p["type"] == "room_rules_changed")
    assert all("returned" in p for p in moderators if p["type"] == "round_closed")


def test_unhiding_brings_the_text_back(session: Session) -> None:
    unhidden = [d for e, d in session.deliveries if isinstance(e, ev.PostUnhidden)]
    assert unhidden
    for delivered in unhidden:
        for payload in delivered.values():
            assert payload["text"]
    raw = encode(next(e for e, _ in session.deliveries if isinstance(e, ev.PostUnhidden)))
    invalid("event", raw)


# --- Snapshots and session messages ----------------------------------------------------------


def test_every_snapshot_validates_for_every_audience(session: Session) -> None:
    kinds = {(definition, audience) for definition, audience, _ in session.snapshots}
    assert kinds == {(d, a) for d in ("assembly_view", "room_view") for a in Audience}
    for definition, _, view in session.snapshots:
        valid(definition, view)


def test_snapshots_show_what_each_audience_may_see(session: Session) -> None:
    rooms = [(a, v) for d, a, v in session.snapshots if d == "room_view"]
    hidden = [
        (audience, node) for audience, view in rooms for node in view["nodes"] if node["hidden"]
    ]
    assert {audience for audience, _ in hidden} == set(Audience)
    for audience, node in hidden:
        assert (node["text"] is None) == (audience is not Audience.MODERATOR)
    for definition, audience, view in session.snapshots:
        if definition == "room_view" and view["people"]:
            has_attributes = any("attributes" in p for p in view["people"].values())
            assert has_attributes == (audience is Audience.MODERATOR)


def test_sync_replies_validate_for_every_role(session: Session) -> None:
    roles = {reply["you"]["role"] for reply in session.replies}
    assert roles == {role.value for role in AUDIENCE_OF_ROLE}
    for reply in session.replies:
        valid("sync_reply", reply)
        valid("moved", {"you": reply["you"], "snapshots": reply["snapshots"]})
    later = copy.deepcopy(session.replies[-1])
    later["snapshots"] = {}
    later["events"] = [d[Audience.OBSERVER] for _, d in session.deliveries[-5:]]
    valid("sync_reply", later)


def test_acks_and_the_other_session_messages_validate() -> None:
    valid("ack", {"ok": True, "seq": 12})
    valid("ack", {"ok": False, "error": "not_your_turn", "detail": ""})
    for code in ACK_EDGE_CODES:
        valid("ack", gateway.error(code, "why"))
    valid("sync_reply", gateway.error(gateway.EdgeCode.NOT_CONNECTED))
    valid("sync_request", {"resume": {ASSEMBLY_STREAM: 4, P: 0}})
    valid("sync_request", {})
    valid("presence", {"room": P, "present": ["j1", "j2"]})
    valid("auth", {"token": "abc.def"})
    valid("auth", {"token": "abc.def", "watch": "r1-1"})
    valid("auth", {"assembly": "jury"})
    valid("auth", {"assembly": "jury", "watch": P})
    valid(
        "connect_error",
        {"message": "expired_token", "data": {"error": "expired_token", "detail": "x"}},
    )


# --- What the schema refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "payload"),
    [
        # An unknown field, anywhere.
        ("command.raise_hand", {"room": P, "hand": "left"}),
        ("command.speak", {"room": P, "text": "Hello", "type": "speak"}),
        (
            "event",
            {
                "type": "hand_raised",
                "room": P,
                "seq": 1,
                "actor": "j1",
                "at_ms": 5,
                "participant": "j1",
                "x": 1,
            },
        ),
        ("ack", {"ok": True, "seq": 3, "detail": ""}),
        ("presence", {"room": P, "present": [], "absent": []}),
        ("auth", {"token": "abc", "assembly": "jury"}),
        # Figures added by the server only to the events that carry them.
        (
            "event",
            {
                "type": "hand_lowered",
                "room": P,
                "seq": 2,
                "actor": "j1",
                "at_ms": 5,
                "participant": "j1",
                "reason": "lowered",
                "spoken_ms": {"j1": 0},
            },
        ),
        (
            "event",
            {
                "type": "hand_raised",
                "room": P,
                "seq": 1,
                "actor": "j1",
                "at_ms": 5,
                "participant": "j1",
                "spoken_ms": {"j1": -5},
            },
        ),
        # A wrong type, or a missing field.
        ("command.raise_hand", {"room": 7}),
        ("command.vote", {"room": P, "poll_id": "p3", "choices": "0"}),
        ("command.speak", {"room": P}),
        ("command.open_poll", {"room": P, "question": "Q?", "kind": "ranked"}),
        (
            "event",
            {
                "type": "hand_raised",
                "room": P,
                "seq": "1",
                "actor": "j1",
                "at_ms": 5,
                "participant": "j1",
            },
        ),
        ("event", {"type": "hand_raised", "room": P, "seq": 1, "actor": "j1", "at_ms": 5}),
        ("event", {"type": "hand_waved", "room": P, "seq": 1, "actor": "j1", "at_ms": 5}),
        (
            "event",
            {
                "type": "turn_ended",
                "room": P,
                "seq": 1,
                "actor": "j1",
                "at_ms": 5,
                "turn_id": "t1",
                "speaker": "j1",
                "reason": "yielded",
                "duration_ms": 10,
            },
        ),
        ("ack", {"ok": False, "error": "no_such_code", "detail": ""}),
        ("ack", {"ok": True}),
        ("sync_request", {"resume": {P: -1}}),
        ("sync_request", {"resume": [P, 3]}),
        ("auth", {"token": 42}),
        ("auth", {}),
        # A secret ballot must not leak who chose what, nor its ballot id; an open one has no
        # totals.
        (
            "event",
            {
                "type": "vote_cast",
                "room": P,
                "seq": 9,
                "actor": "",
                "at_ms": 5,
                "poll_id": "p3",
                "choices": [],
                "voters": 1,
                "ballot": "5d41402abc4b2a76b9719d911017c592",
            },
        ),
        (
            "event",
            {
                "type": "vote_cast",
                "room": P,
                "seq": 9,
                "actor": "",
                "at_ms": 5,
                "poll_id": "p3",
                "choices": [1],
                "voters": 1,
            },
        ),
        (
            "event",
            {
                "type": "vote_cast",
                "room": P,
                "seq": 9,
                "actor": "j1",
                "at_ms": 5,
                "poll_id": "p3",
                "choices": [],
                "voters": 1,
            },
        ),
        (
            "event",
            {
                "type": "vote_cast",
                "room": P,
                "seq": 9,
                "actor": "j1",
                "at_ms": 5,
                "poll_id": "p3",
                "choices": [1],
                "voters": 1,
                "totals": [0, 1],
            },
        ),
    ],
)
def test_the_schema_refuses(definition: str, payload: Any) -> None:
    invalid(definition, payload)


def test_snapshots_with_an_unknown_field_or_a_wrong_type_are_refused(session: Session) -> None:
    room = next(v for d, a, v in session.snapshots if d == "room_view" and v["nodes"])
    changes: list[tuple[tuple[str | int, ...], str, Any]] = [
        ((), "extra", 1),
        ((), "seq", "3"),
        (("rules",), "policy", "loudest"),
        (("nodes", 0), "score", 3),
        (("nodes", 0), "kind", "essay"),
    ]
    for path, key, value in changes:
        broken = copy.deepcopy(room)
        target: Any = broken
        for step in path:
            target = target[step]
        target[key] = value
        invalid("room_view", broken)
    assembly = next(v for d, a, v in session.snapshots if d == "assembly_view")
    broken = copy.deepcopy(assembly)
    broken["counts"]["observer"] = 3
    invalid("assembly_view", broken)
    broken = copy.deepcopy(room)
    next(iter(broken["people"].values()))["email"] = "x@example.org"
    invalid("room_view", broken)
