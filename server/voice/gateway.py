"""The voice messages of the socket (`voice_join`, `voice_ice`, `voice_mute_self`,
`voice_leave`, and observers' `voice_listen` and `voice_listen_answer`): checked strictly,
then handed to the `VoiceService`.

A page never learns anything of Janus's (no session, handle, room or participant id) and
never sets its own mute in Janus: the server alone decides it, from the floor.
"""

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import socketio

from server.connections import Connection
from server.fanout import Fanout
from server.gateway import EdgeCode, error
from server.settings import Settings
from server.telemetry import Metrics
from server.voice.janus_client import Jsep, Json
from server.voice.service import VoiceRefused, VoiceService

# An audio-only offer or answer from a browser is 2 to 6 KiB; anything far larger is no SDP of
# ours.
MAX_SDP_BYTES = 12 * 1024
MAX_CANDIDATE_CHARS = 1024
MAX_MID_CHARS = 32
MAX_MLINE_INDEX = 15
MAX_ROOM_ID_CHARS = 64
# SDP is printable ASCII in lines of `<letter>=<value>`, CRLF between them (RFC 8866).
SDP_LINE = re.compile(r"[a-z]=[\x20-\x7e]*")
CANDIDATE = re.compile(r"(a=)?candidate:[\x20-\x7e]+")

# What a voice message can be refused with, besides the edge's own codes.
VOICE_CODES = (
    "voice_unavailable",
    "forbidden",
    "not_in_room",
    "invalid_sdp",
    "already_joined",
    "not_joined",
    "not_your_turn",
    "muted",
)

Handler = Callable[[Connection, dict[str, Any]], Awaitable[dict[str, Any]]]


