"""From the rooms back to the plenary: what each room carries, and the plenary's merged map.

A breakout room's facilitator proposes what the room carries (positions and, under them, the
strongest arguments); the room's jurors see it and may object. At the recall each room's carry
enters the assembly stream as `positions_carried`, in the room's own words, and becomes entries
of the plenary's map. Near-duplicates across rooms are found outside the core (the server's
text similarity) and only proposed here: the lead confirms or rejects each merge, and a merged
entry keeps every room's wording under it.
"""

from facilitation.commands import (
    ConfirmMerge,
    ObjectToCarry,
    ProposeCarry,
    ProposeMerges,
    RejectMerge,
)
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    CarriedArgument,
    CarriedPosition,
    CarryObjected,
    CarryObjection,
    CarryProposed,
    MergeConfirmed,
    MergeProposed,
    MergeRejected,
    PositionsCarried,
)
from facilitation.limits import (
    MAX_CARRIED_ARGUMENTS,
    MAX_CARRIED_POSITIONS,
    MAX_LABEL_CHARS,
    MAX_MERGE_PROPOSALS,
    MAX_SHARED_TERMS,
)
from facilitation.registry import Decision, clean_reason, decides, decides_in_room, evolves
from facilitation.roles import ASSEMBLY_STREAM
from facilitation.state import (
    Assembly,
    CarryProposal,
    MapArgument,
    MapEntry,
    MergeProposal,
    Node,
    Objection,
    Room,
    Round,
)


def entry_id(room_id: str, node_id: str) -> str:
    """A map entry's id: the room and the position it carried, unique across the assembly."""
    return f"{room_id}/{node_id}"


def canonical(state: Assembly, entry: str) -> str:
    """The entry that `entry` stands under on the map (itself when it stands alone)."""
    return state.carried[entry].merged_into or entry


def _standing(node: Node) -> bool:
    return not node.hidden and node.merged_into is None


def _check_breakout(room: Room) -> None:
    if room.round_id is None:
        raise Refusal(ErrorCode.NOT_A_BREAKOUT_ROOM, "only a breakout room reports back")


# --- What a room carries --------------------------------------------------------------------


@decides_in_room(
    ProposeCarry,
    yields=(CarryProposed,),
    refusals=(
        ErrorCode.NOT_A_BREAKOUT_ROOM,
        ErrorCode.NOTHING_TO_CARRY,
        ErrorCode.NODE_NOT_FOUND,
        ErrorCode.NODE_HIDDEN,
        ErrorCode.INVALID_CARRY,
    ),
)
def propose_carry(d: Decision, room: Room, command: ProposeCarry) -> None:
    _check_breakout(room)
    positions = tuple(dict.fromkeys(command.positions))
    arguments = tuple(dict.fromkeys(command.arguments))
    if not positions:
        raise Refusal(ErrorCode.NOTHING_TO_CARRY, "carry at least one position")
    if len(positions) > MAX_CARRIED_POSITIONS or len(arguments) > MAX_CARRIED_ARGUMENTS:
        raise Refusal(
            ErrorCode.INVALID_CARRY,
            f"at most {MAX_CARRIED_POSITIONS} positions and {MAX_CARRIED_ARGUMENTS} arguments",
        )
    for node_id in positions:
        _carried_node(room, node_id, "position")
    for node_id in arguments:
        argument = _carried_node(room, node_id, "argument")
        if argument.parent not in positions:
            raise Refusal(ErrorCode.INVALID_CARRY, f"{node_id} argues for no carried position")
    d.emit(CarryProposed(**d.at(room.id), positions=positions, arguments=arguments))


def _carried_node(room: Room, node_id: str, kind: str) -> Node:
    node = room.nodes.get(node_id)
    if node is None:
        raise Refusal(ErrorCode.NODE_NOT_FOUND, node_id)
    if node.kind != kind:
        raise Refusal(ErrorCode.INVALID_CARRY, f"{node_id} is a {node.kind}, not a {kind}")
    if node.hidden:
        raise Refusal(ErrorCode.NODE_HIDDEN, node_id)
    if node.merged_into is not None:
        raise Refusal(ErrorCode.INVALID_CARRY, f"{node_id} is merged into {node.merged_into}")
    return node


@evolves(CarryProposed)
def carry_proposed(state: Assembly, event: CarryProposed) -> None:
    state.rooms[event.room].carry = CarryProposal(
        list(event.positions), list(event.arguments), event.actor, event.at_ms
    )


