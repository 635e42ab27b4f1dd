"""The socket protocol as one JSON Schema document (draft 2020-12), generated from the code.

`protocol_schema()` is what `palabre schema` prints and what docs/protocol.md describes: the
payload of every command a client sends (the socket event's name is the command), every event
as the audiences receive it, the ack, `sync`, `moved`, `presence`, the connect `auth` and the
snapshot views. Commands and events come from `facilitation.codec.json_schema`, so a field
added to the core appears here by itself; the views are described from `server.views`, and
tests/server/test_schema.py checks real snapshots against them.
"""

import copy
from typing import Any

from facilitation import ASSEMBLY_STREAM, Command, Event, RoomCommand
from facilitation import ErrorCode as CoreErrorCode
from facilitation.codec import json_schema
from facilitation.events import (
    AgendaItemAdded,
    AnnouncementBroadcast,
    ArgumentPosted,
    FacilitatorNoteSent,
    FairnessAlarmsSet,
    FloorGranted,
    HandRaised,
    ParticipantMoved,
    ParticipantMuted,
    PollClosed,
    PollOpened,
    PostUnhidden,
    RoomRulesChanged,
    RoundClosed,
    StatementMade,
    VoteCast,
)
from facilitation.limits import MAX_LABEL_CHARS, MAX_TEXT_CHARS
from server.audience import AUDIENCE_OF_ROLE, POSTING_EVENTS
from server.gateway import EdgeCode
from server.history import HISTORY_CODES
from server.runtime import UNAVAILABLE
from server.settings import HARD_MESSAGE_LIMIT_BYTES, MAX_PAYLOAD_BYTES, Settings
from server.voice.gateway import MAX_SDP_BYTES, VOICE_CODES
from server.voice.service import WHY
from server.wire import MAX_NESTING_DEPTH

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE = ("room", "seq", "actor", "at_ms")

# Codes an ack can carry besides the core's refusals.
ACK_EDGE_CODES = (
    EdgeCode.UNKNOWN_COMMAND,
    EdgeCode.INVALID_COMMAND,
    EdgeCode.PAYLOAD_TOO_LARGE,
    EdgeCode.RATE_LIMITED,
    EdgeCode.NOT_CONNECTED,
    UNAVAILABLE,
    *VOICE_CODES,
    *HISTORY_CODES,
)
# Codes a refused connection carries (the token codes are `server.invites`' own).
CONNECT_CODES = (
    "invalid_token",
    "expired_token",
    "revoked_token",
    EdgeCode.ASSEMBLY_NOT_FOUND,
    EdgeCode.PRIVATE_ASSEMBLY,
    EdgeCode.UNKNOWN_PARTICIPANT,
    EdgeCode.ROOM_NOT_FOUND,
    EdgeCode.ORIGIN_NOT_ALLOWED,
    EdgeCode.RATE_LIMITED,
    UNAVAILABLE,
)
# Values `server.views` writes from the state, which keeps them as plain strings.
NODE_KINDS = ("question", "position", "argument", "reply")
MODERATION_ACTIONS = ("hidden", "unhidden")
AGENDA_STATUSES = ("pending", "running", "done")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def command_def(name: str) -> str:
    return f"command.{name}"


def event_def(name: str) -> str:
    return f"event.{name}"


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
NULL: dict[str, Any] = {"type": "null"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL]}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def either(key: str, present: dict[str, Any], absent: dict[str, Any]) -> dict[str, Any]:
    """`present` when the object has `key`, else `absent`: unlike oneOf, errors stay precise."""
    return {"if": {"required": [key]}, "then": present, "else": absent}


def by_ok(ok: dict[str, Any], refused: dict[str, Any]) -> dict[str, Any]:
    """A reply told apart by `ok`."""
    return {
        "type": "object",
        "required": ["ok"],
        "properties": {"ok": BOOLEAN},
        "if": {"properties": {"ok": {"const": True}}},
        "then": ok,
        "else": refused,
    }


