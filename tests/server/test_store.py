"""The store against real databases: the log, its hash chain, conflicts, snapshots and invites."""

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel

from facilitation import PLENARY_ROOM
from facilitation.codec import STATE_VERSION
from facilitation.commands import Broadcast, GrantFloor, RaiseHand
from facilitation.events import AnnouncementBroadcast, HandRaised
from facilitation.record import GENESIS_HASH, verify_chain
from facilitation.upcast import SCHEMA_VERSION_KEY
from server.store import (
    MIGRATIONS_DIR,
    SNAPSHOTS_KEPT,
    SQLITE_BUSY_TIMEOUT_MS,
    AssemblyExists,
    Invite,
    SeqConflict,
    Store,
    UnknownAssembly,
    make_engine,
)
from tests.core.builders import World, assembly

JURY = "jury-2025"
AT_MS = 1_700_000_000_000
NOON = datetime(2025, 11, 25, 12, 0, tzinfo=UTC)


def hand(room: str, seq: int, juror: str = "j1") -> HandRaised:
    return HandRaised(room=room, seq=seq, actor=juror, at_ms=AT_MS + seq, participant=juror)


def lively_world() -> World:
    """An assembly whose log spans two streams and carries text beyond ASCII."""
    world = assembly(jurors=3)
    world.run("lead", Broadcast(text="Bienvenue à tous : on commence — 欢迎"))
    world.run("j1", RaiseHand(room=PLENARY_ROOM))
    world.run("j2", RaiseHand(room=PLENARY_ROOM))
    world.tick(5_000)
    world.run("f1", GrantFloor(room=PLENARY_ROOM))
    return world


def invite(number: int, **changes: Any) -> Invite:
    fields: dict[str, Any] = {
        "id": f"inv{number}",
        "assembly_id": JURY,
        "participant_id": f"j{number}",
        "role": "juror",
        "token_hash": f"{number:064x}",
        "created_at": NOON + timedelta(minutes=number),
        "expires_at": NOON + timedelta(days=30),
        "revoked_at": None,
    }
    return Invite(**(fields | changes))