class InvalidVoice(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def sdp_offer(value: Any) -> Jsep:
    """The browser's offer, as Janus will receive it; `invalid_sdp` for anything else."""
    return sdp_of("offer", value)


def sdp_answer(value: Any) -> Jsep:
    """The browser's answer to Janus's offer (a listening page's); `invalid_sdp` otherwise."""
    return sdp_of("answer", value)


def sdp_of(kind: Literal["offer", "answer"], value: Any) -> Jsep:
    shape = f'{kind}: {{"type": "{kind}", "sdp": "<SDP>"}}'
    if not isinstance(value, dict) or set(value) != {"type", "sdp"}:
        raise InvalidVoice("invalid_sdp", shape)
    if value["type"] != kind or not isinstance(value["sdp"], str):
        raise InvalidVoice("invalid_sdp", shape)
    sdp: str = value["sdp"]
    if len(sdp.encode()) > MAX_SDP_BYTES:
        raise InvalidVoice("invalid_sdp", f"the SDP is longer than {MAX_SDP_BYTES} bytes")
    lines = sdp.replace("\r\n", "\n").rstrip("\n").split("\n")
    if lines[0] != "v=0" or not all(SDP_LINE.fullmatch(line) for line in lines):
        raise InvalidVoice("invalid_sdp", "not an SDP: lines of <letter>=<value>, from v=0")
    if not any(line.startswith("m=audio ") for line in lines):
        raise InvalidVoice("invalid_sdp", f"the {kind} has no audio")
    return Jsep(type=kind, sdp=sdp)


def ice_candidate(value: Any) -> Json | None:
    """One ICE candidate as the browser gives it, or None for the end of candidates."""
    if value is None:
        return None
    if not isinstance(value, dict) or not set(value) <= {
        "candidate",
        "sdpMid",
        "sdpMLineIndex",
        "usernameFragment",
    }:
        raise InvalidVoice(EdgeCode.INVALID_COMMAND, "candidate: an RTCIceCandidate or null")
    candidate = value.get("candidate")
    mid = value.get("sdpMid")
    index = value.get("sdpMLineIndex")
    fragment = value.get("usernameFragment")
    good = (
        isinstance(candidate, str)
        and len(candidate) <= MAX_CANDIDATE_CHARS
        and (candidate == "" or CANDIDATE.fullmatch(candidate) is not None)
        and (mid is None or (isinstance(mid, str) and len(mid) <= MAX_MID_CHARS))
        and (index is None or (type(index) is int and 0 <= index <= MAX_MLINE_INDEX))
        and (fragment is None or (isinstance(fragment, str) and len(fragment) <= MAX_MID_CHARS))
    )
    if not good:
        raise InvalidVoice(EdgeCode.INVALID_COMMAND, "candidate: an RTCIceCandidate or null")
    checked: Json = {"candidate": candidate}
    if mid is not None:
        checked["sdpMid"] = mid
    if index is not None:
        checked["sdpMLineIndex"] = index
    return checked


class VoiceGateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        fanout: Fanout,
        voice: VoiceService,
        settings: Settings,
        metrics: Metrics,
    ) -> None:
        self.fanout = fanout
        self.voice = voice
        self.settings = settings
        self.metrics = metrics
        handlers: dict[str, Handler] = {
            "voice_join": self.join,
            "voice_ice": self.ice,
            "voice_mute_self": self.mute_self,
            "voice_leave": self.leave,
            "voice_listen": self.listen,
            "voice_listen_answer": self.listen_answer,
        }
        for name, handler in handlers.items():
            sio.on(name, self._guarded(name, handler))

    def _guarded(self, name: str, handler: Handler) -> Callable[..., Awaitable[dict[str, Any]]]:
        """The checks every message gets (connected, rate, size, one object), then `handler`;
        a refusal answers its code and changes nothing."""

        async def guarded(sid: str, data: Any = None, *extra: Any) -> dict[str, Any]:
            connection = self.fanout.connections.get(sid)
            if connection is None:
                return error(EdgeCode.NOT_CONNECTED)
            if not connection.bucket.take():
                return self._refused(error(EdgeCode.RATE_LIMITED, "slow down: too many messages"))
            try:
                size = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
            except (TypeError, ValueError):
                return self._refused(error(EdgeCode.INVALID_COMMAND, "the payload is not JSON"))
            if size > self.settings.max_payload_bytes:
                return self._refused(
                    error(
                        EdgeCode.PAYLOAD_TOO_LARGE,
                        f"payloads are capped at {self.settings.max_payload_bytes} bytes",
                    )
                )
            if extra or not (data is None or isinstance(data, dict)):
                return self._refused(error(EdgeCode.INVALID_COMMAND, f"{name} takes one object"))
            self.metrics.commands.labels(command=name).inc()
            try:
                return await handler(connection, data or {})
            except (InvalidVoice, VoiceRefused) as refusal:
                return self._refused(error(refusal.code, refusal.detail))

        return guarded

    def _refused(self, answer: dict[str, Any]) -> dict[str, Any]:
        self.metrics.refusals.labels(code=answer["error"]).inc()
        return answer

    async def join(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        if not set(data) <= {"offer", "room"}:
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_join takes offer and room")
        room = data.get("room")
        if room is not None and not (isinstance(room, str) and len(room) <= MAX_ROOM_ID_CHARS):
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "room: the id of a room you run")
        offer = sdp_offer(data.get("offer"))
        join, answer = await self.voice.join(connection, offer, room)
        return {
            "ok": True,
            "answer": {"type": "answer", "sdp": answer.sdp},
            "room": join.room,
            "muted": join.janus_muted,
        }

    async def ice(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        if set(data) != {"candidate"}:
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_ice takes candidate")
        await self.voice.ice(connection, ice_candidate(data["candidate"]))
        return {"ok": True}

    async def mute_self(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        muted = data.get("muted")
        if set(data) != {"muted"} or not isinstance(muted, bool):
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_mute_self takes muted: bool")
        return {"ok": True, "muted": await self.voice.mute_self(connection, muted)}

    async def leave(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        if data:
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_leave takes nothing")
        await self.voice.leave(connection.sid)
        return {"ok": True}

    async def listen(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        if not set(data) <= {"room"}:
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_listen takes room")
        room = data.get("room")
        if room is not None and not (isinstance(room, str) and len(room) <= MAX_ROOM_ID_CHARS):
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "room: the id of a room")
        listened, offer = await self.voice.listening.listen(connection, room)
        return {"ok": True, "room": listened, "offer": {"type": "offer", "sdp": offer.sdp}}

    async def listen_answer(self, connection: Connection, data: dict[str, Any]) -> dict[str, Any]:
        if set(data) != {"answer"}:
            raise InvalidVoice(EdgeCode.INVALID_COMMAND, "voice_listen_answer takes answer")
        await self.voice.listening.answer(connection, sdp_answer(data["answer"]))
        return {"ok": True}