def closed(
    properties: dict[str, Any],
    *,
    optional: tuple[str, ...] = (),
    title: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """An object with exactly these properties, all required but `optional`."""
    schema: dict[str, Any] = {}
    if title is not None:
        schema["title"] = title
    if description is not None:
        schema["description"] = description
    schema |= {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": False,
    }
    return schema


class _Builder:
    """Collects `$defs`, hoisting the definitions pydantic nests in each message's schema."""

    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}
        self._messages: dict[type[Any], dict[str, Any]] = {}

    def add(self, name: str, schema: dict[str, Any]) -> None:
        if name in self.defs and self.defs[name] != schema:
            raise ValueError(f"two different definitions named {name!r}")
        self.defs[name] = schema

    def message(self, cls: type[Command] | type[Event]) -> dict[str, Any]:
        """`codec.json_schema(cls)` without its nested `$defs` (hoisted to the document's)."""
        schema = self._messages.get(cls)
        if schema is None:
            schema = json_schema(cls)
            for name, nested in schema.pop("$defs", {}).items():
                self.add(name, nested)
            self._messages[cls] = schema
        return copy.deepcopy(schema)

    def field(self, cls: type[Command] | type[Event], name: str) -> dict[str, Any]:
        """The schema of one field of a message, without its title and default."""
        schema: dict[str, Any] = self.message(cls)["properties"][name]
        return {k: v for k, v in schema.items() if k not in {"title", "default"}}


def _command(builder: _Builder, cls: type[Command]) -> dict[str, Any]:
    """What a client sends as the payload of the socket event named after the command."""
    schema = builder.message(cls)
    del schema["properties"]["type"]
    optional = {"type", "room"} if issubclass(cls, RoomCommand) else {"type"}
    schema["required"] = [name for name in schema["required"] if name not in optional]
    note = "The payload of the socket event named after the command (no `type`)."
    if issubclass(cls, RoomCommand):
        note += (
            " `room` may be left out by someone who follows exactly one room: the gateway"
            " fills it in."
        )
    schema["description"] = (
        f"{schema['description']}\n\n{note}" if "description" in schema else note
    )
    return schema


def _event(builder: _Builder, cls: type[Event]) -> dict[str, Any]:
    """An event as delivered: `codec.encode` writes every field, so every field is present."""
    schema = builder.message(cls)
    schema["required"] = list(schema["properties"])
    if cls.name in POSTING_EVENTS:
        # Sent again while the post is hidden, it has no text but for moderators (`replayed`).
        schema["properties"]["text"] = {
            "description": (
                "The post's text; null, except to moderators, when the event is sent again (a"
                " `sync` or Server-Sent Events catch-up) while the post is hidden."
            ),
            **nullable(builder.field(cls, "text")),
        }
    if cls is FacilitatorNoteSent:
        schema["properties"]["text"] = {
            "description": "The note; null for everyone but the moderators of the room.",
            **nullable(builder.field(cls, "text")),
        }
    if cls is PostUnhidden:
        # The text comes back to every audience with the unhiding (`server.audience`).
        schema["properties"]["text"] = builder.field(ArgumentPosted, "text")
        schema["required"].append("text")
    if cls in (HandRaised, RoomRulesChanged):
        # Under the equity policy, the figures the queue is ordered by (`server.audience`).
        schema["properties"]["spoken_ms"] = {
            "description": (
                "When the room's policy is equity: the speaking time across the assembly of"
                " each queued juror, which the queue is ordered by."
            ),
            "type": "object",
            "additionalProperties": COUNT,
        }
    if cls is RoundClosed:
        schema["properties"]["returned"] = closed(
            {"jurors": array(STRING), "facilitators": array(STRING)},
            description="Who goes back to the plenary: everyone seated in the round's rooms.",
        )
        schema["required"].append("returned")
    if cls is ParticipantMoved:
        # Snapshots carry no whole roster: the room joined may not know who this is.
        schema["properties"]["role"] = ref("Role")
        schema["properties"]["display_name"] = {
            "description": "Their name (a juror's pseudonym, for observers of a pseudonymous"
            " assembly).",
            **STRING,
        }
        schema["properties"]["attributes"] = {
            "description": "Their balancing attributes: moderators only.",
            "type": "object",
            "additionalProperties": STRING,
        }
        schema["required"] += ["role", "display_name"]
    if cls is VoteCast:
        return _vote_cast(builder, schema)
    return schema


