"""Who may knock, and how often: browser origins at the socket, and rate limits per client address
on connecting, on the Server-Sent Events stream and on the organiser's API."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from server.settings import Settings
from server.throttle import AddressLimiter
from tests.server.harness import (
    WAIT_SECONDS,
    LiveServer,
    connect_refusal,
    connected,
    demo_people,
    event_stream,
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


# --- Rate limits per client address -----------------------------------------------------------
# Every test client comes from 127.0.0.1: the harness's limits are generous, these are tight.

TIGHT = {
    "connect_rate_per_second": 0.01,
    "connect_burst": 3,
    "sse_rate_per_second": 0.01,
    "sse_burst": 3,
    "sse_streams_per_address": 2,
    "api_rate_per_second": 0.01,
    "api_burst": 3,
}


@pytest.fixture
async def tight(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(sqlite_url, tmp_path, **TIGHT)) as live:
        await demo_people(live.organiser)
        yield live


async def test_connecting_too_often_from_one_address_is_rate_limited(tight: LiveServer) -> None:
    burst = int(TIGHT["connect_burst"])
    async with contextlib.AsyncExitStack() as stack:
        observers = [
            await stack.enter_async_context(connected(tight.url, assembly="jury"))
            for _ in range(burst)
        ]
        refusal = await connect_refusal(tight.url, assembly="jury")
        assert refusal["message"] == "rate_limited", refusal
        assert "again" in refusal["data"]["detail"], refusal
        # Those already in are not disturbed.
        assert len(tight.palabre.fanout.connections) == burst
        for observer in observers:
            await observer.sync()


async def test_opening_streams_is_limited_per_address(tight: LiveServer) -> None:
    url = f"{tight.url}/assemblies/jury/streams/plenary"
    cap = int(TIGHT["sse_streams_per_address"])
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(event_stream(url)) for _ in range(cap)]
        assert [s.status for s in streams] == [200] * cap
        async with event_stream(url) as one_too_many:
            assert one_too_many.status == 429
            assert one_too_many.refusal["error"] == "rate_limited", one_too_many.refusal
    # Closed streams free their places (once the server has seen them go)...
    deadline = time.monotonic() + WAIT_SECONDS
    while tight.palabre.streams.open:
        assert time.monotonic() < deadline, tight.palabre.streams.open
        await asyncio.sleep(0.02)
    # ...then opening too often is refused, with a delay to wait.
    async with event_stream(url) as again:
        assert again.status == 200
    async with event_stream(url) as too_often:
        assert too_often.status == 429
        assert too_often.refusal["error"] == "rate_limited", too_often.refusal
        assert int(too_often.response.headers["retry-after"]) >= 1


async def test_the_organiser_api_is_rate_limited_per_address(tight: LiveServer) -> None:
    headers = {"Authorization": "Bearer test-admin-token"}
    async with httpx.AsyncClient(base_url=tight.url, headers=headers, timeout=10) as api:
        answers = [
            await api.get("/api/assemblies/jury/links") for _ in range(int(TIGHT["api_burst"]))
        ]
        assert [a.status_code for a in answers] == [200] * len(answers)
        limited = await api.get("/api/assemblies/jury/links")
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        # Wrong tokens count too: guessing the admin token is slowed down as well.
        guess = await api.get("/api/assemblies/jury/links", headers={"Authorization": "Bearer x"})
        assert guess.status_code == 429
    # The other limits are apart: a socket still connects.
    async with connected(tight.url, assembly="jury") as observer:
        assert observer.you["role"] == "observer"


async def test_normal_use_stays_under_the_default_limits(sqlite_url: str, tmp_path: Path) -> None:
    defaults = Settings()
    settings = settings_for(
        sqlite_url,
        tmp_path,
        **{name: getattr(defaults, name) for name in TIGHT},
    )
    async with serving(settings) as live:
        tokens = await demo_people(live.organiser, jurors=10)
        # A room's worth of people connecting at once, each with a stream open beside it.
        url = f"{live.url}/assemblies/jury/streams/plenary"
        async with contextlib.AsyncExitStack() as stack:
            for token in tokens.values():
                await stack.enter_async_context(connected(live.url, token=token))
                stream = await stack.enter_async_context(event_stream(url))
                assert stream.status == 200
        headers = {"Authorization": "Bearer test-admin-token"}
        async with httpx.AsyncClient(base_url=live.url, headers=headers, timeout=10) as api:
            for _ in range(10):
                assert (await api.get("/api/assemblies/jury/links")).status_code == 200


def test_the_limiter_keeps_bounded_memory_however_many_addresses_knock() -> None:
    # Buckets that refill at once are as good as new: none need be kept.
    quick = AddressLimiter(rate_per_second=1e9, burst=2, max_addresses=50)
    assert all(quick.take(f"10.0.{n // 256}.{n % 256}") for n in range(1_000))
    assert len(quick) <= 1
    # Slow ones are kept, up to the cap, the least recently seen forgotten first.
    slow = AddressLimiter(rate_per_second=0.001, burst=1, max_addresses=50)
    assert slow.take("10.9.9.9") and not slow.take("10.9.9.9")
    for n in range(1_000):
        assert slow.take(f"10.0.{n // 256}.{n % 256}")
        assert len(slow) <= 50
        assert not slow.take("10.9.9.9")  # seen again and again: never forgotten
