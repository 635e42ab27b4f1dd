"""Argument threads: a question, positions answering it, arguments for and against, replies."""

from facilitation.commands import (
    Endorse,
    HidePost,
    LinkTurn,
    MergeNodes,
    PoseQuestion,
    PostArgument,
    PostPosition,
    PostReply,
    UnhidePost,
    WithdrawEndorsement,
)
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    ArgumentPosted,
    EndorsementAdded,
    EndorsementWithdrawn,
    NodesMerged,
    PositionPosted,
    PostHidden,
    PostUnhidden,
    QuestionPosed,
    ReplyPosted,
    TurnLinked,
)
from facilitation.registry import (
    Decision,
    clean_reason,
    clean_text,
    decides_in_room,
    evolves,
    role_of,
)
from facilitation.roles import Role
from facilitation.state import Assembly, Node, Room

POST_REFUSALS = (
    ErrorCode.MUTED,
    ErrorCode.ROOM_LOCKED,
    ErrorCode.TEXT_EMPTY,
    ErrorCode.TEXT_TOO_LONG,
)
PARENT_REFUSALS = (ErrorCode.NODE_NOT_FOUND, ErrorCode.INVALID_PARENT, ErrorCode.NODE_HIDDEN)


def _check_can_post(d: Decision, room: Room, text: str) -> str:
    """Moderators may post in a locked room; a muted juror may not post at all."""
    if role_of(d.state, d.actor) is Role.JUROR:
        if d.actor in room.muted:
            raise Refusal(ErrorCode.MUTED)
        if room.locked:
            raise Refusal(ErrorCode.ROOM_LOCKED)
    return clean_text(text)


def _node(room: Room, node_id: str) -> Node:
    node = room.nodes.get(node_id)
    if node is None:
        raise Refusal(ErrorCode.NODE_NOT_FOUND, node_id)
    return node


def _parent(room: Room, node_id: str, kinds: tuple[str, ...]) -> Node:
    node = _node(room, node_id)
    if node.kind not in kinds:
        raise Refusal(ErrorCode.INVALID_PARENT, f"{node_id} is a {node.kind}")
    if node.hidden:
        raise Refusal(ErrorCode.NODE_HIDDEN, node_id)
    return node


@decides_in_room(
    PoseQuestion,
    yields=(QuestionPosed,),
    refusals=(ErrorCode.TEXT_EMPTY, ErrorCode.TEXT_TOO_LONG),
)
def pose_question(d: Decision, room: Room, command: PoseQuestion) -> None:
    text = _check_can_post(d, room, command.text)
    envelope = d.at(room.id)
    d.emit(QuestionPosed(**envelope, node_id=f"n{envelope['seq']}", text=text))


@decides_in_room(PostPosition, yields=(PositionPosted,), refusals=POST_REFUSALS + PARENT_REFUSALS)
def post_position(d: Decision, room: Room, command: PostPosition) -> None:
    text = _check_can_post(d, room, command.text)
    _parent(room, command.question_id, ("question",))
    envelope = d.at(room.id)
    d.emit(
        PositionPosted(
            **envelope, node_id=f"n{envelope['seq']}", question_id=command.question_id, text=text
        )
    )


@decides_in_room(PostArgument, yields=(ArgumentPosted,), refusals=POST_REFUSALS + PARENT_REFUSALS)
def post_argument(d: Decision, room: Room, command: PostArgument) -> None:
    text = _check_can_post(d, room, command.text)
    _parent(room, command.position_id, ("position",))
    envelope = d.at(room.id)
    d.emit(
        ArgumentPosted(
            **envelope,
            node_id=f"n{envelope['seq']}",
            position_id=command.position_id,
            stance=command.stance,
            text=text,
        )
    )


