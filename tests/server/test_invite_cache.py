"""Invites resolved from memory: read together on a connect storm, within the database pool,
and a withdrawn one refused at once on every process the bus reaches."""

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from sqlalchemy import Engine, event
from sqlalchemy.pool import Pool

import server.invites
from facilitation import Role
from server.bootstrap import build, running
from server.invites import InviteRefused
from server.organiser import Person
from tests.server.harness import (
    WAIT_SECONDS,
    Client,
    LiveServer,
    connect_refusal,
    demo_people,
    settings_for,
    token_of,
)

STORM = 300


@contextlib.contextmanager
def opened_connections() -> Iterator[list[object]]:
    """Every database connection any pool opens meanwhile."""
    opened: list[object] = []

    def seen(dbapi_connection: Any, _record: Any) -> None:
        opened.append(dbapi_connection)

    event.listen(Pool, "connect", seen)
    try:
        yield opened
    finally:
        event.remove(Pool, "connect", seen)


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    sent: list[str] = []

    def seen(_c: Any, _cursor: Any, sql: str, *_rest: Any) -> None:
        sent.append(sql)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


async def storm_people(server: LiveServer, count: int) -> list[str]:
    await demo_people(server.organiser, "storm", jurors=1)
    # Observers: each connect resolves its invite as a juror's does, without the roster's
    # presence news going to everyone already in (another part of issue 9, not measured here).
    people = [Person(f"p{n}", f"Person {n}", Role.OBSERVER) for n in range(count)]
    result = await server.organiser.add_people("storm", people)
    assert not result.refused
    return [token_of(link) for link in result.links]


async def test_a_connect_storm_opens_no_more_database_connections_than_the_pool(
    database_url: str, tmp_path: Path
) -> None:
    server = LiveServer(settings_for(database_url, tmp_path))
    await server.start()
    # The handshakes of a storm queue up on one loop: give them longer than the default 5 s.
    clients = [socketio.AsyncClient(reconnection=False, request_timeout=60) for _ in range(STORM)]
    try:
        tokens = await storm_people(server, STORM)
        engine = server.palabre.store._engine
        assert engine is not None
        pool_size = engine.pool.size()  # type: ignore[attr-defined]
        # Nobody has resolved these tokens yet: every connect needs its invite read.
        server.palabre.invites._known.clear()

        async def connect(client: socketio.AsyncClient, token: str) -> None:
            await client.connect(
                server.url, auth={"token": token}, transports=["websocket"], wait_timeout=60
            )

        with opened_connections() as opened, statements() as sent:
            await asyncio.wait_for(asyncio.gather(*map(connect, clients, tokens)), timeout=120)
        assert all(client.connected for client in clients)
        assert len(opened) <= pool_size
        reads = [sql for sql in sent if "FROM invite" in sql]
        assert 1 <= len(reads) < STORM / 10  # read together, not one by one
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        await server.stop()


async def test_an_invite_is_read_once_then_resolved_from_memory(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running(build(settings_for(sqlite_url, tmp_path), live=False)) as services:
        result = await services.organiser.create_assembly("jury", "Jury")
        assert result.ok
        added = await services.organiser.add_people("jury", [Person("j1", "J", Role.JUROR)])
        token = token_of(added.links[0])
        services.invites._known.clear()

        with statements() as sent:
            resolved = await asyncio.gather(*(services.invites.resolve(token) for _ in range(50)))
            again = await services.invites.resolve(token)
        assert len([sql for sql in sent if "FROM invite" in sql]) == 1
        assert {invite.id for invite in resolved} == {again.id} == {added.links[0].invite_id}


async def test_an_invite_withdrawn_where_no_bus_reaches_is_refused_once_its_memory_is_old(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(sqlite_url, tmp_path)
    async with running(build(settings, live=False)) as services:
        await services.organiser.create_assembly("jury", "Jury")
        added = await services.organiser.add_people("jury", [Person("j1", "J", Role.JUROR)])
        token = token_of(added.links[0])
        await services.invites.resolve(token)
        # The command line, on the same database, with no bus to tell this process.
        async with running(build(settings, live=False)) as other:
            assert await other.organiser.revoke(added.links[0].invite_id)

        await services.invites.resolve(token)  # still trusted: read less than a moment ago
        monkeypatch.setattr(server.invites, "CACHE_SECONDS", 0.0)
        with pytest.raises(InviteRefused) as refused:
            await services.invites.resolve(token)
        assert refused.value.code == "revoked_token"


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_withdrawn_invite_is_refused_at_once_here_and_on_another_process(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    assert WAIT_SECONDS < server.invites.CACHE_SECONDS  # so only the bus can explain a refusal
    here, there = (
        LiveServer(settings_for(postgres_url, tmp_path / name, redis_url=redis_url))
        for name in "ab"
    )
    await here.start()
    await there.start()
    try:
        tokens = await demo_people(here.organiser, "jury", public=False)
        links = {link.participant: link for link in await here.organiser.links("jury")}
        # Both processes have resolved the juror's invite, and hold it in memory.
        juror_here, juror_there = Client(here.url), Client(there.url)
        await juror_here.connect(token=tokens["j1"])
        await juror_there.connect(token=tokens["j1"])

        assert await here.organiser.revoke(links["j1"].invite_id)

        refusal = await connect_refusal(here.url, token=tokens["j1"])
        assert refusal["data"]["error"] == "revoked_token"
        await juror_there.wait_for(lambda: not juror_there.sio.connected, "the bus's news")
        refusal = await connect_refusal(there.url, token=tokens["j1"])
        assert refusal["data"]["error"] == "revoked_token"
        # Others' invites are untouched.
        other = Client(there.url)
        await other.connect(token=tokens["j2"])
        await other.drop()
    finally:
        await there.stop()
        await here.stop()