def _vote_cast(builder: _Builder, open_ballot: dict[str, Any]) -> dict[str, Any]:
    """An open ballot names the voter and the choices; a secret one only counts ballots."""
    # The ballot id a secret vote is recorded under never leaves the server (`server.audience`).
    del open_ballot["properties"]["ballot"]
    open_ballot["required"].remove("ballot")
    secret = copy.deepcopy(open_ballot)
    secret["title"] = f"{open_ballot['title']} (secret ballot)"
    secret["properties"] |= {
        "actor": {"const": ""},
        "choices": {"type": "array", "maxItems": 0},
        "voters": builder.field(PollClosed, "voters") | {"minimum": 0},
    }
    secret["required"] += ["voters"]
    open_ballot["title"] = f"{open_ballot['title']} (open ballot)"
    return {
        "title": VoteCast.name,
        "description": (
            "A vote. In a secret poll every audience, moderators included, receives it"
            " redacted: no actor, no choices, only the number of `voters` so far; the totals"
            " come with `poll_closed`."
        ),
        **either("voters", secret, open_ballot),
    }


def _event_union() -> dict[str, Any]:
    """Any event, told apart by its `type` (if/then gives a precise error, unlike oneOf)."""
    names = list(Event.registry)
    return {
        "title": "event",
        "description": "The payload of the server's `event` message: one event of one stream.",
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": names}},
        "allOf": [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": ref(event_def(name)),
            }
            for name in names
        ],
    }


