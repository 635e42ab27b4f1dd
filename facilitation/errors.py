"""The refusal a command meets, with the stable error codes clients can rely on."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes: clients and translations key on these, so never rename one."""

    FORBIDDEN = "forbidden"
    ASSEMBLY_EXISTS = "assembly_exists"
    NO_ASSEMBLY = "no_assembly"
    UNKNOWN_PARTICIPANT = "unknown_participant"
    PARTICIPANT_EXISTS = "participant_exists"
    INVALID_PARTICIPANT = "invalid_participant"
    ROOM_NOT_FOUND = "room_not_found"
    ROOM_CLOSED = "room_closed"
    ROOM_LOCKED = "room_locked"
    ROOM_PAUSED = "room_paused"
    ROOM_NOT_PAUSED = "room_not_paused"
    ALREADY_LOCKED = "already_locked"
    NOT_LOCKED = "not_locked"
    NOT_IN_ROOM = "not_in_room"
    ALREADY_IN_ROOM = "already_in_room"
    MUTED = "muted"
    ALREADY_MUTED = "already_muted"
    NOT_MUTED = "not_muted"
    ALREADY_IN_QUEUE = "already_in_queue"
    NOT_IN_QUEUE = "not_in_queue"
    ALREADY_SPEAKING = "already_speaking"
    QUEUE_EMPTY = "queue_empty"
    INVALID_ORDER = "invalid_order"
    FLOOR_TAKEN = "floor_taken"
    NO_SPEAKER = "no_speaker"
    NOT_YOUR_TURN = "not_your_turn"
    REPLY_NOT_ALLOWED = "reply_not_allowed"
    REPLY_LANE_FULL = "reply_lane_full"
    ALREADY_REPLYING = "already_replying"
    NOT_REPLYING = "not_replying"
    INVALID_RULES = "invalid_rules"
    INVALID_DURATION = "invalid_duration"
    TEXT_EMPTY = "text_empty"
    TEXT_TOO_LONG = "text_too_long"
    REASON_REQUIRED = "reason_required"
    NODE_NOT_FOUND = "node_not_found"
    INVALID_PARENT = "invalid_parent"
    NODE_HIDDEN = "node_hidden"
    NOT_HIDDEN = "not_hidden"
    ALREADY_ENDORSED = "already_endorsed"
    OWN_POST = "own_post"
    NOT_ENDORSED = "not_endorsed"
    INVALID_MERGE = "invalid_merge"
    AGENDA_ITEM_NOT_FOUND = "agenda_item_not_found"
    AGENDA_FINISHED = "agenda_finished"
    NO_CURRENT_ITEM = "no_current_item"
    POLL_NOT_FOUND = "poll_not_found"
    POLL_CLOSED = "poll_closed"
    INVALID_POLL = "invalid_poll"
    INVALID_CHOICE = "invalid_choice"
    ROUND_IN_PROGRESS = "round_in_progress"
    NO_ROUND_PROPOSED = "no_round_proposed"
    NO_ROUND_RUNNING = "no_round_running"
    NO_RECALL = "no_recall"
    INVALID_ROUND = "invalid_round"
    INVALID_VOICE_RECORD = "invalid_voice_record"


class Refusal(Exception):
    """A command the rules do not allow. Raised by `decide`; the state is unchanged."""

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail
