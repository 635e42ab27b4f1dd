"""Redis pub/sub between palabre processes: each commit is told to every other process, which
applies it and shows it to its own sockets. The log stays the truth; the bus only carries news.

Payloads are JSON, never pickle: Redis is a trusted bus, not a trusted code path. A message
lost while Redis was away is harmless: every live assembly catches up from the store on
reconnection, and a seq gap seen in a message does the same.
"""

import asyncio
import json
import logging
import secrets
from typing import Any

import redis.asyncio as redis

from facilitation.codec import decode_event
from server.hub import Hub
from server.runtime import AssemblyRuntime
from server.store import StoredEvent

log = logging.getLogger("palabre.bus")

CHANNEL_PREFIX = "palabre:assembly:"
# After losing Redis, wait this long before trying again, so a restart is not hammered.
RECONNECT_SECONDS = 1.0


def encode_records(node: str, assembly_id: str, records: list[StoredEvent]) -> str:
    return json.dumps(
        {"node": node, "assembly": assembly_id, "records": [record.record() for record in records]}
    )


def decode_records(data: dict[str, Any]) -> list[StoredEvent]:
    return [
        StoredEvent(
            position=record["position"],
            event=decode_event(record["event"]),
            prev_hash=record["prev_hash"],
            hash=record["hash"],
            body=record["body"],
        )
        for record in data["records"]
    ]


class RedisBus:
    def __init__(self, url: str, hub: Hub) -> None:
        self.url = url
        self.hub = hub
        # Tells this process's own messages apart when they come back from Redis.
        self.node = secrets.token_hex(8)
        self._client: redis.Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._client = redis.from_url(self.url)
        await self._client.ping()
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="palabre-bus-send"),
            asyncio.create_task(self._listen_forever(), name="palabre-bus-listen"),
        ]
        await asyncio.wait_for(self._subscribed.wait(), timeout=10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def broadcast(self, runtime: AssemblyRuntime, records: list[StoredEvent]) -> None:
        """Called by a writer after its commit; a single sender keeps the order."""
        self._outbox.put_nowait(
            (CHANNEL_PREFIX + runtime.id, encode_records(self.node, runtime.id, records))
        )

    async def _send_forever(self) -> None:
        assert self._client is not None
        while True:
            channel, message = await self._outbox.get()
            try:
                await self._client.publish(channel, message)
            except redis.RedisError:
                # The others will read it from the store when they next see a gap or reconnect.
                log.warning("could not publish to %s", channel, exc_info=True)

    async def _listen_forever(self) -> None:
        assert self._client is not None
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                    if self._subscribed.is_set():
                        # Back after an outage: what was said meanwhile is in the store.
                        for runtime in self.hub.live():
                            runtime.catch_up_later()
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "pmessage":
                            self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the bus; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_SECONDS)

    def _receive(self, raw: bytes | str) -> None:
        try:
            data = json.loads(raw)
            if data.get("node") == self.node:
                return
            runtime = self.hub.live_runtime(data["assembly"])
            records = decode_records(data)
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed bus message")
            return
        # An assembly not live here needs nothing: it loads from the store when first used.
        if runtime is not None:
            runtime.absorb(records)