def _views(builder: _Builder) -> None:
    """The snapshots of `server.views`, for each audience (observers' ids pseudonymised)."""
    ids = array(STRING)
    builder.add(
        "assembly_view",
        closed(
            {
                "id": STRING,
                "seq": COUNT,
                "title": STRING,
                "public": BOOLEAN,
                "pseudonymous": BOOLEAN,
                "counts": {
                    "description": (
                        "How many people of each role the assembly has had, the removed"
                        " included (observers are not counted). No roster: each room view's"
                        " `people`, and `roster` on demand."
                    ),
                    "type": "object",
                    "properties": dict.fromkeys(("juror", "facilitator", "lead"), COUNT),
                    "required": ["juror", "facilitator", "lead"],
                    "additionalProperties": False,
                },
                "round": nullable(ref("round_view")),
                "announcements": array(
                    closed(
                        {
                            "at_ms": INTEGER,
                            "text": builder.field(AnnouncementBroadcast, "text"),
                        }
                    )
                ),
                "alarms": closed(
                    {
                        name: builder.field(FairnessAlarmsSet, name)
                        for name in builder.message(FairnessAlarmsSet)["properties"]
                        if name not in {"type", *ENVELOPE}
                    },
                    description="The thresholds of the fairness alarms on the lead's room cards.",
                ),
                "synthesis": ref("synthesis_view"),
            },
            title="assembly_view",
            description="The snapshot of the assembly stream.",
        ),
    )
    builder.add(
        "people",
        {
            "description": (
                "Participant id (a juror's pseudonym, for observers of a pseudonymous"
                " assembly) -> who they are. Never observers."
            ),
            "type": "object",
            "additionalProperties": ref("person_view"),
        },
    )
    builder.add(
        "person_view",
        closed(
            {
                "name": STRING,
                "role": ref("Role"),
                "attributes": {
                    "description": "Balancing attributes: moderators only.",
                    "type": "object",
                    "additionalProperties": STRING,
                },
            },
            optional=("attributes",),
        ),
    )
    builder.add(
        "round_view",
        closed(
            {
                "id": STRING,
                "started": BOOLEAN,
                "deadline_ms": nullable(INTEGER),
                "recall_at_ms": nullable(INTEGER),
                "rooms": array(
                    {
                        "description": (
                            "Who goes where for moderators; the room alone for everyone else."
                        ),
                        "anyOf": [
                            ref("ProposedRoom"),
                            closed({"room_id": STRING, "name": STRING}),
                        ],
                    }
                ),
            },
            description="The round proposed or running; null when none is.",
        ),
    )
    rules = builder.message(RoomRulesChanged)
    queue_entry = closed({"participant": STRING, "raised_at_ms": INTEGER})
    builder.add(
        "room_view",
        closed(
            {
                "id": STRING,
                "seq": COUNT,
                "name": STRING,
                "closed": BOOLEAN,
                "locked": BOOLEAN,
                "paused_at_ms": nullable(INTEGER),
                "opened_at_ms": {
                    "description": "When the room opened: its round started, or the assembly"
                    " was created (the plenary).",
                    **nullable(INTEGER),
                },
                "notes": {
                    "description": "The lead's private notes to the room's facilitators:"
                    " moderators only (empty for everyone else).",
                    **array(
                        closed(
                            {
                                "at_ms": INTEGER,
                                "author": STRING,
                                "text": builder.field(FacilitatorNoteSent, "text"),
                            }
                        )
                    ),
                },
                "rules": closed(
                    {
                        name: builder.field(RoomRulesChanged, name)
                        for name in rules["properties"]
                        if name not in {"type", *ENVELOPE}
                    }
                ),
                "jurors": ids,
                "facilitators": ids,
                "muted": ids,
                "mute_reasons": {
                    "description": (
                        'Why each muted juror was muted, by participant ("" when no reason'
                        " was given): the `reason` of their `participant_muted`."
                    ),
                    "type": "object",
                    "additionalProperties": builder.field(ParticipantMuted, "reason"),
                },
                "floor": nullable(ref("floor_view")),
                "queue": array(queue_entry),
                "replies": array(queue_entry),
                "statements": array(ref("statement_view")),
                "nodes": array(ref("node_view")),
                "polls": array(ref("poll_view")),
                "agenda": array(ref("agenda_item_view")),
                "people": ref("people")
                | {
                    "description": (
                        "Everyone the view names: who sits in or runs the room, and anyone its"
                        " figures, statements, posts, open votes or moderation name."
                    )
                },
                "carry": nullable(ref("carry_view")),
                "stats": {
                    "description": (
                        "Committed speaking figures of whoever spoke here, by participant: the"
                        " live turn and hands still up are not counted in. Facilitators and the"
                        " lead appear once their voice is recorded."
                    ),
                    "type": "object",
                    "additionalProperties": ref("speaker_stats_view"),
                },
            },
            title="room_view",
            description="The snapshot of a room's stream.",
        ),
    )
    builder.add(
        "floor_view",
        closed(
            {
                "turn_id": builder.field(FloorGranted, "turn_id"),
                "speaker": builder.field(FloorGranted, "speaker"),
                "kind": builder.field(FloorGranted, "kind"),
                "started_at_ms": INTEGER,
                "deadline_ms": builder.field(FloorGranted, "deadline_ms"),
                "warning_at_ms": builder.field(FloorGranted, "warning_at_ms"),
                "paused_ms": COUNT
                | {"description": "Time the room was paused during this turn: not spoken."},
                "nodes": ids,
            }
        ),
    )
    builder.add(
        "statement_view",
        closed(
            {
                "statement_id": builder.field(StatementMade, "statement_id"),
                "turn_id": builder.field(StatementMade, "turn_id"),
                "speaker": STRING,
                "kind": builder.field(StatementMade, "kind"),
                "text": builder.field(StatementMade, "text"),
                "at_ms": INTEGER,
            }
        ),
    )
    builder.add(
        "node_view",
        closed(
            {
                "node_id": STRING,
                "kind": {"enum": list(NODE_KINDS)},
                "parent": nullable(STRING),
                "stance": nullable(builder.field(ArgumentPosted, "stance")),
                "author": STRING,
                "text": {
                    "description": "null when the post is hidden, except for moderators.",
                    **nullable(STRING),
                },
                "posted_at_ms": INTEGER,
                "hidden": BOOLEAN,
                "moderation": array(
                    closed(
                        {
                            "action": {"enum": list(MODERATION_ACTIONS)},
                            "actor": STRING,
                            "reason": STRING,
                        }
                    )
                ),
                "endorsers": ids,
                "merged_into": nullable(STRING),
                "turns": ids,
                "origin": {
                    "description": "The plenary map entry a round from the map gave it.",
                    **nullable(STRING),
                },
            }
        ),
    )
    _synthesis_views(builder)
    builder.add(
        "poll_view",
        closed(
            {
                **{
                    name: builder.field(PollOpened, name)
                    for name in ("poll_id", "question", "kind", "options", "secret")
                },
                "open": BOOLEAN,
                "voters": builder.field(PollClosed, "voters") | {"minimum": 0},
                "totals": builder.field(PollClosed, "totals"),
                "votes": {
                    "description": "Each voter's choices; always empty for a secret poll"
                    " (whose totals stay at zero until it closes).",
                    "type": "object",
                    "additionalProperties": builder.field(VoteCast, "choices"),
                },
            }
        ),
    )
    builder.add(
        "agenda_item_view",
        closed(
            {
                **{
                    name: builder.field(AgendaItemAdded, name)
                    for name in ("item_id", "title", "duration_ms", "question_id")
                },
                "status": {"enum": list(AGENDA_STATUSES)},
                "deadline_ms": nullable(INTEGER),
            }
        ),
    )
    builder.add(
        "speaker_stats_view",
        closed(
            {
                "spoken_ms": COUNT | {"description": "Floor time: the turns held, heard or not."},
                "turns": COUNT,
                "longest_wait_ms": COUNT,
                "voiced_ms": COUNT
                | {"description": "Time the media server heard this person's voice here."},
            }
        ),
    )
    builder.add(
        "snapshots",
        {
            "description": "Stream -> its snapshot: the assembly view, or a room view.",
            "type": "object",
            "properties": {ASSEMBLY_STREAM: ref("assembly_view")},
            "additionalProperties": ref("room_view"),
        },
    )


