"""A report as files people read: one HTML page (jinja2, SVG charts, a print stylesheet), CSV
files and a plain transcript, in English or French.

What observers may not see is left out here, in one place: hidden posts' text, private notes,
and jurors' names in a pseudonymous assembly (`Report.name`). Secret ballots are never listed
by anyone, and their totals show only once the poll has closed.
"""

import csv
import io
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from facilitation.metrics import quietest_stratum
from facilitation.polls import totals
from facilitation.state import Node, Poll
from server.i18n import gettext_for
from server.reports import charts
from server.reports.model import ModerationAct, Report, RoomReport

WEB = Path(__file__).resolve().parents[2] / "web"
STYLESHEET = WEB / "static" / "css" / "report.css"
CSV_FILES = (
    "turns.csv",
    "statements.csv",
    "posts.csv",
    "endorsements.csv",
    "votes.csv",
    "moderation.csv",
)
TRANSCRIPT = "transcript.txt"
FILES = (*CSV_FILES, TRANSCRIPT)


@cache
def _environment(language: str) -> Environment:
    """One environment per language, so its compiled template is kept between reports."""
    gettext = gettext_for(language)
    environment = Environment(
        loader=FileSystemLoader(WEB / "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, lambda singular, plural, n, **v: gettext(singular if n == 1 else plural, **v)
    )
    return environment


def clock(at_ms: int | None) -> str:
    """A moment of the log, in UTC: the record keeps the server's clock, not anyone's zone."""
    if at_ms is None:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def short_clock(at_ms: int | None) -> str:
    return clock(at_ms)[11:16]


def duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def node_text(report: Report, node: Node) -> str | None:
    """A post's words, or None where this report's reader may not see them (hidden)."""
    return None if report.public and node.hidden else node.text


def poll_totals(poll: Poll) -> tuple[int, ...] | None:
    """Votes per option, or None while a secret poll is open (its totals would trace votes)."""
    if poll.secret and poll.open:
        return None
    return totals(poll)


def shown_acts(report: Report, acts: list[ModerationAct]) -> list[ModerationAct]:
    """A private note stays on the public record as having been sent, without its words."""
    if not report.public:
        return acts
    return [
        ModerationAct(act.room, act.at_ms, act.actor, act.action, act.target, "", True)
        if act.private
        else act
        for act in acts
    ]


def target_of(report: Report, act: ModerationAct) -> str:
    """Whom or what an act concerns: people by name, posts by id."""
    people = report.state.participants
    return ", ".join(
        report.name(part) if part in people else part for part in act.target.split(", ")
    )


def _speaking_chart(report: Report, room: RoomReport, title: str) -> Markup:
    rows = sorted(room.fairness.speakers, key=lambda s: (-s.spoken_ms, report.name(s.participant)))
    return charts.bars(
        [charts.Bar(report.name(s.participant), s.spoken_ms, duration(s.spoken_ms)) for s in rows],
        title,
    )


def _strata_chart(
    report: Report, room: RoomReport | None, title: str, first: str, second: str
) -> Markup:
    shares = report.strata if room is None else room.strata
    return charts.pairs(
        [
            charts.Pair(
                f"{share.attribute}: {share.value}",
                share.seat_share,
                share.speaking_share,
                f"{share.seat_share:.0%} / {share.speaking_share:.0%}",
            )
            for share in shares
        ],
        title,
        first,
        second,
    )


def _fairness_chart(
    report: Report, room: RoomReport | None, title: str, first: str, second: str
) -> Markup:
    points = report.over_time if room is None else room.over_time
    return charts.lines(
        [(short_clock(p.at_ms), p.gini, p.share_spoken) for p in points], title, first, second
    )


def _poll_chart(report: Report, poll: Poll, title: str) -> Markup:
    counts = poll_totals(poll) or ()
    return charts.bars(
        [
            charts.Bar(option, count, str(count))
            for option, count in zip(poll.options, counts, strict=True)
        ],
        title,
    )


def render_html(report: Report, language: str, *, nonce: str | None = None) -> str:
    """The whole report as one HTML page with its stylesheet inline, so the file stands alone."""
    return (
        _environment(language)
        .get_template("report.html")
        .render(
            report=report,
            lang=language,
            nonce=nonce or secrets.token_urlsafe(16),
            stylesheet=Markup(STYLESHEET.read_text(encoding="utf-8")),
            clock=clock,
            short_clock=short_clock,
            duration=duration,
            node_text=node_text,
            poll_totals=poll_totals,
            names=lambda ids: ", ".join(report.name(person) for person in ids),
            quietest=quietest_stratum,
            shown_acts=shown_acts,
            target_of=target_of,
            speaking_chart=_speaking_chart,
            strata_chart=_strata_chart,
            fairness_chart=_fairness_chart,
            poll_chart=_poll_chart,
        )
    )


def _csv(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def csv_files(report: Report) -> dict[str, str]:
    """Each table of the report as CSV: ids where the reader may know them, pseudonyms else."""
    ident, name = report.ident, report.name
    turns, statements, posts, endorsements, votes, moderation = [], [], [], [], [], []
    for room in report.rooms:
        for turn in room.turns:
            turns.append(
                [
                    room.id,
                    turn.turn_id,
                    ident(turn.speaker),
                    name(turn.speaker),
                    turn.kind,
                    clock(turn.started_at_ms),
                    clock(turn.ended_at_ms),
                    turn.duration_ms if turn.duration_ms is not None else "",
                    turn.reason,
                ]
            )
        for s in room.statements:
            statements.append(
                [
                    room.id,
                    s.statement_id,
                    s.turn_id or "",
                    ident(s.speaker),
                    name(s.speaker),
                    s.kind,
                    clock(s.at_ms),
                    s.text,
                ]
            )
        for node in room.nodes.values():
            reasons = "; ".join(reason for _, _, reason in node.moderation)
            posts.append(
                [
                    room.id,
                    node.id,
                    node.kind,
                    node.parent or "",
                    node.stance or "",
                    ident(node.author),
                    name(node.author),
                    clock(node.posted_at_ms),
                    node_text(report, node) or "",
                    "yes" if node.hidden else "no",
                    reasons,
                    node.merged_into or "",
                    len(node.endorsers),
                ]
            )
        for e in room.endorsements:
            endorsements.append(
                [room.id, e.node_id, ident(e.juror), name(e.juror), e.action, clock(e.at_ms)]
            )
        polls = {poll.id: poll for poll in room.polls}
        for v in room.votes:
            options = polls[v.poll_id].options
            chosen = "; ".join(options[c] for c in v.choices)
            votes.append(
                [
                    room.id,
                    v.poll_id,
                    polls[v.poll_id].question,
                    ident(v.voter),
                    name(v.voter),
                    chosen,
                    clock(v.at_ms),
                ]
            )
        for act in shown_acts(report, room.moderation):
            target = target_of(report, act)
            moderation.append(
                [
                    room.id,
                    clock(act.at_ms),
                    name(act.actor),
                    act.action,
                    target,
                    act.reason,
                    "yes" if act.private else "no",
                ]
            )
    person = ["participant", "name"]
    return {
        "turns.csv": _csv(
            ["room", "turn", *person, "kind", "started", "ended", "duration_ms", "ended_because"],
            turns,
        ),
        "statements.csv": _csv(
            ["room", "statement", "turn", *person, "kind", "at", "text"], statements
        ),
        "posts.csv": _csv(
            [
                "room",
                "node",
                "kind",
                "parent",
                "stance",
                "author",
                "author_name",
                "posted",
                "text",
                "hidden",
                "moderation_reasons",
                "merged_into",
                "endorsements",
            ],
            posts,
        ),
        "endorsements.csv": _csv(["room", "node", *person, "action", "at"], endorsements),
        "votes.csv": _csv(["room", "poll", "question", *person, "choices", "at"], votes),
        "moderation.csv": _csv(
            ["room", "at", "by", "action", "target", "reason", "private"], moderation
        ),
    }


def transcript(report: Report, language: str) -> str:
    """What was said, room by room, in the order it was said, with the lead's announcements."""
    gettext = gettext_for(language)
    lines = [report.title, "=" * len(report.title), ""]
    if report.announcements:
        lines += [gettext("Announcements"), ""]
        lines += [f"[{clock(at)}] {text}" for at, text in report.announcements]
        lines.append("")
    for room in report.rooms:
        lines += [f"{room.name} ({room.id})", "-" * (len(room.name) + len(room.id) + 3)]
        for s in room.statements:
            marker = " (interjection)" if s.kind == "interjection" else ""
            lines.append(f"[{clock(s.at_ms)}] {report.name(s.speaker)}{marker}: {s.text}")
        if not room.statements:
            lines.append(gettext("Nothing was said in writing in this room."))
        lines.append("")
    return "\n".join(lines)


def all_files(report: Report, language: str) -> dict[str, str]:
    """Every file of a report by name: `report.html`, the CSV files and the transcript."""
    return {
        "report.html": render_html(report, language),
        **csv_files(report),
        TRANSCRIPT: transcript(report, language),
    }
