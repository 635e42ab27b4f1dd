"""Who sees what: the one place that decides each event's recipients and their payloads.

Every stream (a room, or the assembly) has three audiences, each a socket.io room:
moderators (the room's facilitators and the lead) see everything; members (the jurors seated
there) see everything but others' balancing attributes; observers see the members' view with
jurors pseudonymised when the assembly asks for it. Nobody is ever sent a secret ballot (nor
its ballot id, which the log keeps in place of the voter), and hidden posts keep their reason
on the record while their text is `null` for everyone but the moderators, in snapshots and
replays alike, as is the text of the lead's private notes to a room's facilitators. Every
audience receives every event of its stream, redacted, never skipped, so a viewer's seqs have
no gaps.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from facilitation import Assembly, Event, Role
from facilitation.codec import encode
from facilitation.events import (
    FacilitatorNoteSent,
    HandRaised,
    ParticipantAdded,
    ParticipantMoved,
    PostUnhidden,
    RoomRulesChanged,
    RoundClosed,
    VoteCast,
)


class Audience(StrEnum):
    MODERATOR = "mod"
    MEMBER = "member"
    OBSERVER = "obs"


AUDIENCE_OF_ROLE = {
    Role.LEAD: Audience.MODERATOR,
    Role.FACILITATOR: Audience.MODERATOR,
    Role.JUROR: Audience.MEMBER,
    Role.OBSERVER: Audience.OBSERVER,
}

# Keys whose value is a participant id, and keys whose value is a list of them.
ID_KEYS = frozenset({"actor", "participant", "speaker", "author", "voter"})
ID_LIST_KEYS = frozenset({"order", "jurors", "muted", "endorsers", "not_spoken", "present"})
# Maps keyed by participant id. Only these have keys renamed: a juror whose id happens to be
# "seq" or "text" must not rename every field of that name.
PARTICIPANT_MAPS = frozenset(
    {"participants", "people", "stats", "votes", "spoken_ms", "voiced_ms", "mute_reasons"}
)
# Events that carry a post's text, which a replay must leave out once the post is hidden.
POSTING_EVENTS = frozenset({"question_posed", "position_posted", "argument_posted", "reply_posted"})


def group(assembly_id: str, stream: str, audience: Audience) -> str:
    """The socket.io room of one audience of one stream."""
    return f"{assembly_id}|{stream}|{audience.value}"


def pseudonyms(state: Assembly) -> dict[str, str]:
    """Juror id -> pseudonym, when the assembly pseudonymises jurors for observers."""
    if not state.pseudonymous:
        return {}
    return {p.id: p.pseudonym for p in state.participants.values() if p.role is Role.JUROR}


def pseudonymise(data: Any, names: dict[str, str]) -> Any:
    """Replace juror ids by pseudonyms wherever a participant is named in a JSON structure."""
    if not names:
        return data
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in ID_KEYS and isinstance(value, str):
                out[key] = names.get(value, value)
            elif key in ID_LIST_KEYS and isinstance(value, list):
                out[key] = [names.get(v, v) if isinstance(v, str) else v for v in value]
            elif key in PARTICIPANT_MAPS and isinstance(value, dict):
                out[key] = {names.get(k, k): pseudonymise(v, names) for k, v in value.items()}
            else:
                out[key] = pseudonymise(value, names)
        return out
    if isinstance(data, list):
        return [pseudonymise(item, names) for item in data]
    return data


class PseudonymCache:
    """The pseudonym map of one live assembly, rebuilt only when someone joins the roster.

    The roster only grows and an assembly is pseudonymous or not from its creation, so the
    number of participants tells whether the map is still right; rebuilding it for every
    event cost O(jurors) each.
    """

    def __init__(self) -> None:
        self._size = -1
        self._names: dict[str, str] = {}

    def __call__(self, state: Assembly) -> dict[str, str]:
        if self._size != len(state.participants):
            self._names = pseudonyms(state)
            self._size = len(state.participants)
        return self._names


def payloads(
    state: Assembly, event: Event, names: dict[str, str] | None = None
) -> dict[Audience, dict[str, Any]]:
    """What each audience of the event's stream receives; `state` already includes the event.

    `names` is the assembly's pseudonym map, when the caller keeps one (see `PseudonymCache`).
    """
    full = encode(event)
    if isinstance(event, VoteCast):
        # The ballot id stays in the log: on the wire it would let anyone follow one ballot's
        # changes of mind, and an open ballot has none.
        full = {key: value for key, value in full.items() if key != "ballot"}
        poll = state.rooms[event.room].polls[event.poll_id]
        if poll.secret:
            # A secret ballot: nobody, moderators included, learns who chose what. Not even
            # running totals: in a small room the change after one vote would give it away.
            full = {**full, "actor": "", "choices": [], "voters": len(poll.votes)}
    if isinstance(event, PostUnhidden):
        # The text was left out of hidden views; bring it back to everyone.
        full = {**full, "text": state.rooms[event.room].nodes[event.node_id].text}
    if isinstance(event, HandRaised | RoomRulesChanged):
        room = state.rooms[event.room]
        if room.rules.policy == "equity":
            # Equity orders the queue by speaking time across the whole assembly, which a
            # client following this room alone cannot add up: give it the figures it sorts by.
            full = {**full, "spoken_ms": _queued_spoken_ms(state, event.room)}
    if isinstance(event, RoundClosed):
        # Who comes back to the plenary: a client that did not follow every room of the round
        # (nor see a removal in one) could not tell otherwise.
        full = {**full, "returned": _returned(state, event.round_id)}
    if isinstance(event, ParticipantMoved):
        # Snapshots no longer carry the whole roster: the room someone joins may never have
        # met them, and needs their name and role (a facilitator is listed apart from jurors).
        moved = state.participants[event.participant]
        full = {**full, "role": moved.role.value, "display_name": moved.display_name}
    member = full
    if isinstance(event, ParticipantAdded):
        member = {**full, "attributes": {}}
    if isinstance(event, ParticipantMoved):
        # Balancing attributes: moderators only, as in the rooms' `people`.
        full = {**full, "attributes": state.participants[event.participant].attributes}
    if isinstance(event, FacilitatorNoteSent):
        # The lead's note is for the room's facilitators: everyone else learns only that one
        # was sent (the organiser reads it in the record).
        member = {**full, "text": None}
    observer = pseudonymise(member, pseudonyms(state) if names is None else names)
    if isinstance(event, ParticipantAdded) and state.pseudonymous and event.role is Role.JUROR:
        observer = {**observer, "display_name": event.pseudonym}
    if isinstance(event, ParticipantMoved) and state.pseudonymous and full["role"] == "juror":
        observer = {**observer, "display_name": state.participants[event.participant].pseudonym}
    return {Audience.MODERATOR: full, Audience.MEMBER: member, Audience.OBSERVER: observer}


def replayed(state: Assembly, payload: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """An event sent again (a resume, an SSE catch-up), as its audience may see it now.

    A post hidden since it was first sent is replayed with `"text": null`, the form a snapshot
    shows it in; the `post_hidden` that follows in the replay gives the reason.
    """
    if audience is Audience.MODERATOR or payload.get("type") not in POSTING_EVENTS:
        return payload
    node = state.rooms[payload["room"]].nodes.get(payload["node_id"])
    return {**payload, "text": None} if node is not None and node.hidden else payload


def _queued_spoken_ms(state: Assembly, room_id: str) -> dict[str, int]:
    return {
        entry.participant: state.participants[entry.participant].spoken_ms
        for entry in state.rooms[room_id].queue
    }


def _returned(state: Assembly, round_id: str) -> dict[str, list[str]]:
    rooms = [room for room in state.rooms.values() if room.round_id == round_id]
    return {
        "jurors": sorted({juror for room in rooms for juror in room.jurors}),
        "facilitators": sorted({person for room in rooms for person in room.facilitators}),
    }


def streams_of(state: Assembly, participant_id: str | None, role: Role) -> list[str]:
    """The streams a connected person follows, besides the assembly stream."""
    if role is Role.LEAD:
        return sorted(room_id for room_id, room in state.rooms.items() if not room.closed)
    if participant_id is None:
        return []
    participant = state.participants.get(participant_id)
    if participant is None:
        return []
    if role is Role.FACILITATOR:
        return sorted(
            room_id
            for room_id, room in state.rooms.items()
            if participant_id in room.facilitators and not room.closed
        )
    return [participant.room] if participant.room else []


def groups_for(assembly_id: str, streams: Iterable[str], audience: Audience) -> set[str]:
    return {group(assembly_id, stream, audience) for stream in streams}
