"""What one append costs the store: statements, round trips and time, on SQLite or PostgreSQL.

The store alone, without sockets: one assembly whose rooms each commit a batch in turn, as the
runtime's writer does (a batch of `--events` events over `--streams-per-batch` streams, each
decided on the log's last position, `expected_position`). Every statement the store sends, and
every BEGIN and COMMIT the drivers send for it, is counted with SQLAlchemy's events; each
append's time, from the call to the committed answer, is measured with this process's clock.

It prints statements and round trips per append (the median and the most), and the append
time p50 / p99 / max. A number of appends bounded by `--appends`, each waited for.

Run: `.venv/bin/python bench/appends.py` (SQLite in a temporary folder), or with
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test` (a fresh database is made on
that server for the run and dropped after).
"""

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facilitation.events import HandRaised
from server.store import Store

ASSEMBLY = "bench"


@contextmanager
def counted() -> Iterator[list[str]]:
    """Every statement sent meanwhile, and each BEGIN and COMMIT outside autocommit."""
    sent: list[str] = []

    def statement(_c: Connection, _cursor: Any, sql: str, *_rest: Any) -> None:
        sent.append(sql.split()[0].upper())

    def boundary(name: str) -> Any:
        def seen(connection: Connection) -> None:
            # Outside autocommit the driver sends them; SQLite's BEGIN is a statement of ours.
            if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
                return
            if name == "COMMIT" or connection.dialect.name != "sqlite":
                sent.append(name)

        return seen

    listeners = [
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


async def on_postgres(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def run(database_url: str, appends: int, events: int, streams: int) -> None:
    store = Store(database_url)
    await store.start()
    await store.create_assembly(ASSEMBLY)
    seqs: dict[str, int] = {}
    position = 0
    statements: list[int] = []
    trips: list[int] = []
    seconds: list[float] = []
    rooms = [f"r{n}" for n in range(100)]
    try:
        for number in range(appends):
            chosen = [rooms[(number * streams + k) % len(rooms)] for k in range(streams)]
            batch = []
            for k in range(events):
                room = chosen[k % streams]
                seqs[room] = seqs.get(room, 0) + 1
                batch.append(
                    HandRaised(
                        room=room, seq=seqs[room], actor="j1", at_ms=number, participant="j1"
                    )
                )
            with counted() as sent:
                started = time.perf_counter()
                stored = await store.append(ASSEMBLY, batch, expected_position=position)
                seconds.append(time.perf_counter() - started)
            position = stored[-1].position
            statements.append(sum(1 for s in sent if s not in ("BEGIN", "COMMIT")))
            trips.append(len(sent))
    finally:
        await store.close()
    ms = sorted(s * 1000 for s in seconds)
    print(
        f"{appends} appends of {events} events over {streams} streams on"
        f" {make_url(database_url).get_backend_name()}:"
    )
    print(
        f"  statements per append: median {statistics.median(statements):g}, most"
        f" {max(statements)}; with BEGIN and COMMIT, round trips: median"
        f" {statistics.median(trips):g}, most {max(trips)}"
    )
    print(
        f"  append time: p50 {ms[len(ms) // 2]:.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms,"
        f" max {ms[-1]:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=500, help="appends (default 500)")
    parser.add_argument("--events", type=int, default=3, help="events a batch (default 3)")
    parser.add_argument(
        "--streams-per-batch", type=int, default=2, help="streams a batch writes (default 2)"
    )
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a SQLite file)")
    args = parser.parse_args()
    if args.database_url is None:
        folder = tempfile.mkdtemp(prefix="palabre-appends-")
        asyncio.run(
            run(
                f"sqlite+aiosqlite:///{folder}/bench.sqlite3",
                args.appends,
                args.events,
                args.streams_per_batch,
            )
        )
        return
    name = f"palabre_bench_{secrets.token_hex(4)}"
    asyncio.run(on_postgres(args.database_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(args.database_url).set(database=name).render_as_string(hide_password=False)
        asyncio.run(run(url, args.appends, args.events, args.streams_per_batch))
    finally:
        asyncio.run(
            on_postgres(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