@decides_in_room(PostReply, yields=(ReplyPosted,), refusals=POST_REFUSALS + PARENT_REFUSALS)
def post_reply(d: Decision, room: Room, command: PostReply) -> None:
    text = _check_can_post(d, room, command.text)
    _parent(room, command.parent_id, ("argument", "reply"))
    envelope = d.at(room.id)
    d.emit(
        ReplyPosted(
            **envelope, node_id=f"n{envelope['seq']}", parent_id=command.parent_id, text=text
        )
    )


def _add_node(
    state: Assembly,
    event: QuestionPosed | PositionPosted | ArgumentPosted | ReplyPosted,
    kind: str,
    parent: str | None,
) -> None:
    stance = event.stance if isinstance(event, ArgumentPosted) else None
    origin = event.origin if isinstance(event, PositionPosted) else None
    state.rooms[event.room].nodes[event.node_id] = Node(
        event.node_id, kind, parent, stance, event.actor, event.text, event.at_ms, origin=origin
    )


@evolves(QuestionPosed)
def question_posed(state: Assembly, event: QuestionPosed) -> None:
    _add_node(state, event, "question", None)


@evolves(PositionPosted)
def position_posted(state: Assembly, event: PositionPosted) -> None:
    _add_node(state, event, "position", event.question_id)


@evolves(ArgumentPosted)
def argument_posted(state: Assembly, event: ArgumentPosted) -> None:
    _add_node(state, event, "argument", event.position_id)


@evolves(ReplyPosted)
def reply_posted(state: Assembly, event: ReplyPosted) -> None:
    _add_node(state, event, "reply", event.parent_id)


# --- Endorsements ---------------------------------------------------------------------------


@decides_in_room(
    Endorse,
    yields=(EndorsementAdded,),
    refusals=(
        ErrorCode.NODE_NOT_FOUND,
        ErrorCode.NODE_HIDDEN,
        ErrorCode.OWN_POST,
        ErrorCode.ALREADY_ENDORSED,
    ),
)
def endorse(d: Decision, room: Room, command: Endorse) -> None:
    node = _node(room, command.node_id)
    if node.hidden:
        raise Refusal(ErrorCode.NODE_HIDDEN, command.node_id)
    # An endorsement says "others find this strong": counting one's own would let anyone
    # inflate their post.
    if node.author == d.actor:
        raise Refusal(ErrorCode.OWN_POST, command.node_id)
    if d.actor in node.endorsers:
        raise Refusal(ErrorCode.ALREADY_ENDORSED, command.node_id)
    d.emit(EndorsementAdded(**d.at(room.id), node_id=node.id))


@evolves(EndorsementAdded)
def endorsement_added(state: Assembly, event: EndorsementAdded) -> None:
    state.rooms[event.room].nodes[event.node_id].endorsers.add(event.actor)


@decides_in_room(
    WithdrawEndorsement,
    yields=(EndorsementWithdrawn,),
    refusals=(ErrorCode.NODE_NOT_FOUND, ErrorCode.NOT_ENDORSED),
)
def withdraw_endorsement(d: Decision, room: Room, command: WithdrawEndorsement) -> None:
    node = _node(room, command.node_id)
    if d.actor not in node.endorsers:
        raise Refusal(ErrorCode.NOT_ENDORSED, command.node_id)
    d.emit(EndorsementWithdrawn(**d.at(room.id), node_id=node.id))


@evolves(EndorsementWithdrawn)
def endorsement_withdrawn(state: Assembly, event: EndorsementWithdrawn) -> None:
    state.rooms[event.room].nodes[event.node_id].endorsers.discard(event.actor)


# --- Moderation of posts --------------------------------------------------------------------


@decides_in_room(
    HidePost,
    yields=(PostHidden,),
    refusals=(
        ErrorCode.REASON_REQUIRED,
        ErrorCode.TEXT_TOO_LONG,
        ErrorCode.NODE_NOT_FOUND,
        ErrorCode.NODE_HIDDEN,
    ),
)
def hide(d: Decision, room: Room, command: HidePost) -> None:
    reason = clean_reason(command.reason, required=True)
    node = _node(room, command.node_id)
    if node.hidden:
        raise Refusal(ErrorCode.NODE_HIDDEN, command.node_id)
    d.emit(PostHidden(**d.at(room.id), node_id=node.id, reason=reason))