async def run_sql(database_url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Reach past the store, as another program (or a tamperer) would."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store(database_url)
    await store.start()
    await store.create_assembly(JURY)
    yield store
    await store.close()


async def test_appended_events_read_back_equal_in_order(store: Store) -> None:
    world = lively_world()
    first, rest = world.log[:5], world.log[5:]
    stored = await store.append(JURY, first) + await store.append(JURY, rest)

    assert [s.event for s in stored] == world.log
    positions = [s.position for s in stored]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert await store.events(JURY) == stored
    assert await store.events(JURY, after_position=stored[4].position) == stored[5:]
    for room in ("assembly", PLENARY_ROOM):
        in_room = [s for s in stored if s.event.room == room]
        assert [s.event.seq for s in in_room] == list(range(1, len(in_room) + 1))
        assert await store.stream_events(JURY, room) == in_room
        assert await store.stream_events(JURY, room, after_seq=1, limit=2) == in_room[1:3]


async def test_an_empty_batch_writes_nothing(store: Store) -> None:
    assert await store.append(JURY, []) == []
    assert await store.events(JURY) == []


async def test_the_stored_log_is_a_hash_chain_that_reveals_tampering(
    store: Store, database_url: str
) -> None:
    stored = await store.append(JURY, lively_world().log)
    records = [s.record() for s in await store.events(JURY)]
    assert verify_chain(records) == []
    assert records[0]["prev_hash"] == GENESIS_HASH
    assert records[0]["position"] == stored[0].position

    said = next(s for s in stored if isinstance(s.event, AnnouncementBroadcast))
    await run_sql(
        database_url,
        "UPDATE event SET body = replace(body, 'Bienvenue', 'Adieu') WHERE id = :id",
        id=said.position,
    )
    tampered = await store.events(JURY)
    altered = next(s.event for s in tampered if s.position == said.position)
    assert isinstance(altered, AnnouncementBroadcast) and altered.text.startswith("Adieu")
    problems = verify_chain(s.record() for s in tampered)
    assert problems == [f"assembly#{said.event.seq}: its content does not match its hash"]


async def test_each_body_is_kept_with_its_schema_version_and_exported_verbatim(
    store: Store, database_url: str
) -> None:
    world = lively_world()
    await store.append(JURY, world.log)

    rows = await run_sql(database_url, "SELECT body FROM event ORDER BY id")
    records = [s.record() for s in await store.events(JURY)]
    assert [record["body"] for record in records] == [body for (body,) in rows]
    assert [json.loads(body)[SCHEMA_VERSION_KEY] for (body,) in rows] == [
        event.schema_version for event in world.log
    ]
    assert [record["event"] for record in records] == [json.loads(body) for (body,) in rows]


async def test_a_taken_seq_is_a_conflict_and_nothing_of_the_batch_is_written(
    store: Store,
) -> None:
    before = await store.append(JURY, [hand("r1", 1), hand("r1", 2, "j2")])

    with pytest.raises(SeqConflict):
        await store.append(JURY, [hand("r2", 1), hand("r1", 2, "j3")])
    with pytest.raises(SeqConflict):
        await store.append(JURY, [hand("r1", 4, "j3")])  # a gap is a stale view too

    assert await store.events(JURY) == before
    assert await store.stream_head(JURY, "r2") == (0, GENESIS_HASH)


async def test_of_two_writers_racing_for_the_same_seq_exactly_one_wins(store: Store) -> None:
    await store.append(JURY, [hand("r1", 1)])
    racers = [store.append(JURY, [hand("r1", 2, juror)]) for juror in ("j2", "j3", "j4")]

    outcomes = await asyncio.gather(*racers, return_exceptions=True)

    won = [o for o in outcomes if isinstance(o, list)]
    assert len(won) == 1
    assert all(isinstance(o, SeqConflict) for o in outcomes if o not in won)
    assert [s.event for s in await store.stream_events(JURY, "r1")] == [
        hand("r1", 1),
        won[0][0].event,
    ]


async def test_the_schema_itself_refuses_a_duplicate_seq(store: Store, database_url: str) -> None:
    await store.append(JURY, [hand("r1", 1)])
    with pytest.raises(IntegrityError):
        await run_sql(
            database_url,
            "INSERT INTO event (assembly_id, room, seq, type, actor, at_ms, body, prev_hash, hash)"
            " VALUES (:jury, 'r1', 1, 'hand_raised', 'j9', 0, '{}', '', '')",
            jury=JURY,
        )


async def test_a_batch_over_several_streams_is_all_or_nothing(store: Store) -> None:
    with pytest.raises(SeqConflict):
        await store.append(JURY, [hand("r1", 1), hand("r2", 1), hand("r3", 2)])
    assert await store.events(JURY) == []

    batch = [hand("r1", 1), hand("r2", 1), hand("r1", 2, "j2"), hand("r3", 1)]
    stored = await store.append(JURY, batch)

    assert [s.event for s in await store.events(JURY)] == batch
    assert stored[2].prev_hash == stored[0].hash  # chained within the batch, per stream
    assert stored[1].prev_hash == stored[3].prev_hash == GENESIS_HASH
    assert verify_chain(s.record() for s in stored) == []


async def test_concurrent_writers_of_different_streams_all_commit(store: Store) -> None:
    rooms = [f"r{number}" for number in range(12)]

    async def speak(room: str) -> None:
        for seq in range(1, 4):
            await store.append(JURY, [hand(room, seq)])

    await asyncio.gather(*(speak(room) for room in rooms))

    log = await store.events(JURY)
    assert len(log) == 3 * len(rooms)
    assert verify_chain(s.record() for s in log) == []


async def test_a_writer_that_expects_an_older_position_conflicts(store: Store) -> None:
    first = await store.append(JURY, [hand("r1", 1)], expected_position=0)
    await store.append(JURY, [hand("r2", 1)])

    with pytest.raises(SeqConflict):
        await store.append(JURY, [hand("r3", 1)], expected_position=first[-1].position)
    latest = (await store.events(JURY))[-1].position
    assert (await store.append(JURY, [hand("r3", 1)], expected_position=latest))[0].position


async def test_stream_head_is_the_last_seq_and_hash_of_each_stream(store: Store) -> None:
    assert await store.stream_head(JURY, "r1") == (0, GENESIS_HASH)
    stored = await store.append(JURY, [hand("r1", 1), hand("r2", 1), hand("r1", 2, "j2")])

    assert await store.stream_head(JURY, "r1") == (2, stored[2].hash)
    assert await store.stream_head(JURY, "r2") == (1, stored[1].hash)
    assert await store.stream_head("another-jury", "r1") == (0, GENESIS_HASH)


async def test_assemblies_are_created_once_and_listed(store: Store) -> None:
    await store.create_assembly("second")
    with pytest.raises(AssemblyExists):
        await store.create_assembly(JURY)
    assert await store.assembly_ids() == [JURY, "second"]
    with pytest.raises(UnknownAssembly):
        await store.append("nowhere", [hand("r1", 1)])


async def test_the_latest_snapshot_wins_and_old_ones_are_pruned(
    store: Store, database_url: str
) -> None:
    assert await store.latest_snapshot(JURY) is None
    world = lively_world()
    first = copy.deepcopy(world.state)
    for position in range(1, SNAPSHOTS_KEPT + 3):
        world.run("lead", Broadcast(text=f"snapshot {position}"))
        await store.save_snapshot(JURY, position, world.state)
    newest = SNAPSHOTS_KEPT + 2
    await store.save_snapshot(JURY, 1, first)

    assert await store.latest_snapshot(JURY) == (newest, world.state)
    kept = await run_sql(database_url, "SELECT position FROM snapshot ORDER BY position DESC")
    assert [position for (position,) in kept] == list(range(newest, newest - SNAPSHOTS_KEPT, -1))


async def test_snapshots_this_palabre_cannot_read_are_passed_over_with_a_warning(
    store: Store, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    world = lively_world()
    early = copy.deepcopy(world.state)
    await store.save_snapshot(JURY, 1, early)
    world.run("lead", Broadcast(text="later"))
    await store.save_snapshot(JURY, 2, world.state)
    await store.save_snapshot(JURY, 3, world.state)
    # The latest is of a shape this palabre does not know; the next, of its shape but unreadable.
    await run_sql(database_url, "UPDATE snapshot SET state_version = NULL WHERE position = 3")
    await run_sql(database_url, """UPDATE snapshot SET body = '{"rooms": 7}' WHERE position = 2""")

    with caplog.at_level(logging.WARNING, logger="palabre.store"):
        assert await store.latest_snapshot(JURY) == (1, early)
    assert f"positions 3 (state version None), 2 (state version {STATE_VERSION})" in caplog.text

    await run_sql(database_url, "UPDATE snapshot SET state_version = :v WHERE position = 1", v=99)
    assert await store.latest_snapshot(JURY) is None


async def test_invites_are_added_found_by_hash_and_revoked_once(store: Store) -> None:
    first, second = invite(1), invite(2, participant_id=None, role="observer")
    await store.add_invite(first)
    await store.add_invite(second)

    assert await store.invite_by_hash(first.token_hash) == first
    assert await store.invite_by_hash("f" * 64) is None
    assert await store.invites(JURY) == [first, second]

    assert await store.revoke_invite(second.id, NOON + timedelta(hours=1))
    assert not await store.revoke_invite(second.id, NOON + timedelta(hours=2))
    assert not await store.revoke_invite("unknown", NOON)
    revoked = await store.invite_by_hash(second.token_hash)
    assert revoked is not None and revoked.revoked_at == NOON + timedelta(hours=1)


async def test_instants_come_back_in_utc_and_naive_ones_are_refused(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    await store.add_invite(invite(1, created_at=datetime(2025, 11, 25, 13, 0, tzinfo=paris)))

    found = await store.invite_by_hash(invite(1).token_hash)
    assert found is not None
    assert found.created_at == NOON and found.created_at.tzinfo == UTC
    with pytest.raises(StatementError):
        await store.add_invite(invite(2, expires_at=datetime(2025, 12, 25)))


async def test_everything_survives_a_restart(database_url: str) -> None:
    store = Store(database_url)
    await store.start()
    await store.create_assembly(JURY)
    world = lively_world()
    before = await store.append(JURY, world.log)
    await store.save_snapshot(JURY, before[-1].position, world.state)
    await store.add_invite(invite(1))
    await store.close()

    store = Store(database_url)
    await store.start()
    try:
        assert await store.assembly_ids() == [JURY]
        assert await store.events(JURY) == before
        assert await store.latest_snapshot(JURY) == (before[-1].position, world.state)
        assert await store.invites(JURY) == [invite(1)]
        head_seq, head_hash = await store.stream_head(JURY, PLENARY_ROOM)
        [after] = await store.append(JURY, [hand(PLENARY_ROOM, head_seq + 1, "j3")])
        assert after.prev_hash == head_hash
        assert verify_chain(s.record() for s in await store.events(JURY)) == []
    finally:
        await store.close()


async def test_migrations_run_once_and_match_the_models(database_url: str) -> None:
    for _ in range(2):
        store = Store(database_url)
        await store.start()
        await store.start()  # a second call on a started store changes nothing
        await store.close()

    assert await run_sql(database_url, "SELECT version_num FROM alembic_version") == [("0003",)]

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        found: list[Any] = compare_metadata(context, SQLModel.metadata)
        return found

    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_sqlite_is_set_up_for_a_durable_log(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.start()
    await store.close()
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            settings = {
                pragma: (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    full = 2
    assert settings == {
        "journal_mode": "wal",
        "synchronous": full,
        "foreign_keys": 1,
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    }


@contextlib.contextmanager
def round_trips() -> Iterator[list[str]]:
    """Everything sent to any database meanwhile: each statement, and each BEGIN and COMMIT of
    a transaction (the drivers send those themselves, outside autocommit)."""
    sent: list[str] = []

    def statement(_c: Connection, _cursor: Any, sql: str, *_rest: Any) -> None:
        sent.append(sql.split()[0].upper())

    def boundary(name: str) -> Callable[[Connection], None]:
        def seen(connection: Connection) -> None:
            # Outside autocommit the driver sends them; SQLite's BEGIN is a statement of ours.
            if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                return
            if name == "COMMIT" or connection.dialect.name != "sqlite":
                sent.append(name)

        return seen

    listeners: list[tuple[str, Callable[..., None]]] = [
        ("before_cursor_execute", statement),
        ("begin", boundary("BEGIN")),
        ("commit", boundary("COMMIT")),
    ]
    for name, listener in listeners:
        event.listen(Engine, name, listener)
    try:
        yield sent
    finally:
        for name, listener in listeners:
            event.remove(Engine, name, listener)


async def test_an_append_on_known_heads_is_one_statement_and_one_round_trip(
    store: Store,
) -> None:
    # The first append reads the heads (this process has never seen the log).
    first = await store.append(JURY, [hand("r1", 1), hand("r2", 1)], expected_position=0)

    position = first[-1].position
    for seq in (2, 3):
        with round_trips() as sent:
            stored = await store.append(
                JURY,
                [hand("r1", seq), hand("r2", seq), hand("assembly", seq - 1)],
                expected_position=position,
            )
        position = stored[-1].position
        assert sent == ["INSERT"]

    log = await store.events(JURY)
    assert [s.event.seq for s in log] == [1, 1, 2, 2, 1, 3, 3, 2]
    assert verify_chain(s.record() for s in log) == []


async def test_a_second_writer_between_two_appends_is_detected_and_the_heads_recover(
    store: Store, database_url: str
) -> None:
    other = Store(database_url)  # another process on the same database
    await other.start()
    try:
        mine = await store.append(JURY, [hand("r1", 1)], expected_position=0)
        theirs = await other.append(JURY, [hand("r2", 1)], expected_position=mine[-1].position)

        # Decided on a log without the other's event: refused, though it writes another stream.
        with round_trips() as sent, pytest.raises(SeqConflict):
            await store.append(JURY, [hand("r1", 2, "j2")], expected_position=mine[-1].position)
        assert sent == ["INSERT"]
        assert await store.events(JURY) == mine + theirs

        # The heads were dropped: the next append reads them again, under the assembly's lock,
        # and the one after is a single statement again.
        [again] = await store.append(
            JURY, [hand("r1", 2, "j2")], expected_position=theirs[-1].position
        )
        assert again.prev_hash == mine[0].hash
        with round_trips() as sent:
            [after] = await store.append(
                JURY, [hand("r2", 2, "j2")], expected_position=again.position
            )
        assert sent == ["INSERT"]
        assert after.prev_hash == theirs[0].hash

        # A process that reads the others' appends before its own (as a runtime on the bus
        # does) moves its heads on with them, and stays at one statement.
        caught_up = await other.events(JURY, after_position=theirs[-1].position)
        assert caught_up == [again, after]
        with round_trips() as sent:
            [last] = await other.append(
                JURY, [hand("r3", 1, "j3")], expected_position=after.position
            )
        assert sent == ["INSERT"]
        # And the first one, now behind, is refused whatever it writes.
        with pytest.raises(SeqConflict):
            await store.append(JURY, [hand("r4", 1, "j3")], expected_position=after.position)
        with pytest.raises(SeqConflict):
            await store.append(JURY, [hand("r4", 1, "j3")], expected_position=after.position)
        await store.append(JURY, [hand("r4", 1, "j3")], expected_position=last.position)
    finally:
        await other.close()

    log = await store.events(JURY)
    assert [(s.event.room, s.event.seq) for s in log] == [
        ("r1", 1),
        ("r2", 1),
        ("r1", 2),
        ("r2", 2),
        ("r3", 1),
        ("r4", 1),
    ]
    assert verify_chain(s.record() for s in log) == []


async def test_two_writers_deciding_on_the_same_log_never_both_commit(
    store: Store, database_url: str
) -> None:
    other = Store(database_url)
    await other.start()
    try:
        [start] = await store.append(JURY, [hand("r1", 1)], expected_position=0)
        await other.append(JURY, [hand("r1", 2, "j2")], expected_position=start.position)
        position = (await store.events(JURY))[-1].position
        # Both know the heads at `position`, and race on different streams.
        await store.events(JURY, after_position=start.position)
        racers = [
            writer.append(JURY, [hand(room, 1, "j3")], expected_position=position)
            for writer, room in ((store, "r5"), (other, "r6"))
            for _ in range(3)
        ]
        outcomes = await asyncio.gather(*racers, return_exceptions=True)
    finally:
        await other.close()

    won = [o for o in outcomes if isinstance(o, list)]
    assert len(won) == 1
    assert all(isinstance(o, SeqConflict) for o in outcomes if o not in won)
    assert len(await store.events(JURY)) == 3


async def test_events_from_before_follows_each_follow_the_one_before_them(
    database_url: str,
) -> None:
    """A log written before migration 0003 is chained event by event, so a writer that decided
    on any of its positions still meets the event after it."""
    store = Store(database_url)
    await store.start()
    await store.create_assembly(JURY, [hand("r1", 1)])
    await store.create_assembly("second")
    await store.append(JURY, [hand("r1", 2), hand("r2", 1)])
    await store.append("second", [hand("r1", 1)])
    await store.append(JURY, [hand("r1", 3)])
    await store.close()

    def back_to_0002(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")

    engine = make_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(back_to_0002)
    finally:
        await engine.dispose()
    store = Store(database_url)
    await store.start()  # upgrades again
    try:
        rows = await run_sql(database_url, "SELECT assembly_id, id, follows FROM event ORDER BY id")
        before: dict[str, int] = {}
        for assembly_id, position, follows in rows:
            assert follows == before.get(assembly_id, 0)
            before[assembly_id] = position
        # A batch decided on an old position (id 2, after which id 3 came) cannot go in.
        with pytest.raises(IntegrityError):
            await run_sql(
                database_url,
                "INSERT INTO event (assembly_id, room, seq, type, actor, at_ms, body, prev_hash,"
                " hash, follows) VALUES (:jury, 'r9', 1, 'hand_raised', 'j9', 0, '{}', '', '', 2)",
                jury=JURY,
            )
    finally:
        await store.close()