def _synthesis_views(builder: _Builder) -> None:
    """A breakout room's carry, and the plenary's map of every room's carry."""
    objection = closed({"participant": STRING, "reason": STRING, "at_ms": INTEGER})
    builder.add(
        "carry_view",
        closed(
            {
                "positions": array(STRING),
                "arguments": array(STRING),
                "proposed_by": STRING,
                "proposed_at_ms": INTEGER,
                "objections": array(objection),
            },
            title="carry_view",
            description="What the room's facilitator proposes to carry, and who objected.",
        ),
    )
    argument = closed(
        {
            "node_id": STRING,
            "stance": builder.field(ArgumentPosted, "stance"),
            "text": STRING,
            "endorsements": COUNT,
        }
    )
    builder.add(
        "synthesis_view",
        closed(
            {
                "entries": array(
                    closed(
                        {
                            "entry_id": STRING,
                            "round_id": STRING,
                            "room": STRING,
                            "room_name": STRING,
                            "node_id": STRING,
                            "text": STRING,
                            "endorsements": COUNT,
                            "arguments": array(argument),
                            "marked_by": nullable(STRING),
                            "merged_into": nullable(STRING),
                        }
                    )
                ),
                "objections": {"type": "object", "additionalProperties": array(objection)},
                "proposals": array(
                    closed(
                        {
                            "proposal_id": STRING,
                            "round_id": STRING,
                            "first": STRING,
                            "second": STRING,
                            "similarity": {"type": "number", "minimum": 0, "maximum": 1},
                            "shared": array(STRING),
                            "status": {"enum": ["open", "confirmed", "rejected"]},
                            "decided_by": nullable(STRING),
                        }
                    )
                ),
            },
            title="synthesis_view",
            description=(
                "The plenary's map: every carried position in its room's words (a merged one"
                " names the entry it stands under), objections by room, merge proposals."
            ),
        ),
    )


