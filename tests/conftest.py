"""Fixtures for the real services the server tests talk to: SQLite, PostgreSQL, Redis and Janus.

A service that cannot be reached skips its tests with the reason, or fails them when
PALABRE_REQUIRE_SERVICES=1 (as in CI), so a missing service is never silently skipped there.
"""

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from server.voice.janus_process import JanusOptions, OwnJanus, janus_binary, start_janus

POSTGRES_TEST_URL = os.environ.get(
    "POSTGRES_TEST_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")
# A local service answers in milliseconds; one that takes this long is not there.
CONNECT_TIMEOUT_SECS = 5.0


def _shown(url: str) -> str:
    """The URL without its password, fit for a skip message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _unreachable(service: str, url: str, error: BaseException) -> NoReturn:
    _missing(f"{service} is not reachable at {_shown(url)}: {type(error).__name__}: {error}")


def _missing(message: str) -> NoReturn:
    if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _on_postgres_server(statement: str) -> None:
    """Run a statement on the server's test database, outside a transaction (as CREATE DATABASE
    must be)."""
    engine = create_async_engine(
        POSTGRES_TEST_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"timeout": CONNECT_TIMEOUT_SECS},
    )
    try:
        try:
            connection = await engine.connect()
        except (OSError, TimeoutError, DBAPIError) as error:
            _unreachable("PostgreSQL", POSTGRES_TEST_URL, error)
        try:
            await connection.exec_driver_sql(statement)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    # A subfolder that does not exist yet: the store must create it, as on a first run.
    return f"sqlite+aiosqlite:///{tmp_path / 'var' / 'palabre.sqlite3'}"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped after it."""
    name = f"palabre_t_{secrets.token_hex(6)}"
    await _on_postgres_server(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_TEST_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE: a test that failed midway may have left a connection open.
        await _on_postgres_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each database the store supports, in turn, empty."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def redis_url() -> str:
    """The test Redis, once it has answered a PING. Its data is left as found."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=CONNECT_TIMEOUT_SECS)
    try:
        client.ping()
    except redis.RedisError as error:
        _unreachable("Redis", REDIS_TEST_URL, error)
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
async def janus(tmp_path: Path) -> AsyncIterator[OwnJanus]:
    """A Janus of the test's own, as palabre runs it: on a free loopback port, with a fresh API
    secret and admin key (`janus.options`), stopped after the test."""
    binary = janus_binary()
    if binary is None:
        _missing("Janus is not installed (`apt-get install janus`): no `janus` on the PATH")
    options = JanusOptions(
        folder=tmp_path / "janus",
        api_secret=secrets.token_urlsafe(16),
        admin_key=secrets.token_urlsafe(16),
        binary=binary,
    )
    own = await start_janus(options)
    try:
        yield own
    finally:
        await own.stop()
