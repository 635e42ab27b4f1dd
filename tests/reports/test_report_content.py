"""A report built from a recorded session holds what happened: the positions and arguments with
their endorsements, each juror's floor time, the polls, every moderation act with its reason,
and the hash chain's heads; the public one names no juror of a pseudonymous assembly, shows no
hidden text and no private note, and no report ever shows a secret ballot."""

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from facilitation.record import GENESIS_HASH, canonical_json, chain_hash, verify_export
from server.reports.model import (
    COLLECTORS,
    CarriedItem,
    Gatherer,
    Report,
    Scope,
    ScopeNotFound,
    build_report,
)
from server.reports.render import all_files, csv_files, render_html, transcript
from tests.fixtures.report_session import (
    ANNOUNCEMENT,
    HIDE_REASON,
    JURORS,
    MUTE_REASON,
    OPEN_POLL,
    REMOVE_REASON,
    SECRET_POLL,
    Session,
    recorded_session,
)


@pytest.fixture(scope="module")
def session() -> Session:
    return recorded_session()


@pytest.fixture(scope="module")
def full(session: Session) -> Report:
    return build_report(session.export, Scope.of())


@pytest.fixture(scope="module")
def public(session: Session) -> Report:
    return build_report(session.export, Scope.of(), public=True)


def rows(text: str) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))[1:]


