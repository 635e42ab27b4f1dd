"""Alembic's environment: migrates the connection `Store.start` hands over or, from the alembic
command line, the database at DATABASE_URL."""

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, text
from sqlmodel import SQLModel

# Importing the store declares its tables on SQLModel's metadata, which autogenerate compares.
from server.store import make_engine

# Any fixed number will do, as long as nothing else on the server takes the same advisory lock.
PG_MIGRATION_LOCK_KEY = 0x70616C61627265  # "palabre" in ASCII

config = context.config
target_metadata = SQLModel.metadata


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set DATABASE_URL to the database to migrate")
    return url


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite alters a table by copying it: autogenerate must write its changes that way.
        render_as_batch=connection.dialect.name == "sqlite",
        # True of SQLite too, now that SQLAlchemy and not the driver emits BEGIN (make_engine).
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes starting together would otherwise race to create the same tables.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def _migrate_database_at(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    # The Store runs this inside its own event loop: no asyncio.run here.
    _migrate(shared)
else:
    asyncio.run(_migrate_database_at(_database_url()))
