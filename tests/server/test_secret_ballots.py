"""Secret ballots stay secret at rest: the log, the snapshots, the export and a dump of the
database hold each secret vote under a ballot id, never under its voter, while the totals stay
right and can be checked from the exported log."""

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from facilitation import PLENARY_ROOM
from facilitation.codec import encode_state
from facilitation.record import verify_chain
from facilitation.roles import BALLOT_ACTOR
from server.settings import Settings
from tests.server.harness import Client, LiveServer, acked, connected, demo_people, serving
from tests.server.harness import settings_for as harness_settings

P = PLENARY_ROOM
JURORS = ("j1", "j2", "j3")
# Every secret vote in the order cast: j1 changes their mind, j2 votes the same twice.
SECRET_VOTES = [("j1", [0]), ("j2", [1]), ("j3", [0]), ("j1", [1]), ("j2", [1])]
# The last choice of each juror, added up per option ("Yes", "No").
SECRET_TOTALS = [1, 2]


def settings_for(database_url: str, tmp_path: Path) -> Settings:
    # A snapshot after every commit, so every state a vote passes through is saved.
    return harness_settings(database_url, tmp_path, snapshot_every_events=1)


@dataclass
class Polls:
    secret: str
    public: str


async def vote_in_both_polls(server: LiveServer) -> Polls:
    """A secret poll with changed and repeated votes, closed; an open poll with one vote."""
    tokens = await demo_people(server.organiser, jurors=len(JURORS))
    async with connected(server.url, token=tokens["f1"]) as f1:
        secret = await open_poll(f1, secret=True)
        public = await open_poll(f1, secret=False)
        for juror, choices in SECRET_VOTES:
            async with connected(server.url, token=tokens[juror]) as client:
                await acked(client, "vote", room=P, poll_id=secret, choices=choices)
        async with connected(server.url, token=tokens["j1"]) as client:
            await acked(client, "vote", room=P, poll_id=public, choices=[0])
        await acked(f1, "close_poll", room=P, poll_id=secret)
    return Polls(secret, public)


async def open_poll(client: Client, *, secret: bool) -> str:
    seq = await acked(
        client,
        "open_poll",
        room=P,
        question="Cap rents?",
        kind="single",
        options=["Yes", "No"],
        secret=secret,
    )
    return f"p{seq}"


async def dump(database_url: str, query: str) -> list[dict[str, Any]]:
    """Rows read with plain SQL, as anyone holding a copy of the database could."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(query))
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


def names_a_juror(data: Any) -> bool:
    flat = json.dumps(data) if not isinstance(data, str) else data
    return any(juror in flat for juror in JURORS)


def secret_votes(records: list[dict[str, Any]], poll_id: str) -> list[dict[str, Any]]:
    return [
        record["event"]
        for record in records
        if record["event"]["type"] == "vote_cast" and record["event"]["poll_id"] == poll_id
    ]


async def test_a_database_dump_holds_no_voter_of_a_secret_poll(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(database_url, tmp_path)) as server:
        polls = await vote_in_both_polls(server)

    rows = await dump(database_url, "SELECT actor, body FROM event WHERE type = 'vote_cast'")
    secret = [row for row in rows if json.loads(row["body"])["poll_id"] == polls.secret]
    assert len(secret) == len(SECRET_VOTES)
    for row in secret:
        assert row["actor"] == BALLOT_ACTOR
        assert not names_a_juror(row["body"]), row
    snapshots = await dump(database_url, "SELECT body FROM snapshot")
    assert snapshots
    for snapshot in snapshots:
        polls_saved = json.loads(snapshot["body"])["rooms"][P]["polls"]
        if polls.secret in polls_saved:
            assert not names_a_juror(polls_saved[polls.secret])


async def test_the_live_snapshot_and_the_export_hold_no_voter_of_a_secret_poll(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        polls = await vote_in_both_polls(server)
        runtime = server.palabre.hub.live_runtime("jury")
        assert runtime is not None
        saved = await runtime.read(encode_state)
        record = await server.organiser.export("jury")

    assert not names_a_juror(saved["rooms"][P]["polls"][polls.secret])
    assert record["problems"] == []
    votes = secret_votes(record["records"], polls.secret)
    assert len(votes) == len(SECRET_VOTES)
    assert not names_a_juror(votes)


async def test_secret_totals_count_each_ballots_last_vote_and_can_be_checked_from_the_export(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        polls = await vote_in_both_polls(server)
        record = await server.organiser.export("jury")

    (closed,) = [r["event"] for r in record["records"] if r["event"]["type"] == "poll_closed"]
    assert (closed["totals"], closed["voters"]) == (SECRET_TOTALS, len(JURORS))
    # Anyone holding the export can add the totals up again: the last vote of each ballot.
    last = {
        vote["ballot"]: vote["choices"] for vote in secret_votes(record["records"], polls.secret)
    }
    counted = Counter(choice for choices in last.values() for choice in choices)
    assert [counted[0], counted[1]] == closed["totals"]
    assert len(last) == closed["voters"]
    assert verify_chain(record["records"]) == []


async def test_a_secret_vote_changed_after_a_restart_replaces_the_same_ballot(
    sqlite_url: str, tmp_path: Path
) -> None:
    """The ballot key comes from the server's secret, so it is the same after a restart."""
    settings = settings_for(sqlite_url, tmp_path)
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser, jurors=len(JURORS))
        async with connected(server.url, token=tokens["f1"]) as f1:
            poll = await open_poll(f1, secret=True)
        async with connected(server.url, token=tokens["j1"]) as j1:
            await acked(j1, "vote", room=P, poll_id=poll, choices=[0])
    async with serving(settings) as restarted:
        async with connected(restarted.url, token=tokens["j1"]) as j1:
            await acked(j1, "vote", room=P, poll_id=poll, choices=[1])
        async with connected(restarted.url, token=tokens["f1"]) as f1:
            seq = await acked(f1, "close_poll", room=P, poll_id=poll)
            await f1.wait_seq(P, seq)
            (closed,) = [e for e in f1.applied[P] if e["type"] == "poll_closed"]
    assert (closed["totals"], closed["voters"]) == ([0, 1], 1)


async def test_an_open_poll_still_records_who_voted_what(sqlite_url: str, tmp_path: Path) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        polls = await vote_in_both_polls(server)
        record = await server.organiser.export("jury")

    (vote,) = secret_votes(record["records"], polls.public)
    assert (vote["actor"], vote["choices"], vote["ballot"]) == ("j1", [0], "")


async def test_nobody_is_sent_a_ballot_id_nor_who_voted_in_a_secret_poll(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as server:
        tokens = await demo_people(server.organiser, jurors=len(JURORS))
        async with (
            connected(server.url, token=tokens["f1"]) as f1,
            connected(server.url, token=tokens["j1"]) as j1,
            connected(server.url, token=tokens["obs"]) as observer,
        ):
            poll = await open_poll(f1, secret=True)
            seq = await acked(j1, "vote", room=P, poll_id=poll, choices=[1])
            for client in (f1, j1, observer):
                await client.wait_seq(P, seq)
                (cast,) = [e for e in client.applied[P] if e["type"] == "vote_cast"]
                assert "ballot" not in cast
                assert (cast["actor"], cast["choices"], cast["voters"]) == ("", [], 1)