def _session(builder: _Builder) -> None:
    """Connecting, acks, `sync`, and the server's `moved` and `presence` messages."""
    error_codes = list(dict.fromkeys([*(code.value for code in CoreErrorCode), *ACK_EDGE_CODES]))
    builder.add(
        "error_code",
        {
            "description": "Every code an ack can carry: the core's refusals and the edge's.",
            "enum": error_codes,
        },
    )
    builder.add(
        "ack_ok",
        closed(
            {
                "ok": {"const": True},
                "seq": COUNT
                | {
                    "description": (
                        "The seq of the command's last event in its stream (the room, or the"
                        " assembly); the stream's current seq when nothing changed."
                    )
                },
            }
        ),
    )
    builder.add(
        "ack_error",
        closed({"ok": {"const": False}, "error": ref("error_code"), "detail": STRING}),
    )
    builder.add(
        "ack",
        {"title": "ack", **by_ok(ref("ack_ok"), ref("ack_error"))},
    )
    builder.add(
        "auth",
        {
            "title": "auth",
            "description": "The socket.io `auth` of the connection.",
            **either(
                "token",
                closed(
                    {"token": STRING, "watch": STRING},
                    optional=("watch",),
                    title="invite",
                    description="An invite token; `watch` is read for observers only.",
                ),
                closed(
                    {"assembly": STRING, "watch": STRING},
                    optional=("watch",),
                    title="public observer",
                    description="An anonymous observer of a public assembly (watch: plenary).",
                ),
            ),
        },
    )
    builder.add(
        "connect_error",
        closed(
            {
                "message": {"enum": list(CONNECT_CODES)},
                "data": closed({"error": {"enum": list(CONNECT_CODES)}, "detail": STRING}),
            },
            title="connect_error",
            description="Why a connection was refused (socket.io's `connect_error`).",
        ),
    )
    roles = sorted({role.value for role in AUDIENCE_OF_ROLE})
    builder.add(
        "you",
        closed(
            {
                "assembly": STRING,
                "participant": nullable(STRING),
                "name": nullable(STRING),
                "role": {"enum": roles},
                "room": nullable(STRING),
                "streams": unique_strings(),
                "voice": closed(
                    {
                        "available": BOOLEAN,
                        "ice_servers": array(
                            closed(
                                {
                                    "urls": array(STRING),
                                    "username": STRING,
                                    "credential": STRING,
                                },
                                optional=("username", "credential"),
                            )
                        ),
                    }
                ),
            },
            optional=("voice",),
            description=(
                "Who the connection is and the streams it follows; the `sync` reply adds"
                " whether voice works on this server and the STUN/TURN servers (RTCIceServer"
                " objects) to give a peer connection."
            ),
        ),
    )
    builder.add(
        "sync_request",
        closed(
            {
                "resume": {
                    "description": "Stream -> the last seq applied from it.",
                    "type": "object",
                    "additionalProperties": COUNT,
                }
            },
            optional=("resume",),
            title="sync",
        ),
    )
    builder.add(
        "sync_ok",
        closed(
            {
                "ok": {"const": True},
                "you": ref("you"),
                "server_time_ms": INTEGER,
                "snapshots": ref("snapshots"),
                "events": array(ref("event")),
            }
        ),
    )
    builder.add("sync_reply", {"title": "sync reply", **by_ok(ref("sync_ok"), ref("ack_error"))})
    builder.add(
        "roster_request",
        closed(
            {
                "room": nullable(STRING)
                | {"description": "A room's id; null or left out: everyone (moderators only)."}
            },
            optional=("room",),
            title="roster",
        ),
    )
    builder.add(
        "roster_ok",
        closed(
            {
                "ok": {"const": True},
                "room": nullable(STRING),
                "seq": COUNT | {"description": "The assembly stream's seq it was read at."},
                "people": ref("people"),
            }
        ),
    )
    builder.add(
        "roster_reply", {"title": "roster reply", **by_ok(ref("roster_ok"), ref("ack_error"))}
    )
    builder.add(
        "moved",
        closed(
            {"you": ref("you"), "snapshots": ref("snapshots")},
            title="moved",
            description="The streams followed changed: snapshots of the newly followed ones.",
        ),
    )
    builder.add(
        "presence",
        closed(
            {"room": STRING, "present": unique_strings()},
            title="presence",
            description="Who is connected in a room (moderators and members only).",
        ),
    )


