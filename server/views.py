"""Snapshots: what a viewer sees of the assembly and of a room at one seq, as plain JSON.

A client starts from a snapshot and applies the events that follow it; the audiences and their
redactions are the same as the events' (see `server.audience`).
"""

from typing import Any

from facilitation import ASSEMBLY_STREAM, Assembly, Role
from facilitation.polls import totals
from facilitation.state import Room
from server.audience import Audience, pseudonymise, pseudonyms


def assembly_view(state: Assembly, assembly_id: str, audience: Audience) -> dict[str, Any]:
    current = state.current_round()
    view = {
        "id": assembly_id,
        "seq": state.seqs.get(ASSEMBLY_STREAM, 0),
        "title": state.title,
        "public": state.public,
        "pseudonymous": state.pseudonymous,
        "participants": {
            p.id: {
                "name": p.pseudonym
                if audience is Audience.OBSERVER and state.pseudonymous and p.role is Role.JUROR
                else p.display_name,
                "role": p.role.value,
                "room": p.room,
                **({"attributes": p.attributes} if audience is Audience.MODERATOR else {}),
            }
            for p in state.participants.values()
            if p.role is not Role.OBSERVER
        },
        "round": None
        if current is None
        else {
            "id": current.id,
            "started": current.started,
            "deadline_ms": current.deadline_ms,
            "recall_at_ms": current.recall_at_ms,
            "rooms": [
                {
                    "room_id": room.room_id,
                    "name": room.name,
                    "jurors": list(room.jurors),
                    "facilitators": list(room.facilitators),
                }
                for room in current.rooms
            ],
        },
        "announcements": [{"at_ms": at, "text": text} for at, text in state.announcements],
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
