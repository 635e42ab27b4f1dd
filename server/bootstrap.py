"""Wires palabre's services once, for `serve`, the CLI and the tests alike.

`serve` adds the sockets, the fan-out and the bus on top (server/app.py); the CLI uses these
services alone, without deadlines: a tool that prints links must never end a speaker's turn.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from server.hub import Hub
from server.invites import Invites
from server.organiser import Organiser
from server.scheduler import Clock, wall_clock_ms
from server.settings import Settings
from server.store import Store
from server.synthesis import Synthesiser


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    store: Store
    hub: Hub
    invites: Invites
    organiser: Organiser
    # Proposes merges on the plenary's map after each recall: a live server's only.
    synthesiser: Synthesiser | None = None


def build(settings: Settings, *, clock: Clock = wall_clock_ms, live: bool = True) -> Services:
    """Every service over the settings' database; `live` ones fire deadlines (a server), the
    others never do (a command-line tool)."""
    store = Store(settings.database_url)
    hub = Hub(
        store,
        clock=clock,
        snapshot_every_events=settings.snapshot_every_events,
        recent_per_stream=settings.resume_max_events,
        ballot_secret=settings.signing_key,
        schedule=live,
        wait_seconds=settings.command_timeout_seconds,
    )
    invites = Invites(
        store,
        settings.signing_key,
        settings.address,
        timedelta(days=settings.invite_ttl_days),
    )
    # A withdrawn invite (here, or on another process: the bus) is read again before it is used.
    hub.on_revoke(invites.forget)
    synthesiser = None
    if live:
        synthesiser = Synthesiser()
        hub.subscribe(synthesiser.on_commit)
    return Services(settings, clock, store, hub, invites, Organiser(hub, invites), synthesiser)


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """The store opened, and every live assembly stopped and the store closed afterwards."""
    await services.store.start()
    try:
        yield services
    finally:
        try:
            if services.synthesiser is not None:
                await services.synthesiser.stop()
            await services.hub.stop()
        finally:
            await services.store.close()
