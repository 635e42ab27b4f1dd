"""One Janus kept in use for as long as palabre runs: a session opened and handed to its owner
to set up what it owns there, watched, and opened again after Janus went away.

What to do about a loss is the owner's: `on_lost` hears of it at once (to tell the pages that
voice is down), and `on_session` receives each new session (to make its rooms again). For
palabre's own Janus, `revive` starts the process again before each new attempt.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from server.voice.janus_client import JanusClient, JanusError, JanusSession

log = logging.getLogger("palabre.voice")

# A restarted Janus answers within a second or so; trying again this often costs nothing.
RETRY_SECONDS = 1.0


class JanusLink:
    """A session on one Janus, opened again whenever it is lost, until `stop`."""

    def __init__(
        self,
        client: JanusClient,
        *,
        on_session: Callable[[JanusSession], Awaitable[None]],
        on_lost: Callable[[JanusError], None] | None = None,
        revive: Callable[[], Awaitable[None]] | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.client = client
        self.session: JanusSession | None = None
        # Set while a session is open and its owner has set it up.
        self.ready = asyncio.Event()
        self._on_session = on_session
        self._on_lost = on_lost
        self._revive = revive
        self._retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None

    @property
    def available(self) -> bool:
        return self.ready.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop trying, and close the session when one is open."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.ready.clear()
        if self.session is not None:
            await self.session.destroy()
            self.session = None

    async def _run(self) -> None:
        first = True
        while True:
            session = await self._open(revive_first=not first)
            first = False
            self.session = session
            self.ready.set()
            await session.ended.wait()
            self.ready.clear()
            self.session = None
            if session.lost is None:
                return
            if self._on_lost is not None:
                self._on_lost(session.lost)

    async def _open(self, *, revive_first: bool) -> JanusSession:
        """A session set up by its owner, trying every `retry_seconds` until one is."""
        revive = revive_first
        while True:
            if revive and self._revive is not None:
                try:
                    await self._revive()
                except Exception:
                    log.exception("could not start Janus again", extra={"janus": self.client.url})
            revive = True
            session: JanusSession | None = None
            try:
                session = await self.client.create_session()
                await self._on_session(session)
                return session
            except JanusError as error:
                log.warning(
                    "Janus is not available", extra={"janus": self.client.url, "reason": str(error)}
                )
            except Exception:
                # A fault of the owner's setup: logged, and tried again rather than leaving
                # voice off for the rest of the run.
                log.exception("setting up a Janus session failed", extra={"janus": self.client.url})
            if session is not None:
                await session.destroy()
            await asyncio.sleep(self._retry_seconds)
