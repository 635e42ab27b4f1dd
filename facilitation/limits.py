"""Bounds and defaults of a deliberation, in one place so the docs and the checks agree."""

# Long enough for a considered argument, short enough to read aloud in about two minutes.
MAX_TEXT_CHARS = 2_000
# Names, titles, poll options and reasons are labels, not essays.
MAX_LABEL_CHARS = 200

# A juror's turn: two minutes is the usual citizens' jury default; the warning leaves time to
# conclude a sentence.
DEFAULT_TURN_LIMIT_MS = 120_000
DEFAULT_WARNING_MS = 20_000
# A reply to the speaker is a short direct response, not a second turn.
DEFAULT_REPLY_LIMIT_MS = 30_000
DEFAULT_REPLIES_PER_TURN = 2

# Bounds on what a facilitator may set, so a typo cannot create a four-hour turn.
MIN_TURN_LIMIT_MS = 10_000
MAX_TURN_LIMIT_MS = 30 * 60_000
MAX_REPLIES_PER_TURN = 5
# Agenda items, extensions and round timers: a whole day at most.
MAX_DURATION_MS = 24 * 3_600_000
# The warning before a recall: long enough to finish a sentence, short of a new discussion.
MIN_RECALL_WARNING_MS = 5_000
MAX_RECALL_WARNING_MS = 10 * 60_000

# The period one voice record covers: the server records at least every 10 s, so only a
# broken clock or a garbled record spans more than an hour.
MAX_VOICE_PERIOD_MS = 3_600_000

MAX_POLL_OPTIONS = 20
# The agree-disagree scale used when a scale poll names no options of its own.
AGREEMENT_SCALE = (
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
)

MAX_ATTRIBUTES = 20

# What one room carries back: a handful of positions, a few arguments under each; more would
# not be a report but the whole map again.
MAX_CARRIED_POSITIONS = 20
MAX_CARRIED_ARGUMENTS = 60
# The similar words shown with a merge proposal, and how many proposals one recall may make
# (100 rooms carrying 20 positions each, with a few candidates per position).
MAX_SHARED_TERMS = 12
MAX_MERGE_PROPOSALS = 10_000
