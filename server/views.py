"""Snapshots: what a viewer sees of the assembly and of a room at one seq, as plain JSON.

A client starts from a snapshot and applies the events that follow it; the audiences and their
redactions are the same as the events' (see `server.audience`).

The assembly view carries no roster: each room view names its own people (`people`), so a
juror's `sync` holds their room and the assembly's essentials, not a thousand names; the
roster of a room, or everyone's, comes on demand (`roster_view`, the socket's `roster`).
"""

from typing import Any

from facilitation import ASSEMBLY_STREAM, Assembly, Role
from facilitation.polls import totals
from facilitation.state import Participant, Room
from server.audience import Audience, pseudonymise, pseudonyms


def assembly_view(state: Assembly, assembly_id: str, audience: Audience) -> dict[str, Any]:
    current = state.current_round()
    view = {
        "id": assembly_id,
        "seq": state.seqs.get(ASSEMBLY_STREAM, 0),
        "title": state.title,
        "public": state.public,
        "pseudonymous": state.pseudonymous,
        # How many people of each role the assembly has had (the removed included): the roster
        # itself is each room's `people`, and `roster` on demand.
        "counts": counts(state),
        "round": None
        if current is None
        else {
            "id": current.id,
            "started": current.started,
            "deadline_ms": current.deadline_ms,
            "recall_at_ms": current.recall_at_ms,
            # Who goes where is the moderators' business (and the whole roster's ids): the
            # others are told the rooms, and learn their own from `moved`.
            "rooms": [
                {
                    "room_id": room.room_id,
                    "name": room.name,
                    "jurors": list(room.jurors),
                    "facilitators": list(room.facilitators),
                }
                if audience is Audience.MODERATOR
                else {"room_id": room.room_id, "name": room.name}
                for room in current.rooms
            ],
        },
        "announcements": [{"at_ms": at, "text": text} for at, text in state.announcements],
        "alarms": {
            "unspoken_after_ms": state.alarms.unspoken_after_ms,
            "max_gini": state.alarms.max_gini,
            "max_wait_ms": state.alarms.max_wait_ms,
            "min_stratum_ratio": state.alarms.min_stratum_ratio,
        },
        "synthesis": synthesis_view(state),
    }
    return _redact(state, view, audience)


def synthesis_view(state: Assembly) -> dict[str, Any]:
    """The plenary's map as the rooms carried it: every entry in its room's words (a merged one
    names the entry it stands under), what jurors objected to their room's carry, and every
    merge proposal with the words that made it."""
    return {
        "entries": [
            {
                "entry_id": entry.id,
                "round_id": entry.round_id,
                "room": entry.room,
                "room_name": entry.room_name,
                "node_id": entry.node_id,
                "text": entry.text,
                "endorsements": entry.endorsements,
                "arguments": [
                    {
                        "node_id": argument.node_id,
                        "stance": argument.stance,
                        "text": argument.text,
                        "endorsements": argument.endorsements,
                    }
                    for argument in entry.arguments
                ],
                "marked_by": entry.marked_by,
                "merged_into": entry.merged_into,
            }
            for entry in state.carried.values()
        ],
        "objections": {
            room: [
                {"participant": o.participant, "reason": o.reason, "at_ms": o.at_ms}
                for o in objections
            ]
            for room, objections in state.carry_objections.items()
        },
        "proposals": [
            {
                "proposal_id": proposal.id,
                "round_id": proposal.round_id,
                "first": proposal.first,
                "second": proposal.second,
                "similarity": proposal.similarity,
                "shared": list(proposal.shared),
                "status": proposal.status,
                "decided_by": proposal.decided_by,
            }
            for proposal in state.merge_proposals.values()
        ],
    }


def room_view(state: Assembly, room_id: str, audience: Audience, now_ms: int) -> dict[str, Any]:
    room = state.rooms[room_id]
    view = {
        "id": room.id,
        "seq": state.seqs.get(room.id, 0),
        "name": room.name,
        "closed": room.closed,
        "locked": room.locked,
        "paused_at_ms": room.paused_at_ms,
        "opened_at_ms": room.opened_at_ms,
        # The lead's notes are for the room's facilitators (and the lead) alone.
        "notes": [
            {"at_ms": note.at_ms, "author": note.author, "text": note.text} for note in room.notes
        ]
        if audience is Audience.MODERATOR
        else [],
        "rules": {
            "turn_limit_ms": room.rules.turn_limit_ms,
            "warning_ms": room.rules.warning_ms,
            "reply_limit_ms": room.rules.reply_limit_ms,
            "replies_per_turn": room.rules.replies_per_turn,
            "policy": room.rules.policy,
            "auto": room.rules.auto,
            "open_floor": room.rules.open_floor,
        },
        "jurors": sorted(room.jurors),
        "facilitators": sorted(room.facilitators),
        "muted": sorted(room.muted),
        "mute_reasons": {juror: room.mute_reasons.get(juror, "") for juror in sorted(room.muted)},
        "floor": None
        if room.floor is None
        else {
            "turn_id": room.floor.id,
            "speaker": room.floor.speaker,
            "kind": room.floor.kind,
            "started_at_ms": room.floor.started_at_ms,
            "deadline_ms": room.floor.deadline_ms,
            "warning_at_ms": room.floor.warning_at_ms,
            # Paused time is not spoken time: a client needs it to count the live turn.
            "paused_ms": room.floor.paused_ms,
            "nodes": list(room.floor.nodes),
        },
        "queue": [
            {"participant": e.participant, "raised_at_ms": e.raised_at_ms} for e in room.queue
        ],
        "replies": [
            {"participant": e.participant, "raised_at_ms": e.raised_at_ms} for e in room.replies
        ],
        "statements": [
            {
                "statement_id": s.id,
                "turn_id": s.turn_id,
                "speaker": s.speaker,
                "kind": s.kind,
                "text": s.text,
                "at_ms": s.at_ms,
            }
            for s in room.statements
        ],
        "nodes": [_node_view(room, node_id, audience) for node_id in room.nodes],
        "polls": [_poll_view(room, poll_id) for poll_id in room.polls],
        "agenda": [
            {
                "item_id": item.id,
                "title": item.title,
                "duration_ms": item.duration_ms,
                "question_id": item.question_id,
                "status": item.status,
                "deadline_ms": item.deadline_ms,
            }
            for item in room.agenda
        ],
        "carry": None
        if room.carry is None
        else {
            "positions": list(room.carry.positions),
            "arguments": list(room.carry.arguments),
            "proposed_by": room.carry.proposed_by,
            "proposed_at_ms": room.carry.proposed_at_ms,
            "objections": [
                {"participant": o.participant, "reason": o.reason, "at_ms": o.at_ms}
                for o in room.carry.objections
            ],
        },
        # Committed figures only (no live turn, no hand still waiting): a client adds events to
        # them and derives the fairness figures (Gini, who has not spoken) itself. `spoken_ms`
        # is floor time, `voiced_ms` what the media server heard.
        "people": people_view(state, room_people(state, room), audience),
        "stats": {
            participant: {
                "spoken_ms": stats.spoken_ms,
                "turns": stats.turns,
                "longest_wait_ms": stats.longest_wait_ms,
                "voiced_ms": stats.voiced_ms,
            }
            for participant, stats in room.stats.items()
        },
    }
    return _redact(state, view, audience)


ROLES_COUNTED = (Role.JUROR, Role.FACILITATOR, Role.LEAD)


def counts(state: Assembly) -> dict[str, int]:
    """People per role, observers aside: the roster only grows, so a client adds one per
    `participant_added`."""
    found = dict.fromkeys((role.value for role in ROLES_COUNTED), 0)
    for participant in state.participants.values():
        if participant.role is not Role.OBSERVER:
            found[participant.role.value] += 1
    return found


def room_people(state: Assembly, room: Room) -> set[str]:
    """Everyone a room's view names: who sits or runs it, and whoever its figures, statements,
    posts, votes and moderation name (someone who spoke there and left, a lead's interjection),
    so a client can put a name to every id it shows of the room."""
    named = set(room.jurors) | room.facilitators | room.muted | room.stats.keys()
    named.update(entry.participant for entry in room.queue)
    named.update(entry.participant for entry in room.replies)
    named.update(statement.speaker for statement in room.statements)
    if room.floor is not None:
        named.add(room.floor.speaker)
    for node in room.nodes.values():
        named.add(node.author)
        named.update(node.endorsers)
        named.update(actor for _, actor, _ in node.moderation)
    for poll in room.polls.values():
        # A secret poll's votes are keyed by ballot ids, never by people.
        if not poll.secret:
            named.update(poll.votes)
    # The lead's notes name their author (the lead, whose name nobody's view hides).
    named.update(note.author for note in room.notes)
    return named


