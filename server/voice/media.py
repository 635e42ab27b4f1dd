"""The Janus instances voice runs on: palabre's own (started and stopped with it) or the ones
`PALABRE_JANUS_URLS` names, each kept in use by a `JanusLink` with one AudioBridge on it, and
the Streaming mountpoints through which observers listen to its rooms."""

import logging
from collections.abc import Awaitable, Callable

from server.settings import Settings
from server.voice.audiobridge import AudioBridge, Participation
from server.voice.janus_client import JanusClient, JanusError, JanusSession
from server.voice.janus_link import JanusLink
from server.voice.janus_process import JanusOptions, OwnJanus, janus_binary, start_janus
from server.voice.room_events import RoomEvent
from server.voice.streaming import Streaming

log = logging.getLogger("palabre.voice")


class MediaServer:
    """One Janus: its link, and the AudioBridge and Streaming palabre owns on it once a session
    is open (a room's mix is forwarded on loopback, so its mountpoint is on the same Janus)."""

    def __init__(
        self,
        client: JanusClient,
        admin_key: str,
        *,
        on_event: Callable[["MediaServer", RoomEvent], None],
        on_lost: Callable[["MediaServer"], None],
        on_restarted: Callable[["MediaServer", list[Participation]], Awaitable[None]],
        own: OwnJanus | None = None,
    ) -> None:
        self.client = client
        self.own = own
        self.bridge: AudioBridge | None = None
        self.streaming: Streaming | None = None
        self._admin_key = admin_key
        self._on_event = on_event
        self._on_lost = on_lost
        self._on_restarted = on_restarted
        self.link = JanusLink(
            client,
            on_session=self._session,
            on_lost=self._lost,
            revive=None if own is None else own.restart,
        )

    @property
    def available(self) -> bool:
        return self.link.available and self.bridge is not None

    async def _session(self, session: JanusSession) -> None:
        if self.bridge is None or self.streaming is None:
            self.streaming = await Streaming.open(session, self._admin_key)
            self.bridge = await AudioBridge.open(
                session, self._admin_key, lambda change: self._on_event(self, change)
            )
            return
        # Mountpoints first, on the ports they had, so the forwarders made again reach them.
        await self.streaming.rebind(session)
        dropped = await self.bridge.rebind(session)
        await self._on_restarted(self, dropped)

    def _lost(self, error: JanusError) -> None:
        log.warning("Janus went away", extra={"janus": self.client.url, "reason": str(error)})
        self._on_lost(self)

    async def stop(self) -> None:
        try:
            await self.link.stop()
            await self.client.aclose()
        finally:
            if self.own is not None:
                await self.own.stop()


async def janus_urls(settings: Settings) -> tuple[list[str], OwnJanus | None]:
    """The Janus APIs to use, and palabre's own Janus when it had to start one (unset
    `PALABRE_JANUS_URLS` and a `janus` binary); no URL at all means voice is off."""
    if settings.janus_urls is not None:
        return settings.janus_urls, None
    binary = janus_binary()
    if binary is None:
        return [], None
    own = await start_janus(JanusOptions.from_settings(settings, binary))
    return [own.url], own