@decides_in_room(
    ObjectToCarry,
    yields=(CarryObjected,),
    refusals=(
        ErrorCode.NOT_A_BREAKOUT_ROOM,
        ErrorCode.NO_CARRY_PROPOSED,
        ErrorCode.ALREADY_OBJECTED,
        ErrorCode.REASON_REQUIRED,
        ErrorCode.TEXT_TOO_LONG,
    ),
)
def object_to_carry(d: Decision, room: Room, command: ObjectToCarry) -> None:
    _check_breakout(room)
    if room.carry is None:
        raise Refusal(ErrorCode.NO_CARRY_PROPOSED)
    reason = clean_reason(command.reason, required=True)
    if any(objection.participant == d.actor for objection in room.carry.objections):
        raise Refusal(ErrorCode.ALREADY_OBJECTED)
    d.emit(CarryObjected(**d.at(room.id), reason=reason))


@evolves(CarryObjected)
def carry_objected(state: Assembly, event: CarryObjected) -> None:
    carry = state.rooms[event.room].carry
    assert carry is not None
    carry.objections.append(Objection(event.actor, event.reason, event.at_ms))


def carry_at_recall(d: Decision, current: Round) -> None:
    """Each room of the round brings its carry back to the plenary: the proposal as it stands
    (less what was hidden or merged since), or every standing position when none was made."""
    for proposed in current.rooms:
        room = d.state.rooms[proposed.room_id]
        positions = _proposed_carry(room) if room.carry else _default_carry(room)
        objections = (
            tuple(
                CarryObjection(participant=o.participant, reason=o.reason, at_ms=o.at_ms)
                for o in room.carry.objections
            )
            if room.carry
            else ()
        )
        d.emit(
            PositionsCarried(
                **d.at(ASSEMBLY_STREAM),
                round_id=current.id,
                from_room=room.id,
                room_name=room.name,
                marked_by=room.carry.proposed_by if room.carry else None,
                positions=positions,
                objections=objections,
            )
        )


def _carried(position: Node, arguments: list[Node]) -> CarriedPosition:
    return CarriedPosition(
        node_id=position.id,
        text=position.text,
        endorsements=len(position.endorsers),
        origin=position.origin,
        arguments=tuple(
            CarriedArgument(
                node_id=argument.id,
                stance=argument.stance or "for",
                text=argument.text,
                endorsements=len(argument.endorsers),
            )
            for argument in arguments
        ),
    )


def _proposed_carry(room: Room) -> tuple[CarriedPosition, ...]:
    assert room.carry is not None
    chosen = [room.nodes[node_id] for node_id in room.carry.arguments]
    return tuple(
        _carried(
            room.nodes[node_id],
            [a for a in chosen if a.parent == node_id and _standing(a)],
        )
        for node_id in room.carry.positions
        if _standing(room.nodes[node_id])
    )


def _default_carry(room: Room) -> tuple[CarriedPosition, ...]:
    """Every standing position, with its most endorsed argument on each side (the earliest
    among equals)."""
    carried = []
    for position in room.nodes.values():
        if position.kind != "position" or not _standing(position):
            continue
        best = []
        for stance in ("for", "against"):
            side = [
                node
                for node in room.nodes.values()
                if node.kind == "argument"
                and node.parent == position.id
                and node.stance == stance
                and _standing(node)
            ]
            if side:
                best.append(min(side, key=lambda n: (-len(n.endorsers), n.posted_at_ms)))
        carried.append(_carried(position, best))
    return tuple(carried)


@evolves(PositionsCarried)
def positions_carried(state: Assembly, event: PositionsCarried) -> None:
    for position in event.positions:
        entry = MapEntry(
            id=entry_id(event.from_room, position.node_id),
            round_id=event.round_id,
            room=event.from_room,
            room_name=event.room_name,
            node_id=position.node_id,
            text=position.text,
            endorsements=position.endorsements,
            arguments=[
                MapArgument(a.node_id, a.stance, a.text, a.endorsements) for a in position.arguments
            ],
            marked_by=event.marked_by,
        )
        state.carried[entry.id] = entry
        # A position taken from the map comes back under the entry it was taken from.
        if position.origin is not None and position.origin in state.carried:
            entry.merged_into = canonical(state, position.origin)
    state.carry_objections[event.from_room] = [
        Objection(o.participant, o.reason, o.at_ms) for o in event.objections
    ]


# --- The plenary's merged map ---------------------------------------------------------------


