"""Rate limits per client address: opening socket connections and SSE streams, and calling the
organiser's API, where no connection of its own can carry a limit."""

import math
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from server.connections import TokenBucket

# Each address costs a few hundred bytes; past this many, the least recently seen are forgotten
# (an address forgotten while limited gets a fresh burst: the price of bounded memory).
MAX_TRACKED_ADDRESSES = 10_000
RATE_LIMITED = "rate_limited"


def client_address(scope: Mapping[str, Any]) -> str:
    """The client's address as the ASGI server saw it (behind a proxy, uvicorn takes it from
    X-Forwarded-For when the proxy is trusted: `--forwarded-allow-ips`)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class AddressLimiter:
    """A token bucket per client address, in bounded memory."""

    def __init__(
        self, rate_per_second: float, burst: int, *, max_addresses: int = MAX_TRACKED_ADDRESSES
    ) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.max_addresses = max_addresses
        # Least recently seen first.
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, address: str) -> bool:
        bucket = self._buckets.pop(address, None) or TokenBucket(self.rate_per_second, self.burst)
        self._buckets[address] = bucket
        allowed = bucket.take()
        self._forget_idle()
        return allowed

    def retry_after_seconds(self, address: str) -> int:
        """Whole seconds until `address` may take again (for an HTTP Retry-After)."""
        bucket = self._buckets.get(address)
        return max(1, math.ceil(bucket.seconds_to_next())) if bucket else 1

    def _forget_idle(self) -> None:
        # A full bucket is as good as none: drop those at the idle end, then the oldest beyond
        # the cap. Each take forgets at most what it may have added, plus what went idle.
        while self._buckets:
            oldest, bucket = next(iter(self._buckets.items()))
            if not bucket.full() and len(self._buckets) <= self.max_addresses:
                return
            del self._buckets[oldest]


def too_many(detail: str, retry_after_seconds: int | None = None) -> JSONResponse:
    headers = None if retry_after_seconds is None else {"Retry-After": str(retry_after_seconds)}
    return JSONResponse({"error": RATE_LIMITED, "detail": detail}, 429, headers=headers)


class LimitedStreams:
    """An ASGI endpoint for long-lived responses: per client address, a rate of opening and a
    cap on how many are open at once (HTTP 429 beyond either); within them, `serve`."""

    def __init__(
        self,
        serve: Callable[[Request], Awaitable[Response]],
        *,
        rate_per_second: float,
        burst: int,
        per_address: int,
    ) -> None:
        self.serve = serve
        self.opening = AddressLimiter(rate_per_second, burst)
        self.per_address = per_address
        # Only addresses with a stream open: bounded by the streams themselves.
        self.open: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        refusal = self._refusal(address)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        self.open[address] += 1
        try:
            response = await self.serve(Request(scope, receive))
            await response(scope, receive, send)
        finally:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]

    def _refusal(self, address: str) -> Response | None:
        if self.open[address] >= self.per_address:
            return too_many(f"at most {self.per_address} streams open at once per address")
        if not self.opening.take(address):
            retry = self.opening.retry_after_seconds(address)
            return too_many("streams opened too often: try again later", retry)
        return None
