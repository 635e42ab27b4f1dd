"""The durable log of every assembly, with snapshots and invite links, in SQLite or PostgreSQL."""

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    event,
    func,
    make_url,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Column, Field, SQLModel, col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from facilitation.codec import (
    STATE_VERSION,
    decode_event,
    decode_state,
    encode_for_log,
    encode_state,
)
from facilitation.messages import Event
from facilitation.record import GENESIS_HASH, canonical_json, chain_hash
from facilitation.state import Assembly

log = logging.getLogger("palabre.store")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# How long a SQLite writer waits for another program's write lock (a second process, the alembic
# command line, a backup) before failing: long enough to ride out a burst of commits, short
# enough that a stuck writer surfaces as an error.
SQLITE_BUSY_TIMEOUT_MS = 5_000
# Older snapshots are a fallback only while a newer one might be unreadable; a few suffice.
SNAPSHOTS_KEPT = 3
# The execution option that makes a SQLite transaction start with BEGIN IMMEDIATE.
_SQLITE_BEGIN_IMMEDIATE = "palabre_sqlite_begin_immediate"


class SeqConflict(Exception):
    """Another writer took one of these seqs first: reload the assembly and decide again."""


class AssemblyExists(Exception):
    """An assembly with this id was created before."""


class UnknownAssembly(LookupError):
    """No assembly with this id was ever created."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every database: SQLite keeps no offset, so it is put back
    on the way out, and a naive datetime (whose zone is a guess) is refused on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC instants only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _position_column() -> Column[int]:
    # BIGINT for a log that only grows; but on SQLite only INTEGER PRIMARY KEY is the rowid,
    # the column that numbers itself.
    return Column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


class AssemblyRow(SQLModel, table=True):
    __tablename__ = "assembly"

    id: str = Field(primary_key=True)
    created_at: datetime = Field(sa_type=UtcDateTime)


class EventRow(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_event_assembly"),
        # Two writers that both saw the same head cannot both commit: the second one fails.
        UniqueConstraint("assembly_id", "room", "seq", name="uq_event_stream_seq"),
        Index("ix_event_assembly_position", "assembly_id", "id"),
        # Two writers that decided on the same log cannot both commit either, whatever streams
        # they write: each batch names the position it follows, once per assembly.
        Index(
            "uq_event_follows",
            "assembly_id",
            "follows",
            unique=True,
            sqlite_where=text("follows IS NOT NULL"),
            postgresql_where=text("follows IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=_position_column())
    assembly_id: str
    room: str
    seq: int
    type: str
    actor: str
    at_ms: int = Field(sa_type=BigInteger)
    body: str = Field(sa_type=Text)
    prev_hash: str
    hash: str
    # On a batch's first event: the assembly's last position when the batch was decided (0 for
    # none). NULL on the batch's other events.
    follows: int | None = Field(default=None, sa_type=BigInteger)


class SnapshotRow(SQLModel, table=True):
    __tablename__ = "snapshot"
    __table_args__ = (
        ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_snapshot_assembly"),
        Index("ix_snapshot_assembly_position", "assembly_id", "position"),
    )

    id: int | None = Field(default=None, sa_column=_position_column())
    assembly_id: str
    position: int = Field(sa_type=BigInteger)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UtcDateTime)
    # `codec.STATE_VERSION` when it was written; None for snapshots from before there was one.
    state_version: int | None = None


class InviteRow(SQLModel, table=True):
    __tablename__ = "invite"
    __table_args__ = (
        ForeignKeyConstraint(["assembly_id"], ["assembly.id"], name="fk_invite_assembly"),
        UniqueConstraint("token_hash", name="uq_invite_token_hash"),
        Index("ix_invite_assembly_id", "assembly_id"),
    )

    id: str = Field(primary_key=True)
    assembly_id: str
    participant_id: str | None = None
    role: str
    token_hash: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


@dataclass(frozen=True)
class StoredEvent:
    """An event as committed: where it stands in the log and how it chains to its stream.

    `body` is the text the store wrote and hashed, kept verbatim: `event` is what today's
    classes read from it, which may say it differently.
    """

    position: int
    event: Event
    prev_hash: str
    hash: str
    body: str

    def record(self) -> dict[str, Any]:
        """The export form (docs/record.md), as `facilitation.record.verify_chain` reads it."""
        return {
            "position": self.position,
            "event": json.loads(self.body),
            "body": self.body,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Invite:
    """An invite link. Only a hash of its token is kept, so a leaked database opens no room."""

    id: str
    assembly_id: str
    participant_id: str | None
    role: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def make_engine(database_url: str) -> AsyncEngine:
    """The engine for a database URL, with SQLite set up for a durable, concurrent log."""
    engine = create_async_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Pragmas hold per connection (WAL aside, which the file remembers), so every connection the
    # pool opens gets them: WAL lets readers go on while one writes; synchronous=FULL syncs the
    # WAL on each commit, so an acknowledged event survives a power cut; SQLite ignores foreign
    # keys unless asked; and busy_timeout makes a writer wait for the lock instead of failing.
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()
    # The sqlite3 driver's own BEGIN is deferred and skipped before a SELECT; it is left to
    # `_on_sqlite_begin` instead.
    dbapi_connection.isolation_level = None


def _on_sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked") if
    # another connection committed in between; busy_timeout cannot help it. A write transaction
    # therefore takes the write lock up front, waiting its turn; reads stay deferred.
    options = connection.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT":
        return  # each statement is its own transaction
    if options.get(_SQLITE_BEGIN_IMMEDIATE):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _make_sqlite_folder(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # env.py runs the migrations on this connection, inside the caller's transaction.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _inserted(position: int | None) -> int:
    # The models allow None only for a row that was never inserted.
    assert position is not None
    return position


def _select_stored() -> Select[int | None, str, str, str]:
    return select(col(EventRow.id), EventRow.body, EventRow.prev_hash, EventRow.hash)


def _stored(position: int | None, body: str, prev_hash: str, hash_: str) -> StoredEvent:
    return StoredEvent(_inserted(position), decode_event(json.loads(body)), prev_hash, hash_, body)


# One statement writes a whole batch, whatever its size, so it is prepared once: the rows go in
# as arrays (PostgreSQL) or one JSON array (SQLite), and come out in the batch's order, which is
# the order their positions are taken in. Only the batch's first row says what it follows.
_INSERTED_COLUMNS = "assembly_id, room, seq, type, actor, at_ms, body, prev_hash, hash, follows"
_INSERT_BATCH = {
    "postgresql": text(
        f"INSERT INTO event ({_INSERTED_COLUMNS})"
        " SELECT :assembly_id, r.room, r.seq, r.type, r.actor, r.at_ms, r.body, r.prev_hash,"
        " r.hash, CASE WHEN r.n = 1 THEN CAST(:follows AS BIGINT) END"
        " FROM unnest(CAST(:rooms AS VARCHAR[]), CAST(:seqs AS INTEGER[]),"
        " CAST(:types AS VARCHAR[]), CAST(:actors AS VARCHAR[]), CAST(:at_ms AS BIGINT[]),"
        " CAST(:bodies AS TEXT[]), CAST(:prev_hashes AS VARCHAR[]), CAST(:hashes AS VARCHAR[]))"
        " WITH ORDINALITY AS r(room, seq, type, actor, at_ms, body, prev_hash, hash, n)"
        " ORDER BY r.n RETURNING id, room, seq"
    ),
    "sqlite": text(
        f"INSERT INTO event ({_INSERTED_COLUMNS})"
        " SELECT :assembly_id, json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
        " json_extract(value, '$[2]'), json_extract(value, '$[3]'), json_extract(value, '$[4]'),"
        " json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'),"
        " CASE WHEN key = 0 THEN :follows END"
        " FROM json_each(:rows) ORDER BY key RETURNING id, room, seq"
    ),
}


@dataclass
class _Heads:
    """An assembly's log as this process last knew it: its last position, and the last seq and
    hash of each of its streams then (a stream not here had no event yet)."""

    position: int
    streams: dict[str, tuple[int, str]]


@dataclass(frozen=True)
class _Row:
    event: Event
    body: str
    prev_hash: str
    hash: str


def _chain(
    assembly_id: str, events: Sequence[Event], streams: dict[str, tuple[int, str]]
) -> list[_Row]:
    """Hash each event onto its stream's head, moving `streams` on; `SeqConflict` when an
    event's seq does not follow its stream's."""
    rows = []
    for item in events:
        last_seq, prev_hash = streams.get(item.room, (0, GENESIS_HASH))
        if item.seq != last_seq + 1:
            raise SeqConflict(f"{assembly_id}/{item.room}: seq {item.seq} after {last_seq}")
        body = canonical_json(encode_for_log(item))
        hash_ = chain_hash(prev_hash, body)
        rows.append(_Row(item, body.decode(), prev_hash, hash_))
        streams[item.room] = (item.seq, hash_)
    return rows


def _batch_parameters(
    dialect: str, assembly_id: str, rows: list[_Row], follows: int
) -> dict[str, Any]:
    fields = [
        (
            r.event.room,
            r.event.seq,
            r.event.name,
            r.event.actor,
            r.event.at_ms,
            r.body,
            r.prev_hash,
            r.hash,
        )
        for r in rows
    ]
    if dialect == "sqlite":
        return {"assembly_id": assembly_id, "follows": follows, "rows": json.dumps(fields)}
    columns = list(zip(*fields, strict=True))
    names = ("rooms", "seqs", "types", "actors", "at_ms", "bodies", "prev_hashes", "hashes")
    return {"assembly_id": assembly_id, "follows": follows} | {
        name: list(column) for name, column in zip(names, columns, strict=True)
    }


async def _insert_batch(
    connection: AsyncConnection, assembly_id: str, rows: list[_Row], follows: int
) -> list[StoredEvent]:
    """Write the rows in one statement; the stored events, in the rows' order."""
    dialect = connection.dialect.name
    found = await connection.execute(
        _INSERT_BATCH[dialect], _batch_parameters(dialect, assembly_id, rows, follows)
    )
    positions = {(room, seq): position for position, room, seq in found}
    stored = [
        StoredEvent(positions[r.event.room, r.event.seq], r.event, r.prev_hash, r.hash, r.body)
        for r in rows
    ]
    if any(a.position >= b.position for a, b in itertools.pairwise(stored)):
        # The log's order would not be the order the batch was decided in: never seen, but the
        # catch-up of every other process depends on it.
        raise RuntimeError(f"{assembly_id}: a batch was given positions out of its order")
    return stored