@decides(
    ProposeMerges,
    yields=(MergeProposed,),
    refusals=(ErrorCode.INVALID_ROUND, ErrorCode.INVALID_MERGE),
)
def propose_merges(d: Decision, command: ProposeMerges) -> None:
    """Idempotent per round: several server processes may each propose after the same recall,
    and only the first one's proposals are kept."""
    if not any(r.id == command.round_id and r.closed for r in d.state.rounds):
        raise Refusal(ErrorCode.INVALID_ROUND, f"{command.round_id} is no round that has closed")
    if any(p.round_id == command.round_id for p in d.state.merge_proposals.values()):
        return
    if len(command.candidates) > MAX_MERGE_PROPOSALS:
        raise Refusal(ErrorCode.INVALID_MERGE, f"at most {MAX_MERGE_PROPOSALS} proposals")
    for candidate in command.candidates:
        if candidate.first not in d.state.carried or candidate.second not in d.state.carried:
            raise Refusal(ErrorCode.INVALID_MERGE, "proposals pair carried positions")
        if candidate.first == candidate.second:
            raise Refusal(ErrorCode.INVALID_MERGE, "a position cannot duplicate itself")
        if not 0.0 <= candidate.similarity <= 1.0:
            raise Refusal(ErrorCode.INVALID_MERGE, "similarity is between 0 and 1")
        if len(candidate.shared) > MAX_SHARED_TERMS or any(
            len(term) > MAX_LABEL_CHARS for term in candidate.shared
        ):
            raise Refusal(ErrorCode.INVALID_MERGE, f"at most {MAX_SHARED_TERMS} shared terms")
    for candidate in command.candidates:
        envelope = d.at(ASSEMBLY_STREAM)
        d.emit(
            MergeProposed(
                **envelope,
                proposal_id=f"m{envelope['seq']}",
                round_id=command.round_id,
                first=candidate.first,
                second=candidate.second,
                similarity=candidate.similarity,
                shared=candidate.shared,
            )
        )


@evolves(MergeProposed)
def merge_proposed(state: Assembly, event: MergeProposed) -> None:
    state.merge_proposals[event.proposal_id] = MergeProposal(
        event.proposal_id,
        event.round_id,
        event.first,
        event.second,
        event.similarity,
        list(event.shared),
    )


def _open_proposal(state: Assembly, proposal_id: str) -> MergeProposal:
    proposal = state.merge_proposals.get(proposal_id)
    if proposal is None:
        raise Refusal(ErrorCode.PROPOSAL_NOT_FOUND, proposal_id)
    if proposal.status != "open":
        raise Refusal(ErrorCode.PROPOSAL_DECIDED, f"{proposal_id} was {proposal.status}")
    return proposal


@decides(
    ConfirmMerge,
    yields=(MergeConfirmed,),
    refusals=(ErrorCode.PROPOSAL_NOT_FOUND, ErrorCode.PROPOSAL_DECIDED),
)
def confirm_merge(d: Decision, command: ConfirmMerge) -> None:
    proposal = _open_proposal(d.state, command.proposal_id)
    d.emit(MergeConfirmed(**d.at(ASSEMBLY_STREAM), proposal_id=proposal.id))


@evolves(MergeConfirmed)
def merge_confirmed(state: Assembly, event: MergeConfirmed) -> None:
    proposal = _decided(state, event.proposal_id, "confirmed", event.actor)
    into = canonical(state, proposal.first)
    moved = canonical(state, proposal.second)
    if into == moved:
        return
    # The second's whole group follows it under the first's: no chain of merges ever forms.
    for entry in state.carried.values():
        if entry.id == moved or entry.merged_into == moved:
            entry.merged_into = into


@decides(
    RejectMerge,
    yields=(MergeRejected,),
    refusals=(ErrorCode.PROPOSAL_NOT_FOUND, ErrorCode.PROPOSAL_DECIDED),
)
def reject_merge(d: Decision, command: RejectMerge) -> None:
    proposal = _open_proposal(d.state, command.proposal_id)
    d.emit(MergeRejected(**d.at(ASSEMBLY_STREAM), proposal_id=proposal.id))


@evolves(MergeRejected)
def merge_rejected(state: Assembly, event: MergeRejected) -> None:
    _decided(state, event.proposal_id, "rejected", event.actor)


def _decided(state: Assembly, proposal_id: str, status: str, actor: str) -> MergeProposal:
    """Mark a proposal as the lead decided it."""
    proposal = state.merge_proposals[proposal_id]
    proposal.status = status
    proposal.decided_by = actor
    return proposal


def map_groups(state: Assembly) -> list[list[MapEntry]]:
    """The plenary's map as groups: each standing entry first, then the entries merged under
    it, in the order they were carried. Every carried entry is in exactly one group."""
    groups: dict[str, list[MapEntry]] = {}
    for entry in state.carried.values():
        groups.setdefault(canonical(state, entry.id), []).append(entry)
    return [sorted(group, key=lambda e: e.merged_into is not None) for group in groups.values()]
