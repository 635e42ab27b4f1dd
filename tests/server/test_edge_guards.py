"""Who may knock, and how often: browser origins at the socket, and rate limits per client address
on connecting, on the Server-Sent Events stream and on the organiser's API."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from tests.server.harness import (
    WAIT_SECONDS,
    LiveServer,
    connected,
    demo_people,
    free_port,
    protocol_problem,
    serving,
    settings_for,
)

PAGES_ORIGIN = "https://jury.example"


@pytest.fixture
async def behind_a_proxy(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """A server whose people reach it at a public URL, with no allowed origins configured."""
    settings = settings_for(
        sqlite_url, tmp_path, public_url=f"{PAGES_ORIGIN}/", allowed_origins=None
    )
    async with serving(settings) as live:
        await demo_people(live.organiser)
        yield live


async def connect_from(url: str, origin: str, **auth: Any) -> Any:
    """Connect as a browser page served from `origin` would: what `connect_error` said, or None
    when the connection was accepted."""
    sio = socketio.AsyncClient(reconnection=False)
    said: list[Any] = []
    sio.on("connect_error", said.append)
    try:
        await sio.connect(
            url,
            auth=auth,
            headers={"Origin": origin},
            transports=["websocket"],
            wait_timeout=WAIT_SECONDS,
        )
    except socketio.exceptions.ConnectionError:
        assert said, "refused without a connect_error"
        problem = protocol_problem("connect_error", said[-1])
        assert problem is None, problem
        return said[-1]
    await sio.disconnect()
    return None


async def test_the_public_urls_origin_is_allowed_when_only_the_public_url_is_set(
    behind_a_proxy: LiveServer,
) -> None:
    assert await connect_from(behind_a_proxy.url, PAGES_ORIGIN, assembly="jury") is None


async def test_a_page_from_another_origin_is_refused_with_origin_not_allowed(
    behind_a_proxy: LiveServer,
) -> None:
    for origin in ("https://evil.example", "http://jury.example", "null", f"{PAGES_ORIGIN}:8443"):
        refusal = await connect_from(behind_a_proxy.url, origin, assembly="jury")
        assert refusal is not None, origin
        assert refusal["message"] == "origin_not_allowed", (origin, refusal)
        assert refusal["data"]["error"] == "origin_not_allowed", (origin, refusal)
    # Programs send no Origin at all: they are let in as before.
    async with connected(behind_a_proxy.url, assembly="jury") as observer:
        assert observer.you["role"] == "observer"


async def test_cross_origin_requests_get_no_cors_header_granting_access(
    behind_a_proxy: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=behind_a_proxy.url, timeout=WAIT_SECONDS) as http:
        for origin in ("https://evil.example", PAGES_ORIGIN):
            handshake = await http.get(
                "/socket.io/",
                params={"EIO": "4", "transport": "polling"},
                headers={"Origin": origin},
            )
            preflight = await http.options(
                "/socket.io/",
                params={"EIO": "4", "transport": "polling"},
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            for response in (handshake, preflight):
                assert "access-control-allow-origin" not in response.headers, (origin, response)
                assert "access-control-allow-credentials" not in response.headers


async def test_origins_default_to_the_servers_own_address(sqlite_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(sqlite_url, tmp_path, port=port, public_url=None, allowed_origins=None)
    async with serving(settings) as live:
        await demo_people(live.organiser)
        for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            assert await connect_from(live.url, origin, assembly="jury") is None, origin
        refusal = await connect_from(live.url, PAGES_ORIGIN, assembly="jury")
        assert refusal["message"] == "origin_not_allowed", refusal
