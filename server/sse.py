"""A read-only stream for anyone as Server-Sent Events: `id:` is the seq, resumable with
Last-Event-ID, so a newsroom can follow a room with curl or any SSE client."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from facilitation import ASSEMBLY_STREAM, Assembly
from server.audience import Audience
from server.broadcast import encode_json
from server.fanout import Fanout, catch_up
from server.hub import Hub
from server.invites import InviteRefused, Invites
from server.runtime import Unavailable
from server.telemetry import Metrics


@dataclass(frozen=True)
class Refused:
    status: int
    code: str


# Tells proxies to keep the connection open between events.
PING_SECONDS = 15


def _last_seq(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


async def observer_stream(
    request: Request, hub: Hub, invites: Invites, fanout: Fanout, metrics: Metrics
) -> Response:
    assembly_id = request.path_params["assembly"]
    stream = request.path_params["stream"]
    # Unavailable is answered by the app's handler, as for pages and the API: 503, Retry-After.
    runtime = await hub.get(assembly_id)
    if runtime is None:
        return JSONResponse({"error": "assembly_not_found"}, status_code=404)
    token = request.query_params.get("token")
    invite_id: str | None = None
    if token is not None:
        try:
            invite = await invites.resolve(token)
        except InviteRefused as refusal:
            return JSONResponse({"error": refusal.code, "detail": refusal.detail}, 403)
        if invite.assembly_id != assembly_id:
            return JSONResponse({"error": "invalid_token"}, status_code=403)
        invite_id = invite.id

    # Subscribe before reading, so nothing committed in between is missed; duplicates are
    # dropped by seq below.
    queue = fanout.subscribe(assembly_id, stream, invite_id)
    after = _last_seq(request)

    def look(state: Assembly) -> Refused | tuple[int, list[dict[str, Any]], dict[str, Any] | None]:
        if token is None and not state.public:
            return Refused(403, "private_assembly")
        if stream != ASSEMBLY_STREAM and stream not in state.rooms:
            return Refused(404, "room_not_found")
        missed, view = catch_up(runtime, state, stream, after, Audience.OBSERVER)
        return state.seqs.get(stream, 0), missed, view

    try:
        seen = await runtime.read(look)
    except Unavailable:
        fanout.unsubscribe(assembly_id, stream, queue)
        raise
    if isinstance(seen, Refused):
        fanout.unsubscribe(assembly_id, stream, queue)
        return JSONResponse({"error": seen.code}, status_code=seen.status)
    head, backlog, snapshot = seen

    async def events() -> AsyncIterator[ServerSentEvent]:
        metrics.sse_streams.inc()
        try:
            last = head
            if snapshot is not None:
                yield ServerSentEvent(data=encode_json(snapshot), event="snapshot", id=str(head))
            for payload in backlog:
                yield ServerSentEvent(
                    data=encode_json(payload), event="event", id=str(payload["seq"])
                )
            while True:
                sent = await queue.get()
                if sent is None:
                    return
                if sent.seq <= last:
                    continue
                last = sent.seq
                # Encoded once by the fan-out for every reader of the stream.
                yield ServerSentEvent(data=sent.text, event="event", id=str(sent.seq))
        finally:
            fanout.unsubscribe(assembly_id, stream, queue)
            metrics.sse_streams.dec()

    return EventSourceResponse(events(), ping=PING_SECONDS)