def _invite(row: InviteRow) -> Invite:
    return Invite(
        id=row.id,
        assembly_id=row.assembly_id,
        participant_id=row.participant_id,
        role=row.role,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


class Store:
    """The log, snapshots and invites of every assembly, in one database.

    `start` creates the engine and brings the schema to the latest migration; `close` lets go
    of every connection.
    """

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: AsyncEngine | None = None
        self._reads: async_sessionmaker[AsyncSession] | None = None
        self._writes: async_sessionmaker[AsyncSession] | None = None
        # Each statement its own transaction: an append that knows its heads is one statement.
        self._autocommit: AsyncEngine | None = None
        self._write_lock: asyncio.Lock | None = None
        # What this process last knew of each assembly's log, so an append need not read it
        # first. Only a hint: the log's constraints refuse a batch built on a stale one.
        self._heads: dict[str, _Heads] = {}

    async def start(self) -> None:
        if self._engine is not None:
            return
        _make_sqlite_folder(self.database_url)
        engine = make_engine(self.database_url)
        writer = engine.execution_options(**{_SQLITE_BEGIN_IMMEDIATE: True})
        try:
            async with writer.begin() as connection:
                await connection.run_sync(_upgrade_to_head)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._reads = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._writes = async_sessionmaker(writer, class_=AsyncSession, expire_on_commit=False)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._heads = {}
        if engine.dialect.name == "sqlite":
            # SQLite has one writer at a time anyway: queueing this process's writers here
            # spares them busy_timeout's sleep-and-retry polling.
            self._write_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._reads = self._writes = self._autocommit = self._write_lock = None
        self._heads = {}

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncSession]:
        if self._reads is None:
            raise RuntimeError("the store is not started")
        async with self._reads() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        if self._writes is None:
            raise RuntimeError("the store is not started")
        turn: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        async with turn, self._writes() as session, session.begin():
            yield session

    async def create_assembly(self, assembly_id: str, events: Sequence[Event] = ()) -> None:
        """Register an assembly with its first events, all or nothing."""
        streams: dict[str, tuple[int, str]] = {}
        rows = _chain(assembly_id, events, streams)
        try:
            async with self._writing() as session:
                session.add(AssemblyRow(id=assembly_id, created_at=datetime.now(UTC)))
                await session.flush()
                stored = []
                if rows:
                    connection = await session.connection()
                    stored = await _insert_batch(connection, assembly_id, rows, follows=0)
        except IntegrityError as error:
            raise AssemblyExists(assembly_id) from error
        self._heads[assembly_id] = _Heads(stored[-1].position if stored else 0, streams)

    async def assembly_ids(self) -> list[str]:
        async with self._reading() as session:
            query = select(AssemblyRow.id).order_by(
                col(AssemblyRow.created_at), col(AssemblyRow.id)
            )
            return list(await session.exec(query))

    async def append(
        self, assembly_id: str, events: Sequence[Event], *, expected_position: int | None = None
    ) -> list[StoredEvent]:
        """Append a batch of events (of any streams, each in seq order), all or nothing.

        Raises `SeqConflict`, writing nothing, when an event's seq does not follow its stream's
        last one (another writer was first, or the caller's state is behind), or when
        `expected_position` is given and is no longer the assembly's last position.

        With `expected_position` at the end of the log as this process last saw it (its own
        last append, or the last read of `events`), this is one statement and one round trip:
        the streams' heads come from memory, and the batch is refused by the database itself
        when anyone else appended after that position (the assembly's `follows` are unique).
        Then the heads are dropped and read again, under the assembly's lock, on the next try.
        """
        if not events:
            return []
        known = self._heads.get(assembly_id)
        try:
            if known is not None and known.position == expected_position:
                return await self._append_known(assembly_id, events, known)
            return await self._append_locked(assembly_id, events, expected_position)
        except BaseException:
            # A conflict, or a failure after which the commit may or may not have happened:
            # what this process knew of the log is no longer sure.
            self._heads.pop(assembly_id, None)
            raise

    async def _append_known(
        self, assembly_id: str, events: Sequence[Event], known: _Heads
    ) -> list[StoredEvent]:
        if self._autocommit is None:
            raise RuntimeError("the store is not started")
        streams = dict(known.streams)
        rows = _chain(assembly_id, events, streams)
        turn: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        try:
            async with turn, self._autocommit.connect() as connection:
                stored = await _insert_batch(connection, assembly_id, rows, known.position)
        except IntegrityError as error:
            # Another writer appended after `known.position` (or took one of these seqs).
            raise SeqConflict(f"{assembly_id}: {error.orig}") from error
        self._remember(assembly_id, known, stored[-1].position, streams)
        return stored

    async def _append_locked(
        self, assembly_id: str, events: Sequence[Event], expected_position: int | None
    ) -> list[StoredEvent]:
        try:
            async with self._writing() as session:
                await self._lock_assembly(session, assembly_id)
                last = await session.exec(
                    select(func.max(EventRow.id)).where(EventRow.assembly_id == assembly_id)
                )
                position = last.one() or 0
                if expected_position is not None and position != expected_position:
                    raise SeqConflict(f"{assembly_id} has moved past {expected_position}")
                streams = await self._stream_heads(session, assembly_id)
                rows = _chain(assembly_id, events, streams)
                connection = await session.connection()
                stored = await _insert_batch(connection, assembly_id, rows, position)
        except IntegrityError as error:
            # Only a writer that did not take the lock (one that knew its heads) gets here.
            raise SeqConflict(f"{assembly_id}: {error.orig}") from error
        self._heads[assembly_id] = _Heads(stored[-1].position, streams)
        return stored

    def _remember(
        self, assembly_id: str, was: _Heads, position: int, streams: dict[str, tuple[int, str]]
    ) -> None:
        """The log has moved from `was` to `position`: keep that, unless something else moved
        this process's knowledge of it meanwhile (then it is read again when next needed)."""
        if self._heads.get(assembly_id) is was and was.position < position:
            self._heads[assembly_id] = _Heads(position, streams)
        else:
            self._heads.pop(assembly_id, None)

    async def _lock_assembly(self, session: AsyncSession, assembly_id: str) -> None:
        # Holding the assembly's row until commit serialises the writers that read before they
        # write; `follows` refuses those that did not. SQLite's single writer gives this anyway.
        found = await session.exec(
            select(AssemblyRow.id)
            .where(AssemblyRow.id == assembly_id)
            .with_for_update(key_share=True)
        )
        if found.first() is None:
            raise UnknownAssembly(assembly_id)

    @staticmethod
    async def _stream_heads(session: AsyncSession, assembly_id: str) -> dict[str, tuple[int, str]]:
        """The last seq and hash of every stream of the assembly, in one query."""
        last = (
            select(EventRow.room, func.max(EventRow.seq).label("seq"))
            .where(EventRow.assembly_id == assembly_id)
            .group_by(col(EventRow.room))
            .subquery()
        )
        found = await session.exec(
            select(EventRow.room, EventRow.seq, EventRow.hash)
            .join(last, and_(col(EventRow.room) == last.c.room, col(EventRow.seq) == last.c.seq))
            .where(EventRow.assembly_id == assembly_id)
        )
        return {room: (seq, hash_) for room, seq, hash_ in found}

    @staticmethod
    async def _head(session: AsyncSession, assembly_id: str, room: str) -> tuple[int, str]:
        found = await session.exec(
            select(EventRow.seq, EventRow.hash)
            .where(EventRow.assembly_id == assembly_id, EventRow.room == room)
            .order_by(col(EventRow.seq).desc())
            .limit(1)
        )
        head = found.first()
        return (0, GENESIS_HASH) if head is None else (head[0], head[1])

    async def events(self, assembly_id: str, *, after_position: int = 0) -> list[StoredEvent]:
        """Every event of the assembly after a position, in commit order."""
        async with self._reading() as session:
            found = await session.exec(
                _select_stored()
                .where(EventRow.assembly_id == assembly_id, col(EventRow.id) > after_position)
                .order_by(col(EventRow.id))
            )
            records = [_stored(*row) for row in found]
        self._caught_up(assembly_id, after_position, records)
        return records

    def _caught_up(self, assembly_id: str, after_position: int, records: list[StoredEvent]) -> None:
        """Others' appends, just read: the heads this process knows move on with them, so its
        next append need not read them again. Positions increase in commit order (each batch
        follows the last), so what was read is the whole log up to its last position."""
        known = self._heads.get(assembly_id)
        if not records or known is None or known.position != after_position:
            return
        streams = dict(known.streams)
        for record in records:
            streams[record.event.room] = (record.event.seq, record.hash)
        self._remember(assembly_id, known, records[-1].position, streams)

    async def stream_events(
        self, assembly_id: str, room: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """One stream's events after a seq, in seq order."""
        async with self._reading() as session:
            found = await session.exec(
                _select_stored()
                .where(
                    EventRow.assembly_id == assembly_id,
                    EventRow.room == room,
                    col(EventRow.seq) > after_seq,
                )
                .order_by(col(EventRow.seq))
                .limit(limit)
            )
            return [_stored(*row) for row in found]

    async def stream_head(self, assembly_id: str, room: str) -> tuple[int, str]:
        """The last seq and hash of a stream: `(0, GENESIS_HASH)` before its first event."""
        async with self._reading() as session:
            return await self._head(session, assembly_id, room)

    async def save_snapshot(self, assembly_id: str, position: int, state: Assembly) -> None:
        """Keep the state as of `position`, dropping all but the latest few snapshots."""
        # Encoded before the first await, so the state cannot move on while it is written.
        body = json.dumps(encode_state(state), separators=(",", ":"), ensure_ascii=False)
        async with self._writing() as session:
            session.add(
                SnapshotRow(
                    assembly_id=assembly_id,
                    position=position,
                    body=body,
                    created_at=datetime.now(UTC),
                    state_version=STATE_VERSION,
                )
            )
            await session.flush()
            kept = (
                select(SnapshotRow.id)
                .where(SnapshotRow.assembly_id == assembly_id)
                .order_by(col(SnapshotRow.position).desc(), col(SnapshotRow.id).desc())
                .limit(SNAPSHOTS_KEPT)
            )
            await session.exec(
                delete(SnapshotRow).where(
                    col(SnapshotRow.assembly_id) == assembly_id,
                    col(SnapshotRow.id).not_in(kept.scalar_subquery()),
                )
            )

    async def latest_snapshot(self, assembly_id: str) -> tuple[int, Assembly] | None:
        """The latest snapshot this code can read, as `(position, state)`; None when there is
        none, and the caller replays the log from the start.

        A snapshot of another state version (or of none), or one that does not decode, is
        passed over with a warning: the log, not the snapshot, is the truth.
        """
        async with self._reading() as session:
            found = await session.exec(
                select(col(SnapshotRow.id), SnapshotRow.position, SnapshotRow.state_version)
                .where(SnapshotRow.assembly_id == assembly_id)
                .order_by(col(SnapshotRow.position).desc(), col(SnapshotRow.id).desc())
            )
            candidates = list(found)
        restored = None
        passed_over = []
        for snapshot_id, position, version in candidates:
            state = await self._snapshot_state(snapshot_id) if version == STATE_VERSION else None
            if state is not None:
                restored = (position, state)
                break
            passed_over.append(f"{position} (state version {version})")
        if passed_over:
            log.warning(
                "assembly %s: passed over the snapshots at positions %s, which this palabre"
                " (state version %s) cannot read; the log is replayed after them",
                assembly_id,
                ", ".join(passed_over),
                STATE_VERSION,
            )
        return restored

    async def _snapshot_state(self, snapshot_id: int | None) -> Assembly | None:
        async with self._reading() as session:
            found = await session.exec(
                select(SnapshotRow.body).where(SnapshotRow.id == snapshot_id)
            )
            body = found.first()
        if body is None:
            return None  # pruned since it was listed
        try:
            return decode_state(json.loads(body))
        except ValueError:  # pydantic's ValidationError is one
            log.exception("a snapshot of state version %s does not decode", STATE_VERSION)
            return None

    async def add_invite(self, invite: Invite) -> None:
        async with self._writing() as session:
            session.add(
                InviteRow(
                    id=invite.id,
                    assembly_id=invite.assembly_id,
                    participant_id=invite.participant_id,
                    role=invite.role,
                    token_hash=invite.token_hash,
                    created_at=invite.created_at,
                    expires_at=invite.expires_at,
                    revoked_at=invite.revoked_at,
                )
            )

    async def invite_by_hash(self, token_hash: str) -> Invite | None:
        """The invite with this token hash, revoked or expired ones included: the caller decides."""
        found = await self.invites_by_hash([token_hash])
        return found[0] if found else None

    async def invites_by_hash(self, token_hashes: Sequence[str]) -> list[Invite]:
        """The invites with any of these token hashes, in no particular order."""
        async with self._reading() as session:
            found = await session.exec(
                select(InviteRow).where(col(InviteRow.token_hash).in_(token_hashes))
            )
            return [_invite(row) for row in found]

    async def invites(self, assembly_id: str) -> list[Invite]:
        """Every invite of the assembly, oldest first."""
        async with self._reading() as session:
            found = await session.exec(
                select(InviteRow)
                .where(InviteRow.assembly_id == assembly_id)
                .order_by(col(InviteRow.created_at), col(InviteRow.id))
            )
            return [_invite(row) for row in found]

    async def revoke_invite(self, invite_id: str, at: datetime) -> bool:
        """Mark an invite revoked; False when there is no such invite or it already was."""
        async with self._writing() as session:
            result = await session.exec(
                update(InviteRow)
                .where(col(InviteRow.id) == invite_id, col(InviteRow.revoked_at).is_(None))
                .values(revoked_at=at)
            )
            return result.rowcount == 1
