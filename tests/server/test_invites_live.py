"""Invites against a running server: withdrawn ones close the door, late imports open it."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from facilitation import Role
from server.bootstrap import build, running
from server.organiser import Person
from tests.server.harness import (
    WAIT_SECONDS,
    Client,
    LiveServer,
    connect_refusal,
    demo_people,
    settings_for,
)

ADMIN = {"authorization": "Bearer test-admin-token"}


async def test_withdrawing_an_invite_disconnects_whoever_is_using_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    try:
        await demo_people(server.organiser, "jury")
        links = await server.organiser.links("jury")
        juror = next(link for link in links if link.participant == "j1")
        client = Client(server.url)
        await client.connect(token=juror.link.rsplit("/", 1)[1])
        async with httpx.AsyncClient(base_url=server.url) as http:
            answer = await http.post(f"/api/invites/{juror.invite_id}/revoke", headers=ADMIN)
        assert answer.status_code == 200
        for _ in range(100):
            if not client.sio.connected:
                break
            await asyncio.sleep(0.05)
        assert not client.sio.connected
    finally:
        await server.stop()


async def test_someone_imported_by_another_process_can_enter_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    try:
        await demo_people(server.organiser, "jury")
        assert server.organiser.hub.live_runtime("jury") is not None
        # A second stack on the same database, as the CLI is while the server runs.
        async with running(build(server.settings, live=False)) as other:
            late = [Person("late", "Late Comer", Role.JUROR)]
            result = await other.organiser.add_people("jury", late)
        client = Client(server.url)
        await client.connect(token=result.links[0].link.rsplit("/", 1)[1])
        assert client.you["participant"] == "late"
        await client.drop()
    finally:
        await server.stop()


async def test_a_connect_never_admits_someone_whose_addition_was_not_committed(
    sqlite_url: str, tmp_path: Path
) -> None:
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    store = server.palabre.store
    appends = store.append
    writing, failing = asyncio.Event(), asyncio.Event()

    async def fails_once_told(*args: object, **kwargs: object) -> object:
        writing.set()
        await failing.wait()
        raise OSError("the disk is full")

    try:
        await demo_people(server.organiser, "jury")
        _, token = await server.palabre.invites.issue(
            "jury", "ghost", Role.JUROR, now=datetime.now(UTC)
        )
        store.append = fails_once_told  # type: ignore[method-assign,assignment]
        adding = asyncio.ensure_future(
            server.organiser.add_people("jury", [Person("ghost", "Ghost", Role.JUROR)])
        )
        await asyncio.wait_for(writing.wait(), WAIT_SECONDS)
        # Someone uses the invite while the addition is being written, and then it fails.
        knocking = asyncio.ensure_future(connect_refusal(server.url, token=token))
        await asyncio.sleep(0.3)
        failing.set()
        refusal = await knocking
        assert refusal["data"]["error"] == "unknown_participant"
        store.append = appends  # type: ignore[method-assign]
        result = await adding
        assert [(who, code) for who, code, _ in result.refused] == [("ghost", "unavailable")]
    finally:
        failing.set()
        store.append = appends  # type: ignore[method-assign]
        await server.stop()