def _voice(builder: _Builder) -> dict[str, Any]:
    """The voice messages (docs/protocol.md, "Voice"): client events with their acks."""
    jsep = sdp_of("offer")
    candidate = closed(
        {
            "candidate": STRING,
            "sdpMid": nullable(STRING),
            "sdpMLineIndex": nullable(COUNT),
            "usernameFragment": nullable(STRING),
        },
        optional=("sdpMid", "sdpMLineIndex", "usernameFragment"),
    )
    builder.add(
        "voice_join",
        closed({"offer": jsep, "room": STRING}, optional=("room",), title="voice_join"),
    )
    builder.add(
        "voice_join_ok",
        closed(
            {
                "ok": {"const": True},
                "answer": closed({"type": {"const": "answer"}, "sdp": STRING}),
                "room": STRING,
                "muted": BOOLEAN,
            }
        ),
    )
    builder.add("voice_ice", closed({"candidate": nullable(candidate)}, title="voice_ice"))
    builder.add("voice_mute_self", closed({"muted": BOOLEAN}, title="voice_mute_self"))
    builder.add("voice_mute_self_ok", closed({"ok": {"const": True}, "muted": BOOLEAN}))
    builder.add("voice_leave", closed({}, title="voice_leave"))
    builder.add("voice_ok", closed({"ok": {"const": True}}))
    builder.add("voice_listen", closed({"room": STRING}, optional=("room",), title="voice_listen"))
    builder.add(
        "voice_listen_ok",
        closed(
            {
                "ok": {"const": True},
                "room": STRING,
                "offer": closed({"type": {"const": "offer"}, "sdp": STRING}),
            }
        ),
    )
    builder.add(
        "voice_listen_answer", closed({"answer": sdp_of("answer")}, title="voice_listen_answer")
    )
    for name in ("voice_join", "voice_mute_self", "voice_listen", "voice"):
        ok = f"{name}_ok" if name != "voice" else "voice_ok"
        builder.add(f"{name}_reply", {"title": f"{name} reply", **by_ok(ref(ok), ref("ack_error"))})
    builder.add(
        "voice",
        closed(
            {
                "available": BOOLEAN,
                "joined": BOOLEAN,
                "room": nullable(STRING),
                "muted": BOOLEAN,
                "why": {"enum": list(WHY)},
            },
            title="voice",
            description="The person's own voice state, after join and leave and on every change.",
        ),
    )
    builder.add(
        "voice_activity",
        closed(
            {"room": STRING, "talking": unique_strings()},
            title="voice_activity",
            description="Who is heard talking now in a room (its members and moderators).",
        ),
    )
    builder.add(
        "voice_rejoin",
        closed(
            {"reason": {"enum": ["media_server_restarted", "media_server_lost", "moved"]}},
            title="voice_rejoin",
            description=(
                "Make a new offer and `voice_join` again (a listening page: `voice_listen` again)."
            ),
        ),
    )
    builder.add(
        "voice_stream",
        closed(
            {
                "room": STRING,
                "live": {"const": False},
                "reason": {"enum": ["room_closed", "voice_unavailable"]},
            },
            title="voice_stream",
            description=(
                "An observer's listening ended: the room closed, or the media server went away"
                " (a `voice_rejoin` follows when it is back)."
            ),
        ),
    )
    return {
        "voice_join": {"payload": "#/$defs/voice_join", "ack": "#/$defs/voice_join_reply"},
        "voice_ice": {"payload": "#/$defs/voice_ice", "ack": "#/$defs/voice_reply"},
        "voice_mute_self": {
            "payload": "#/$defs/voice_mute_self",
            "ack": "#/$defs/voice_mute_self_reply",
        },
        "voice_leave": {"payload": "#/$defs/voice_leave", "ack": "#/$defs/voice_reply"},
        "voice_listen": {"payload": "#/$defs/voice_listen", "ack": "#/$defs/voice_listen_reply"},
        "voice_listen_answer": {
            "payload": "#/$defs/voice_listen_answer",
            "ack": "#/$defs/voice_reply",
        },
    }


