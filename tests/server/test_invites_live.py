"""Invites against a running server: withdrawn ones close the door, late imports open it."""

import asyncio
from pathlib import Path

import httpx

from facilitation import Role
from server.hub import Hub
from server.organiser import Organiser, Person
from server.store import Store
from tests.server.harness import Client, LiveServer, demo_people, settings_for

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
        store = Store(sqlite_url)
        await store.start()
        try:
            hub = Hub(
                store,
                clock=server.palabre.clock,
                publish=lambda *_: None,
                snapshot_every_events=500,
                recent_per_stream=10,
                ballot_secret=server.settings.signing_key,
            )
            other = Organiser(hub, server.palabre.invites)
            result = await other.add_people("jury", [Person("late", "Late Comer", Role.JUROR)])
            await hub.stop()
        finally:
            await store.close()
        client = Client(server.url)
        await client.connect(token=result.links[0].link.rsplit("/", 1)[1])
        assert client.you["participant"] == "late"
        await client.drop()
    finally:
        await server.stop()
