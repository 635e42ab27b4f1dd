"""Streaming mountpoints made on demand: a room's forwarded mix comes in as RTP on loopback,
and any number of observers receive it from there, for the cost of one encode.

Each observer has a handle of their own, which palabre holds (`watch`, `start`): the page
only ever sees the SDP offer Janus makes and sends its answer and ICE candidates back."""

import contextlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from server.voice.audiobridge import OPUS_PAYLOAD_TYPE
from server.voice.janus_client import JanusError, JanusRefused, JanusSession, Jsep, PluginHandle
from server.voice.janus_process import LOOPBACK

STREAMING_PLUGIN = "janus.plugin.streaming"
# The mid of the mountpoint's one audio stream in the SDP observers receive.
AUDIO_MID = "a"


@dataclass(frozen=True)
class Mountpoint:
    """An RTP mountpoint palabre owns: it listens on `port` of loopback only."""

    mountpoint_id: str
    port: int
    secret: str
    # Observers' pages never see it: palabre watches on their behalf.
    pin: str
    payload_type: int
    description: str


class UnknownMountpoint(LookupError):
    """A mountpoint this object did not create (or has destroyed)."""


class Streaming:
    """The mountpoints palabre owns in one Janus session."""

    def __init__(self, session: JanusSession, control: PluginHandle, admin_key: str) -> None:
        self._session = session
        # Mountpoints are made, destroyed and asked about through a handle that watches nothing.
        self._control = control
        self._admin_key = admin_key
        self._mountpoints: dict[str, Mountpoint] = {}

    @classmethod
    async def open(cls, session: JanusSession, admin_key: str) -> "Streaming":
        return cls(session, await session.attach(STREAMING_PLUGIN), admin_key)

    @property
    def mountpoints(self) -> Mapping[str, Mountpoint]:
        return self._mountpoints

    async def create_mountpoint(
        self,
        mountpoint_id: str,
        *,
        port: int = 0,
        payload_type: int = OPUS_PAYLOAD_TYPE,
        description: str = "",
    ) -> Mountpoint:
        """A mountpoint receiving Opus RTP on loopback, on `port` (0: one Janus picks)."""
        wanted = Mountpoint(
            mountpoint_id,
            port,
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            payload_type,
            description or mountpoint_id,
        )
        mountpoint = await self._create(wanted)
        self._mountpoints[mountpoint_id] = mountpoint
        return mountpoint

    async def _create(self, wanted: Mountpoint) -> Mountpoint:
        reply = await self._control.send(
            {
                "request": "create",
                "admin_key": self._admin_key,
                "type": "rtp",
                "id": wanted.mountpoint_id,
                "description": wanted.description,
                "secret": wanted.secret,
                "pin": wanted.pin,
                "is_private": True,
                "media": [
                    {
                        "type": "audio",
                        "mid": AUDIO_MID,
                        "port": wanted.port,
                        "pt": wanted.payload_type,
                        "codec": "opus",
                        # Only this machine may feed it.
                        "iface": LOOPBACK,
                    }
                ],
            }
        )
        stream = reply.data.get("stream")
        ports = stream.get("ports") if isinstance(stream, dict) else None
        first = ports[0] if isinstance(ports, list) and ports else None
        bound = first.get("port") if isinstance(first, dict) else None
        if not isinstance(bound, int):
            raise JanusRefused(0, "a mountpoint was created without a port")
        return Mountpoint(
            wanted.mountpoint_id,
            bound,
            wanted.secret,
            wanted.pin,
            wanted.payload_type,
            wanted.description,
        )

    async def destroy_mountpoint(self, mountpoint_id: str) -> None:
        mountpoint = self._mountpoint(mountpoint_id)
        await self._control.send(
            {"request": "destroy", "id": mountpoint_id, "secret": mountpoint.secret}
        )
        del self._mountpoints[mountpoint_id]

    async def media_age_ms(self, mountpoint_id: str) -> int | None:
        """How long ago the mountpoint last received RTP (before any, since it was made)."""
        mountpoint = self._mountpoint(mountpoint_id)
        reply = await self._control.send(
            {"request": "info", "id": mountpoint_id, "secret": mountpoint.secret}
        )
        info = reply.data.get("info")
        media = info.get("media") if isinstance(info, dict) else None
        ages = [
            age
            for entry in (media if isinstance(media, list) else [])
            if isinstance(entry, dict) and isinstance(age := entry.get("age_ms"), int)
        ]
        return min(ages) if ages else None

    async def rebind(self, session: JanusSession) -> None:
        """Make again, in a new session (after Janus restarted), every mountpoint, each on the
        port it had, so forwarders made again to the same ports still reach them."""
        self._session = session
        self._control = await session.attach(STREAMING_PLUGIN)
        for mountpoint in list(self._mountpoints.values()):
            self._mountpoints[mountpoint.mountpoint_id] = await self._create(mountpoint)

    async def watch(self, mountpoint_id: str) -> tuple[PluginHandle, Jsep]:
        """A new handle watching the mountpoint, and Janus's SDP offer for it (receive-only
        audio for the watcher); the watch starts with `start` and the watcher's answer."""
        mountpoint = self._mountpoint(mountpoint_id)
        handle = await self._session.attach(STREAMING_PLUGIN)
        try:
            reply = await handle.send(
                {"request": "watch", "id": mountpoint_id, "pin": mountpoint.pin}
            )
            if reply.jsep is None or reply.jsep.type != "offer":
                raise JanusRefused(0, "a watch was answered without an SDP offer")
        except JanusError:
            with contextlib.suppress(JanusError):
                await handle.detach()
            raise
        return handle, Jsep(type="offer", sdp=unnamed(reply.jsep.sdp))

    async def start(self, handle: PluginHandle, answer: Jsep) -> None:
        """Start sending to a watcher, given its SDP answer to the offer `watch` made."""
        await handle.send({"request": "start"}, jsep=answer)

    async def stop_watching(self, handle: PluginHandle) -> None:
        """Let a watcher's handle go, and with it its PeerConnection."""
        await handle.detach()

    def _mountpoint(self, mountpoint_id: str) -> Mountpoint:
        mountpoint = self._mountpoints.get(mountpoint_id)
        if mountpoint is None:
            raise UnknownMountpoint(mountpoint_id)
        return mountpoint


def unnamed(sdp: str) -> str:
    """The SDP without its session name, where Janus writes the mountpoint's id: watchers
    learn nothing of Janus's (the session name means nothing to a browser)."""
    return re.sub(r"^s=[^\r\n]*", "s=-", sdp, count=1, flags=re.MULTILINE)
