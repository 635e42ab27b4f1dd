"""What operators rely on: `/healthz`, `/metrics` in the Prometheus format, and logs that never
carry an invite token."""

import io
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from facilitation import PLENARY_ROOM, Role
from tests.server.harness import (
    LiveServer,
    connect_refusal,
    connected,
    demo_people,
    event_stream,
    serving,
    settings_for,
)

# The loggers the server writes to, its own and uvicorn's (the access log among them).
LOGGERS = ("palabre", "uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(database_url, tmp_path)) as live:
        yield live


@pytest.fixture
def server_logs(server: LiveServer) -> Iterator[io.StringIO]:
    """What the server logs from now on, through the handler and format it set up itself."""
    buffer = io.StringIO()
    handlers = {
        handler
        for name in LOGGERS
        for handler in logging.getLogger(name).handlers
        if isinstance(handler, logging.StreamHandler)
    }
    assert handlers, "the server set up no log handler"
    streams = [(handler, handler.setStream(buffer)) for handler in handlers]
    yield buffer
    for handler, stream in streams:
        handler.setStream(stream)


async def metrics(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, by name and labels."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def test_healthz_reports_the_database_and_the_live_assemblies(server: LiveServer) -> None:
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{server.url}/healthz")).json() == {
            "ok": True,
            "assemblies": 0,
            "live": 0,
            "voice": "off",
        }
        await demo_people(server.organiser)
        healthy = await http.get(f"{server.url}/healthz")
        assert (healthy.status_code, healthy.json()) == (
            200,
            {"ok": True, "assemblies": 1, "live": 1, "voice": "off"},
        )
        # Without its database the server says so, for the load balancer to take it out.
        await server.palabre.store.close()
        try:
            sick = await http.get(f"{server.url}/healthz")
        finally:
            await server.palabre.store.start()
        assert sick.status_code == 503
        assert sick.json()["ok"] is False


async def test_metrics_count_connections_commands_refusals_and_fanout(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    async with (
        connected(server.url, token=tokens["j1"]) as juror,
        connected(server.url, token=tokens["j2"]),
        connected(server.url, token=tokens["f1"]) as facilitator,
        connected(server.url, assembly="jury") as observer,
    ):
        assert (await juror.send("raise_hand"))["ok"]
        assert not (await juror.send("raise_hand"))["ok"]
        assert (await facilitator.send("grant_floor", room=PLENARY_ROOM))["ok"]
        assert (await observer.send("raise_hand", room=PLENARY_ROOM))["error"] == "forbidden"
        assert (await juror.raw("no_such_command", {}))["error"] == "unknown_command"
        await observer.wait_seq(PLENARY_ROOM, 2)
        during = await metrics(server)
    after = await metrics(server)

    assert during[("palabre_connections", (("role", "juror"),))] == 2
    assert during[("palabre_connections", (("role", "facilitator"),))] == 1
    assert during[("palabre_connections", (("role", "observer"),))] == 1
    assert after[("palabre_connections", (("role", "juror"),))] == 0
    assert during[("palabre_commands_total", (("command", "raise_hand"),))] == 3
    assert during[("palabre_commands_total", (("command", "grant_floor"),))] == 1
    assert during[("palabre_refusals_total", (("code", "already_in_queue"),))] == 1
    assert during[("palabre_refusals_total", (("code", "forbidden"),))] == 1
    assert during[("palabre_refusals_total", (("code", "unknown_command"),))] == 1
    # Every committed batch (the organiser's too) was timed from commit to its last emit.
    assert during[("palabre_fanout_seconds_count", ())] >= 2
    assert (
        during[("palabre_fanout_seconds_bucket", (("le", "+Inf"),))]
        == during[("palabre_fanout_seconds_count", ())]
    )


async def test_no_invite_token_ever_reaches_the_logs(
    server: LiveServer, server_logs: io.StringIO
) -> None:
    tokens = await demo_people(server.organiser, public=False)
    invites = server.palabre.invites
    now = datetime.now(UTC)
    expired_invite, expired = await invites.issue(
        "jury", "j3", Role.JUROR, now=now - timedelta(days=90)
    )
    revoked_invite, revoked = await invites.issue("jury", "j2", Role.JUROR, now=now)
    assert await server.organiser.revoke(revoked_invite.id)
    issued = {**tokens, "expired": expired, "revoked": revoked}

    async with (
        connected(server.url, token=tokens["j1"]) as juror,
        connected(server.url, token=tokens["f1"]) as facilitator,
    ):
        assert (await juror.send("raise_hand"))["ok"]
        assert (await facilitator.send("grant_floor", room=PLENARY_ROOM))["ok"]
        for token in (expired, revoked, tokens["j1"] + "x"):
            await connect_refusal(server.url, token=token)
        # Links and observer streams carry tokens in URLs, which access logs write down.
        url = f"{server.url}/assemblies/jury/streams/{PLENARY_ROOM}"
        async with event_stream(url, token=tokens["obs"]) as feed:
            await feed.wait_id(2)
        for token in (expired, revoked):
            async with event_stream(url, token=token) as refused:
                assert refused.status == 403
        async with httpx.AsyncClient() as http:
            await http.get(f"{server.url}/join/{tokens['j2']}")
            await http.get(f"{server.url}/assemblies/jury/streams/{PLENARY_ROOM}?token={revoked}")

    logs = server_logs.getvalue()
    # The logs were written (so their silence about tokens means something)...
    assert '"logger": "palabre.gateway"' in logs
    assert f"/assemblies/jury/streams/{PLENARY_ROOM}?token=[redacted]" in logs
    assert "/join/[redacted]" in logs
    # ...and no token, nor any long piece of one, is in them.
    for name, token in issued.items():
        assert token not in logs, name
        signature = token.rsplit(".", 1)[-1]
        assert signature not in logs, name
    assert expired_invite.id not in logs and revoked_invite.id not in logs
