"""The palabre application: Starlette for HTTP, python-socketio for the live rooms."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.bootstrap import build
from server.bus import RedisBus
from server.fanout import Fanout
from server.gateway import Gateway
from server.heap import Heap
from server.history import History
from server.logs import configure_logging
from server.pages import Pages
from server.runtime import UNAVAILABLE, Unavailable
from server.scheduler import Clock, wall_clock_ms
from server.settings import HARD_MESSAGE_LIMIT_BYTES, Settings
from server.sse import observer_stream
from server.telemetry import Metrics
from server.throttle import LimitedStreams
from server.voice.gateway import VoiceGateway
from server.voice.service import VoiceService
from server.wire import DepthLimitedPacket, guard_engineio


class Palabre:
    """Every part of a running server, built from settings; `asgi` is what uvicorn serves."""

    def __init__(self, settings: Settings, *, clock: Clock = wall_clock_ms) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        services = build(settings, clock=clock, live=True)
        self.store = services.store
        self.hub = services.hub
        self.invites = services.invites
        self.synthesiser = services.synthesiser
        self.organiser = services.organiser
        guard_engineio()
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            # Origins are checked at connect, where a refusal can say why (python-engineio's
            # own check answers a bare 400); an empty list also keeps it from adding CORS headers.
            cors_allowed_origins=[],
            max_http_buffer_size=HARD_MESSAGE_LIMIT_BYTES,
            serializer=DepthLimitedPacket,
            logger=False,
            engineio_logger=False,
        )
        self.heap = Heap(
            enabled=settings.gc_freeze,
            every_seconds=settings.gc_freeze_every_seconds,
            thresholds=settings.gc_thresholds,
            pauses=self.metrics.gc_pauses,
        )
        self.fanout = Fanout(self.sio, self.metrics)
        self.hub.subscribe(self.fanout.publish)
        self.hub.on_revoke(self.fanout.close_invite_streams)
        self.gateway = Gateway(
            self.sio, self.hub, self.invites, self.fanout, settings, self.metrics
        )
        self.hub.on_revoke(self.gateway.drop_invite)
        self.history = History(self.sio, self.hub, self.fanout, settings, self.metrics)
        self.voice = VoiceService(settings, self.hub, self.sio, self.fanout, clock)
        self.hub.subscribe(self.voice.on_commit)
        self.voice_gateway = VoiceGateway(self.sio, self.fanout, self.voice, settings, self.metrics)
        self.gateway.voice_available = lambda: self.voice.available
        self.gateway.on_disconnect.append(self.voice.leave)
        self.streams = LimitedStreams(
            self.stream,
            rate_per_second=settings.sse_rate_per_second,
            burst=settings.sse_burst,
            per_address=settings.sse_streams_per_address,
        )
        self.bus = RedisBus(settings.redis_url, self.hub) if settings.redis_url else None
        self.http = Starlette(
            routes=self.routes(),
            lifespan=self.lifespan,
            exception_handlers={Unavailable: self.unavailable},
        )
        self.asgi = socketio.ASGIApp(self.sio, other_asgi_app=self.http)

    def routes(self) -> list[BaseRoute]:
        from server.organiser_api import organiser_routes
        from server.reports.http import PublicReports

        return [
            Route("/healthz", self.healthz),
            Route("/metrics", self.prometheus),
            Route("/assemblies/{assembly}/streams/{stream}", self.streams, methods=["GET"]),
            *organiser_routes(self),
            *PublicReports(self).routes(),
            *Pages(self).routes(),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        configure_logging()
        await self.store.start()
        if self.bus is not None:
            await self.bus.start()
        await self.hub.start_all()
        # The assemblies are loaded: what is alive now stays, out of the collector's way.
        self.heap.start()
        self.voice.start()
        try:
            yield
        finally:
            await self.heap.stop()
            await self.voice.stop()
            if self.synthesiser is not None:
                await self.synthesiser.stop()
            if self.bus is not None:
                await self.bus.stop()
            await self.hub.stop()
            await self.fanout.stop()
            await self.store.close()

    async def healthz(self, request: Request) -> Response:
        try:
            assemblies = len(await self.store.assembly_ids())
        except Exception as problem:
            return JSONResponse({"ok": False, "database": type(problem).__name__}, 503)
        return JSONResponse(
            {
                "ok": True,
                "assemblies": assemblies,
                "live": len(self.hub.live()),
                "voice": self.voice.health(),
            }
        )

    async def unavailable(self, request: Request, problem: Exception) -> Response:
        """An assembly that cannot answer in time: the client may try again shortly."""
        return JSONResponse(
            {"error": UNAVAILABLE, "detail": str(problem)},
            status_code=503,
            headers={"retry-after": "1"},
        )

    async def prometheus(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def stream(self, request: Request) -> Response:
        return await observer_stream(request, self.hub, self.invites, self.fanout, self.metrics)


def create_app(settings: Settings | None = None, **options: Any) -> Any:
    """The ASGI app uvicorn serves: `uvicorn --factory server.app:create_app`."""
    return Palabre(settings or Settings(), **options).asgi
