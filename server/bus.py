"""Redis pub/sub between palabre processes: a signal, never the data.

A process that commits says "assembly A is committed up to position P"; every other process
then reads what it lacks from the store, in position order (writers publish positions, readers
fetch rows, as Synapse's replication does). A signal that comes late, twice, out of order or
never costs nothing: the store decides what is new, and each live assembly also looks at the
store every few seconds and whenever the bus comes back. Withdrawn invites travel the same way,
so their users are shown out on every process.

Payloads are JSON, never pickle: Redis is a trusted bus, not a trusted code path.
"""

import asyncio
import json
import logging
import secrets
from typing import Any

import redis.asyncio as redis

from server.hub import Hub
from server.runtime import Commit

log = logging.getLogger("palabre.bus")

# Pub/sub channels are shared by every database of a Redis server: each name carries the
# database number, so deployments (or test runs) on other databases never hear each other.
COMMITS_CHANNEL = "palabre:{db}:commits"
REVOCATIONS_CHANNEL = "palabre:{db}:revocations"
# After losing Redis, wait this long before trying again, so a restart is not hammered.
RECONNECT_SECONDS = 1.0
# Starting up waits this long for the subscription before giving up on Redis.
SUBSCRIBE_TIMEOUT_SECONDS = 10.0


def commit_signal(node: str, assembly_id: str, position: int) -> str:
    return json.dumps({"node": node, "assembly": assembly_id, "position": position})


def revocation_signal(node: str, invite_id: str) -> str:
    return json.dumps({"node": node, "invite": invite_id})


class RedisBus:
    def __init__(self, url: str, hub: Hub) -> None:
        self.url = url
        self.hub = hub
        # Tells this process's own messages apart when they come back from Redis.
        self.node = secrets.token_hex(8)
        self._client: redis.Redis | None = None
        self._commits = self._revocations_channel = ""
        # The latest position to announce per assembly: a burst of commits is one signal.
        self._positions: dict[str, int] = {}
        self._revocations: list[str] = []
        self._news = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        self._client = redis.from_url(self.url)
        await self._client.ping()
        db = self._client.connection_pool.connection_kwargs.get("db", 0)
        self._commits = COMMITS_CHANNEL.format(db=db)
        self._revocations_channel = REVOCATIONS_CHANNEL.format(db=db)
        self.hub.shared = True
        self.hub.subscribe(self.on_commit)
        self.hub.on_revoke(self.on_revoke)
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="palabre-bus-send"),
            asyncio.create_task(self._listen_forever(), name="palabre-bus-listen"),
        ]
        await asyncio.wait_for(self._subscribed.wait(), timeout=SUBSCRIBE_TIMEOUT_SECONDS)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def on_commit(self, commit: Commit) -> None:
        """Announce this process's own commits; what it read from the store is not news."""
        if commit.local:
            assembly_id = commit.runtime.id
            self._positions[assembly_id] = max(commit.position, self._positions.get(assembly_id, 0))
            self._news.set()

    async def on_revoke(self, invite_id: str, local: bool) -> None:
        if local:
            self._revocations.append(invite_id)
            self._news.set()

    async def _send_forever(self) -> None:
        assert self._client is not None
        while True:
            await self._news.wait()
            self._news.clear()
            positions, self._positions = self._positions, {}
            revocations, self._revocations = self._revocations, []
            messages = [
                (self._commits, commit_signal(self.node, assembly_id, position))
                for assembly_id, position in positions.items()
            ] + [(self._revocations_channel, revocation_signal(self.node, i)) for i in revocations]
            for channel, message in messages:
                try:
                    await self._client.publish(channel, message)
                except redis.RedisError:
                    # Commits: the others poll the store. A revocation: the invite is refused
                    # at the next connect anyway; only open sessions linger.
                    log.warning("could not publish to %s", channel, exc_info=True)

    async def _listen_forever(self) -> None:
        assert self._client is not None
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._commits, self._revocations_channel)
                    if self._subscribed.is_set():
                        # Back after an outage: what was said meanwhile is in the store.
                        for runtime in self.hub.live():
                            runtime.catch_up_later()
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the bus; reconnecting", exc_info=True)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _receive(self, raw: bytes | str) -> None:
        try:
            data: Any = json.loads(raw)
            if data.get("node") == self.node:
                return
            if "invite" in data:
                invite_id = data["invite"]
                if not isinstance(invite_id, str):
                    raise TypeError("invite")
                await self.hub.revoked(invite_id, local=False)
                return
            assembly_id, position = data["assembly"], data["position"]
            if not isinstance(assembly_id, str) or not isinstance(position, int):
                raise TypeError("assembly or position")
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignored a malformed bus message")
            return
        # An assembly not live here needs nothing: it loads from the store when first used.
        runtime = self.hub.live_runtime(assembly_id)
        if runtime is not None:
            runtime.announce(position)