def people_view(state: Assembly, ids: set[str], audience: Audience) -> dict[str, Any]:
    """id -> name and role (and balancing attributes, for moderators) of the given people who
    are on the roster; observers are nobody's business, and the system is nobody.

    Keyed by id and named by display name: `_redact` pseudonymises the keys for observers, and
    a juror's name is their pseudonym there."""
    listed = (state.participants.get(person) for person in sorted(ids))
    return {
        participant.id: _person(state, participant, audience)
        for participant in listed
        if participant is not None and participant.role is not Role.OBSERVER
    }


def _person(state: Assembly, participant: Participant, audience: Audience) -> dict[str, Any]:
    pseudonymised = (
        audience is Audience.OBSERVER and state.pseudonymous and participant.role is Role.JUROR
    )
    return {
        "name": participant.pseudonym if pseudonymised else participant.display_name,
        "role": participant.role.value,
        **({"attributes": participant.attributes} if audience is Audience.MODERATOR else {}),
    }


def roster_view(state: Assembly, room_id: str | None, audience: Audience) -> dict[str, Any]:
    """The `roster` reply: a room's people (as its view names them), or everyone on the
    roster when `room_id` is None, redacted for the audience."""
    ids = set(state.participants) if room_id is None else room_people(state, state.rooms[room_id])
    view = {
        "room": room_id,
        "seq": state.seqs.get(ASSEMBLY_STREAM, 0),
        "people": people_view(state, ids, audience),
    }
    return _redact(state, view, audience)


def _node_view(room: Room, node_id: str, audience: Audience) -> dict[str, Any]:
    node = room.nodes[node_id]
    # Hidden text stays in the log for the record; only moderators are shown it live.
    show_text = not node.hidden or audience is Audience.MODERATOR
    return {
        "node_id": node.id,
        "kind": node.kind,
        "parent": node.parent,
        "stance": node.stance,
        "author": node.author,
        "text": node.text if show_text else None,
        "posted_at_ms": node.posted_at_ms,
        "hidden": node.hidden,
        "moderation": [
            {"action": action, "actor": actor, "reason": reason}
            for action, actor, reason in node.moderation
        ],
        "endorsers": sorted(node.endorsers),
        "merged_into": node.merged_into,
        "turns": list(node.turns),
        "origin": node.origin,
    }


def _poll_view(room: Room, poll_id: str) -> dict[str, Any]:
    poll = room.polls[poll_id]
    return {
        "poll_id": poll.id,
        "question": poll.question,
        "kind": poll.kind,
        "options": list(poll.options),
        "secret": poll.secret,
        "open": poll.open,
        "voters": len(poll.votes),
        # A secret poll's totals stay at zero until it closes, so no vote can be traced by
        # watching them move; an open ballot is public throughout.
        "totals": [0] * len(poll.options) if poll.secret and poll.open else list(totals(poll)),
        "votes": {} if poll.secret else {voter: list(c) for voter, c in poll.votes.items()},
    }


# Lists of jurors that stand for sets, sorted by id in every view.
SORTED_ID_LISTS = frozenset({"jurors", "muted", "endorsers"})


def _redact(state: Assembly, view: dict[str, Any], audience: Audience) -> dict[str, Any]:
    if audience is not Audience.OBSERVER:
        return view
    names = pseudonyms(state)
    redacted: dict[str, Any] = pseudonymise(view, names)
    # Pseudonyms sort differently from the ids they replace; sorting them again keeps an
    # observer's sets in the order a client that only knows the pseudonyms keeps them in.
    return _sorted_again(redacted) if names else redacted


def _sorted_again(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: sorted(value)
            if key in SORTED_ID_LISTS and isinstance(value, list)
            else _sorted_again(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_sorted_again(item) for item in data]
    return data