@evolves(PostHidden)
def post_hidden(state: Assembly, event: PostHidden) -> None:
    node = state.rooms[event.room].nodes[event.node_id]
    node.hidden = True
    node.moderation.append(("hidden", event.actor, event.reason))


@decides_in_room(
    UnhidePost,
    yields=(PostUnhidden,),
    refusals=(
        ErrorCode.REASON_REQUIRED,
        ErrorCode.TEXT_TOO_LONG,
        ErrorCode.NODE_NOT_FOUND,
        ErrorCode.NOT_HIDDEN,
    ),
)
def unhide(d: Decision, room: Room, command: UnhidePost) -> None:
    reason = clean_reason(command.reason, required=True)
    node = _node(room, command.node_id)
    if not node.hidden:
        raise Refusal(ErrorCode.NOT_HIDDEN, command.node_id)
    d.emit(PostUnhidden(**d.at(room.id), node_id=node.id, reason=reason))


@evolves(PostUnhidden)
def post_unhidden(state: Assembly, event: PostUnhidden) -> None:
    node = state.rooms[event.room].nodes[event.node_id]
    node.hidden = False
    node.moderation.append(("unhidden", event.actor, event.reason))


@decides_in_room(
    MergeNodes,
    yields=(NodesMerged,),
    refusals=(ErrorCode.NODE_NOT_FOUND, ErrorCode.INVALID_MERGE),
)
def merge(d: Decision, room: Room, command: MergeNodes) -> None:
    duplicate = _node(room, command.duplicate_id)
    into = _node(room, command.into_id)
    if duplicate.id == into.id:
        raise Refusal(ErrorCode.INVALID_MERGE, "a post cannot duplicate itself")
    if duplicate.kind != into.kind:
        raise Refusal(ErrorCode.INVALID_MERGE, "only posts of the same kind can be merged")
    if duplicate.parent != into.parent:
        raise Refusal(ErrorCode.INVALID_MERGE, "duplicates answer the same post")
    if duplicate.merged_into is not None or into.merged_into is not None:
        raise Refusal(ErrorCode.INVALID_MERGE, "merge into the original, not into a duplicate")
    d.emit(NodesMerged(**d.at(room.id), duplicate_id=duplicate.id, into_id=into.id))


@evolves(NodesMerged)
def nodes_merged(state: Assembly, event: NodesMerged) -> None:
    nodes = state.rooms[event.room].nodes
    nodes[event.duplicate_id].merged_into = event.into_id
    # Duplicates merged into this one follow it, so no chain of merges ever forms.
    for node in nodes.values():
        if node.merged_into == event.duplicate_id:
            node.merged_into = event.into_id


@decides_in_room(
    LinkTurn,
    yields=(TurnLinked,),
    refusals=(ErrorCode.NO_SPEAKER, ErrorCode.NOT_YOUR_TURN, ErrorCode.NODE_NOT_FOUND),
)
def link_turn(d: Decision, room: Room, command: LinkTurn) -> None:
    """A juror links their own turn; a moderator links whoever speaks. Linking twice is a no-op."""
    turn = room.floor
    if turn is None:
        raise Refusal(ErrorCode.NO_SPEAKER)
    if role_of(d.state, d.actor) is Role.JUROR and turn.speaker != d.actor:
        raise Refusal(ErrorCode.NOT_YOUR_TURN)
    node = _node(room, command.node_id)
    if node.id in turn.nodes:
        return
    d.emit(TurnLinked(**d.at(room.id), turn_id=turn.id, node_id=node.id))


@evolves(TurnLinked)
def turn_linked(state: Assembly, event: TurnLinked) -> None:
    room = state.rooms[event.room]
    room.turns[event.turn_id].nodes.append(event.node_id)
    room.nodes[event.node_id].turns.append(event.turn_id)