def _history(builder: _Builder) -> dict[str, Any]:
    """`past_rounds` (docs/protocol.md, "Past rounds"): closed rounds and one room's snapshot."""
    builder.add("past_rounds", closed({"room": STRING}, optional=("room",), title="past_rounds"))
    builder.add(
        "past_round",
        closed(
            {
                "round_id": STRING,
                "rooms": array(closed({"room_id": STRING, "name": STRING})),
            },
            description="A round that ran and closed, with its rooms.",
        ),
    )
    builder.add(
        "past_rounds_ok",
        closed(
            {
                "ok": {"const": True},
                "rounds": array(ref("past_round")),
                "room": ref("room_view"),
            },
            optional=("room",),
        ),
    )
    builder.add(
        "past_rounds_reply",
        {"title": "past_rounds reply", **by_ok(ref("past_rounds_ok"), ref("ack_error"))},
    )
    return {"past_rounds": {"payload": "#/$defs/past_rounds", "ack": "#/$defs/past_rounds_reply"}}


def sdp_of(kind: str) -> dict[str, Any]:
    """An SDP offer or answer as a page sends it."""
    return {
        "type": "object",
        "required": ["type", "sdp"],
        "additionalProperties": False,
        "properties": {"type": {"const": kind}, "sdp": STRING | {"maxLength": MAX_SDP_BYTES}},
    }


def unique_strings() -> dict[str, Any]:
    return {"type": "array", "items": STRING, "uniqueItems": True}


def protocol_schema() -> dict[str, Any]:
    """The whole socket protocol; `x-socket` maps each socket message to its definition."""
    builder = _Builder()
    client_events: dict[str, Any] = {
        "sync": {"payload": "#/$defs/sync_request", "ack": "#/$defs/sync_reply"},
        "roster": {"payload": "#/$defs/roster_request", "ack": "#/$defs/roster_reply"},
    }
    for name, command in Command.registry.items():
        builder.add(command_def(name), _command(builder, command))
        client_events[name] = {
            "payload": f"#/$defs/{command_def(name)}",
            "ack": "#/$defs/ack",
            "roles": sorted(role.value for role in command.roles),
        }
    for name, event in Event.registry.items():
        builder.add(event_def(name), _event(builder, event))
    builder.add("event", _event_union())
    _views(builder)
    _session(builder)
    client_events.update(_voice(builder))
    client_events.update(_history(builder))
    document: dict[str, Any] = {
        "$schema": DIALECT,
        "title": "palabre socket protocol",
        "description": (
            "Definitions of every message of palabre's socket.io protocol and of its snapshots;"
            " see docs/protocol.md. `x-socket` names the definition of each message."
        ),
        "x-socket": {
            "connect": {"auth": "#/$defs/auth", "connect_error": "#/$defs/connect_error"},
            "client_events": client_events,
            "server_events": {
                "event": "#/$defs/event",
                "moved": "#/$defs/moved",
                "presence": "#/$defs/presence",
                "voice": "#/$defs/voice",
                "voice_activity": "#/$defs/voice_activity",
                "voice_rejoin": "#/$defs/voice_rejoin",
                "voice_stream": "#/$defs/voice_stream",
            },
            "sse": {
                "snapshot": ["#/$defs/assembly_view", "#/$defs/room_view"],
                "event": "#/$defs/event",
            },
        },
        "x-limits": {
            "max_payload_bytes": MAX_PAYLOAD_BYTES,
            "hard_message_limit_bytes": HARD_MESSAGE_LIMIT_BYTES,
            "max_nesting_depth": MAX_NESTING_DEPTH,
            "rate_per_second": Settings.model_fields["rate_per_second"].default,
            "rate_burst": Settings.model_fields["rate_burst"].default,
            "connect_rate_per_second": Settings.model_fields["connect_rate_per_second"].default,
            "connect_burst": Settings.model_fields["connect_burst"].default,
            "max_text_chars": MAX_TEXT_CHARS,
            "max_label_chars": MAX_LABEL_CHARS,
        },
        "$defs": builder.defs,
    }
    # The parts above share some small dicts: give the caller a document of its own.
    return copy.deepcopy(document)
