"""An assembly that cannot answer within the command timeout says `unavailable` on every surface
(an ack, `sync`, a connect, the pages, the organiser API, the SSE stream), and serves again once
its store is back."""

import asyncio
from pathlib import Path

import httpx

from facilitation import PLENARY_ROOM
from tests.server.harness import (
    WAIT_SECONDS,
    connect_refusal,
    connected,
    demo_people,
    protocol_problem,
    serving,
    settings_for,
)

# Short, so each refusal comes quickly; far above a healthy commit on loopback.
TIMEOUT_SECONDS = 0.3
ADMIN = {"authorization": "Bearer test-admin-token"}


async def test_a_stuck_assembly_answers_unavailable_everywhere_then_recovers(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path, command_timeout_seconds=TIMEOUT_SECONDS)
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser)
        store = server.palabre.store
        appends = store.append
        released = asyncio.Event()

        async def hangs(*args: object, **kwargs: object) -> object:
            await released.wait()
            return await appends(*args, **kwargs)  # type: ignore[arg-type]

        async with (
            connected(server.url, token=tokens["j1"]) as juror,
            httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as http,
        ):
            store.append = hangs  # type: ignore[method-assign,assignment]
            try:
                # The writer is stuck in a commit: the sender and every later reader time out.
                ack = await juror.send("raise_hand")
                assert (ack["ok"], ack["error"]) == (False, "unavailable")
                reply = await juror.raw("sync", {"resume": dict(juror.last)})
                assert protocol_problem("sync_reply", reply) is None
                assert (reply["ok"], reply["error"]) == (False, "unavailable")

                refusal = await connect_refusal(server.url, token=tokens["j2"])
                assert protocol_problem("connect_error", refusal) is None
                assert refusal["data"]["error"] == "unavailable"

                for path, headers in (
                    (f"/assemblies/jury/streams/{PLENARY_ROOM}", {}),
                    ("/watch/jury", {}),
                    ("/api/assemblies/jury/links", ADMIN),
                ):
                    answer = await http.get(path, headers=headers)
                    assert answer.status_code == 503, (path, answer.text)
                    assert answer.headers["retry-after"] == "1", path
                    assert answer.json()["error"] == "unavailable", path
            finally:
                released.set()
                store.append = appends  # type: ignore[method-assign]

            # The hand was being written when its sender gave up: it did commit. A sync shows it.
            await juror.sync()
            assert juror.types(PLENARY_ROOM) == ["hand_raised"]
            async with connected(server.url, token=tokens["j2"]) as late:
                assert late.snapshots[PLENARY_ROOM]["queue"][0]["participant"] == "j1"
            answer = await http.get("/api/assemblies/jury/links", headers=ADMIN)
            assert answer.status_code == 200