def visible(html: str) -> str:
    """The page's text without its markup, whitespace folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_report_lists_every_position_and_argument_with_its_endorsements(
    session: Session, full: Report
) -> None:
    text = visible(render_html(full, "en"))
    for words in [*session.positions.values(), *session.arguments.values()]:
        assert words in text
    first = next(room for room in full.rooms if room.id == session.rooms[0])
    endorsed = {node.text: len(node.endorsers) for node in first.nodes.values()}
    assert endorsed["Hundreds of families wait for a flat"] == 3
    assert endorsed["Convert empty offices into social housing"] == 1
    assert re.search(r"Hundreds of families wait for a flat — [^·]+ · 3 endorsements", text)


def test_the_argument_map_is_a_tree_of_question_positions_arguments_and_replies(
    session: Session, full: Report
) -> None:
    first = next(room for room in full.rooms if room.id == session.rooms[0])
    (question,) = first.roots
    (position,) = first.children(question.id)
    stances = sorted(str(child.stance) for child in first.children(position.id))
    assert stances == ["against", "against", "for"]
    html = render_html(full, "en")
    # Nested lists: the reply sits inside the argument it answers.
    assert re.search(
        r"Offices lack light and plumbing for homes.*?<ul>\s*<li class=\"node reply", html, re.S
    )


def test_the_report_gives_each_jurors_floor_time_and_turns(session: Session, full: Report) -> None:
    for room in full.rooms:
        if room.id not in session.spoken_ms:
            continue
        spoken = {s.participant: s.spoken_ms for s in room.fairness.speakers if s.spoken_ms}
        assert spoken == session.spoken_ms[room.id]
    turns = rows(csv_files(full)["turns.csv"])
    assert len(turns) == 6
    by_speaker: dict[str, int] = {}
    for turn in turns:
        by_speaker[turn[2]] = by_speaker.get(turn[2], 0) + int(turn[7])
    expected = {j: ms for spoken in session.spoken_ms.values() for j, ms in spoken.items()}
    assert by_speaker == expected
    a = session.members[session.rooms[0]][0]
    # Two turns, 1:30 and 0:30: two minutes in the table, the name as the organiser knows it.
    assert re.search(rf"{JURORS[a][0]}</td><td>2</td><td>2:00</td>", render_html(full, "en"))


def test_the_report_says_how_long_the_session_and_the_floor_lasted(full: Report) -> None:
    text = visible(render_html(full, "en"))
    assert "From 2025-11-25 09:00:00 to 2025-11-25 09:11:05 (UTC)" in text
    # 90 + 45 + 30 + 60 + 120 + 40 seconds of floor time.
    assert "Floor time 6:25" in text
    assert "Speaking turns 6" in text


def test_the_report_keeps_every_moderation_act_with_its_reason(
    full: Report, public: Report
) -> None:
    for report in (full, public):
        text = visible(render_html(report, "en"))
        for reason in (HIDE_REASON, MUTE_REASON, REMOVE_REASON):
            assert reason in text
        acts = rows(csv_files(report)["moderation.csv"])
        assert sorted(act[3] for act in acts) == ["muted", "post_hidden", "removed"]
        assert {act[5] for act in acts} == {HIDE_REASON, MUTE_REASON, REMOVE_REASON}


def test_the_report_shows_poll_totals_and_never_a_secret_ballot(
    session: Session, full: Report, public: Report
) -> None:
    first = next(room for room in full.rooms if room.id == session.rooms[0])
    totals = {poll.question: sorted(poll.votes.values()) for poll in first.polls}
    assert totals[OPEN_POLL] == [(0,), (0,), (1,)]
    for report in (full, public):
        votes = rows(csv_files(report)["votes.csv"])
        assert {vote[2] for vote in votes} == {OPEN_POLL}
        assert len(votes) == len(session.open_votes)
        files = all_files(report, "en")
        ballots = [r["event"].get("ballot") for r in session.export["records"]]
        for ballot in filter(None, ballots):
            assert all(ballot not in content for content in files.values())
        assert SECRET_POLL in files["report.html"]
    assert "3 voters" in visible(render_html(public, "en"))


def test_the_public_report_of_a_pseudonymous_assembly_names_no_juror(
    session: Session, public: Report
) -> None:
    files = all_files(public, "en")
    for name, _ in JURORS.values():
        for file, content in files.items():
            assert name not in content, f"{name} in the public {file}"
    assert "Juror 1" in files["report.html"]
    # Ids can be names too ("ana.silva"): a juror is a pseudonym in every column.
    for juror in JURORS:
        assert not re.search(rf"(^|,){juror}(,|$)", files["turns.csv"], re.M)


def test_the_full_report_names_jurors_as_the_organiser_knows_them(full: Report) -> None:
    html = render_html(full, "en")
    for juror, (name, _) in JURORS.items():
        assert name in html, juror


def test_the_public_report_leaves_out_hidden_text_but_keeps_the_reason(
    session: Session, full: Report, public: Report
) -> None:
    public_files = all_files(public, "en")
    assert all(session.hidden_text not in content for content in public_files.values())
    assert "Hidden by a facilitator" in public_files["report.html"]
    assert HIDE_REASON in public_files["posts.csv"]
    assert session.hidden_text in render_html(full, "en")
    assert session.hidden_text in csv_files(full)["posts.csv"]


def test_the_report_ends_with_the_hash_chain_heads_palabre_verify_checks(
    session: Session, full: Report
) -> None:
    records: list[dict[str, Any]] = session.export["records"]
    last = {record["event"]["room"]: record["hash"] for record in records}
    assert {head.stream: head.hash for head in full.heads} == last
    html = render_html(full, "en")
    for digest in last.values():
        assert digest in html
    assert "palabre verify record.json" in html
    assert "hash chain was intact" in html
    assert verify_export(session.export).problems == []


def test_a_broken_record_is_reported_as_broken(session: Session) -> None:
    broken = copy.deepcopy(session.export)
    records: list[dict[str, Any]] = broken["records"]
    records[1]["body"] = records[1]["body"].replace("Lea", "Leo")
    records[1]["event"] = json.loads(records[1]["body"])
    report = build_report(broken, Scope.of())
    assert report.problems
    assert "The record is broken" in render_html(report, "en")


def test_a_room_report_and_a_round_report_hold_their_rooms_only(session: Session) -> None:
    first, second = session.rooms
    room = build_report(session.export, Scope.of(room=first))
    assert [r.id for r in room.rooms] == [first]
    assert "Tax long-empty homes" not in render_html(room, "en")
    assert {head.stream for head in room.heads} == {first}
    round_report = build_report(session.export, Scope.of(round_id=first.split("-")[0]))
    assert [r.id for r in round_report.rooms] == [first, second]
    with pytest.raises(ScopeNotFound):
        build_report(session.export, Scope.of(room="nowhere"))


def test_the_transcript_lists_what_was_said_in_order(session: Session, public: Report) -> None:
    text = transcript(public, "en")
    positions = [text.index(said) for said in session.statements]
    assert positions == sorted(positions)
    assert ANNOUNCEMENT in text
    speaker = public.state.participants[session.members[session.rooms[0]][0]].pseudonym
    assert f"{speaker}: Empty offices could become flats within a year." in text


def test_csv_files_have_one_row_per_statement_post_endorsement_and_act(
    session: Session, full: Report
) -> None:
    files = csv_files(full)
    assert len(rows(files["statements.csv"])) == len(session.statements)
    # Each room's question and position; room 1's three arguments (one hidden) and a reply.
    assert len(rows(files["posts.csv"])) == 2 + 2 + 3 + 1
    assert len(rows(files["endorsements.csv"])) == 4
    assert len(rows(files["moderation.csv"])) == 3


def test_the_report_is_in_french_when_asked(full: Report) -> None:
    text = visible(render_html(full, "fr"))
    assert "Carte des arguments" in text
    assert "Temps de parole par personne" in text
    assert "Vérifier ce rapport avec le registre" in text


def test_charts_are_svg_drawn_on_the_server_and_the_page_has_no_script(full: Report) -> None:
    html = render_html(full, "en")
    assert "<script" not in html
    # Per room: speaking time, strata, fairness over time, and the open and secret poll's bars.
    assert html.count("<svg") >= 2 + 2 * 3 + 2
    assert "Fairness over time" in html


def test_strata_compare_floor_time_with_seats(session: Session, full: Report) -> None:
    first = next(room for room in full.rooms if room.id == session.rooms[0])
    shares = {(s.attribute, s.value): s for s in first.strata}
    spoken = session.spoken_ms[first.id]
    total = sum(spoken.values())
    members = session.members[first.id]
    for (attribute, value), share in shares.items():
        holders = [j for j in members if JURORS[j][1][attribute] == value]
        assert share.seats == len(holders)
        assert share.speaking_share == pytest.approx(sum(spoken.get(j, 0) for j in holders) / total)


def _append(document: dict[str, Any], body: dict[str, Any]) -> None:
    """A record of a kind this palabre may not know, chained at the end of its stream."""
    records: list[dict[str, Any]] = document["records"]
    same = [r for r in records if r["event"]["room"] == body["room"]]
    prev = same[-1]["hash"] if same else GENESIS_HASH
    body = {**body, "seq": len(same) + 1}
    text = canonical_json(body)
    records.append(
        {
            "position": len(records) + 1,
            "event": body,
            "body": text.decode(),
            "prev_hash": prev,
            "hash": chain_hash(prev, text),
        }
    )


@pytest.fixture
def carried_collector() -> Iterator[None]:
    def read(gatherer: Gatherer, body: Any) -> None:
        gatherer.carried.append(
            CarriedItem(
                body["room"], "r13", "position", body["text"], body["actor"], body["at_ms"], None
            )
        )

    COLLECTORS["position_carried"] = read
    yield
    del COLLECTORS["position_carried"]


def test_events_of_an_unknown_kind_are_counted_and_skipped(session: Session) -> None:
    document = copy.deepcopy(session.export)
    first = session.rooms[0]
    _append(
        document,
        {
            "type": "merged_map_shown",
            "room": first,
            "actor": "lead",
            "at_ms": 1_764_061_900_000,
        },
    )
    report = build_report(document, Scope.of())
    assert report.unknown == {"merged_map_shown": 1}
    assert report.problems == []
    assert "merged_map_shown" in render_html(report, "en")


def test_a_collector_reads_carried_positions_into_the_report(
    session: Session, carried_collector: None
) -> None:
    document = copy.deepcopy(session.export)
    _append(
        document,
        {
            "type": "position_carried",
            "room": session.rooms[0],
            "actor": "f1",
            "at_ms": 1_764_061_900_000,
            "text": "Convert empty offices",
        },
    )
    report = build_report(document, Scope.of(), public=True)
    # Beside what the rooms carried at the recall (read by server/reports/carried.py).
    assert [item.text for item in report.carried if item.kind == "position"][-1] == (
        "Convert empty offices"
    )
    text = visible(render_html(report, "en"))
    assert "Carried to the plenary" in text
    assert "Convert empty offices — r13-1, r13, marked by Fatou Diallo" in text


def test_the_report_lists_what_each_room_carried_to_the_plenary(
    session: Session, full: Report
) -> None:
    # Nobody proposed a carry in this session: at the recall each room carried every standing
    # position, and the report says so.
    positions = [item for item in full.carried if item.kind == "position"]
    assert {item.room for item in positions} == set(session.rooms)
    assert "Convert empty offices into social housing" in [item.text for item in positions]
    text = visible(render_html(full, "en"))
    assert "Carried to the plenary" in text
    assert "Convert empty offices into social housing — " in text
    assert "every standing position (no proposal)" in text
    french = visible(render_html(full, "fr"))
    assert "Porté en plénière" in french
    assert "toutes les positions en lice (aucune proposition)" in french
