"""The pages: jinja2 shells in the viewer's language, with behaviour in ES modules.

Front-end packages come from npm (`web/package.json`) and are served as ES modules behind an
import map: no bundler, no CDN. Every page carries a strict Content-Security-Policy.
"""

import dataclasses
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from facilitation import PLENARY_ROOM, Assembly, Role
from facilitation.state import Rules
from server.i18n import LANGUAGE_NAMES, LANGUAGES, choose_language, gettext_for, messages
from server.invites import InviteRefused

if TYPE_CHECKING:
    from server.app import Palabre

WEB = Path(__file__).resolve().parents[1] / "web"
NODE_MODULES = WEB / "node_modules"
# The npm files the pages import, by the name the import map gives them.
VENDOR = {
    "preact.module.js": NODE_MODULES / "preact" / "dist" / "preact.module.js",
    "hooks.module.js": NODE_MODULES / "preact" / "hooks" / "dist" / "hooks.module.js",
    "htm.module.js": NODE_MODULES / "htm" / "dist" / "htm.module.js",
    "socket.io.esm.min.js": NODE_MODULES / "socket.io-client" / "dist" / "socket.io.esm.min.js",
}
IMPORT_MAP = {
    "imports": {
        "preact": "/vendor/preact.module.js",
        "preact/hooks": "/vendor/hooks.module.js",
        "htm": "/vendor/htm.module.js",
        "socket.io-client": "/vendor/socket.io.esm.min.js",
    }
}
LANGUAGE_COOKIE = "palabre_lang"
# A year: the choice of language is a preference, not a session.
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600


class Pages:
    def __init__(self, app: "Palabre") -> None:
        self.app = app
        self.templates = Environment(
            loader=FileSystemLoader(WEB / "templates"),
            autoescape=select_autoescape(default=True),
            extensions=["jinja2.ext.i18n"],
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index),
            Route("/join/{token}", self.join),
            Route("/live", self.live),
            Route("/watch/{assembly}", self.watch),
            Route("/vendor/{name}", self.vendor),
            Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
        ]

    def render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> Response:
        language = choose_language(
            request.query_params.get("lang"),
            request.cookies.get(LANGUAGE_COOKIE),
            request.headers.get("accept-language", ""),
        )
        nonce = secrets.token_urlsafe(16)
        page_config = {
            "lang": language,
            "messages": messages(language),
            **context.pop("config", {}),
        }
        body = self.templates.get_template(template).render(
            request=request,
            lang=language,
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            gettext=gettext_for(language),
            nonce=nonce,
            import_map=json.dumps(IMPORT_MAP),
            page_config=json.dumps(page_config).replace("</", "<\\/"),
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        response.headers["content-security-policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
        )
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["x-content-type-options"] = "nosniff"
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE, language, max_age=LANGUAGE_COOKIE_SECONDS, samesite="lax"
            )
        return response

    async def index(self, request: Request) -> Response:
        public = []
        for assembly_id in await self.app.store.assembly_ids():
            seen = await self.app.hub.look(assembly_id, lambda s: (s.public, s.title))
            if seen is not None and seen[0]:
                public.append({"id": assembly_id, "title": seen[1]})
        return self.render(request, "index.html", assemblies=public)

    async def join(self, request: Request) -> Response:
        token = request.path_params["token"]
        try:
            invite = await self.app.invites.resolve(token)
        except InviteRefused as refusal:
            status = 410 if refusal.code in {"expired_token", "revoked_token"} else 404
            return self.render(request, "invalid_invite.html", status, code=refusal.code)

        def welcome(state: Assembly) -> tuple[str, str | None, Rules]:
            person = state.participants.get(invite.participant_id or "")
            name = person.display_name if person else None
            # A copy: the rules may change while the page is being rendered.
            return state.title, name, dataclasses.replace(state.rooms[PLENARY_ROOM].rules)

        seen = await self.app.hub.look(invite.assembly_id, welcome)
        if seen is None:
            return self.render(request, "invalid_invite.html", 404, code="invalid_token")
        title, name, rules = seen
        return self.render(
            request,
            "join.html",
            assembly_title=title,
            name=name,
            role=invite.role,
            rules=rules,
            is_observer=invite.role == Role.OBSERVER.value,
            config={"token": token},
        )

    async def live(self, request: Request) -> Response:
        return self.render(request, "live.html", config={"mode": "invite"})

    async def watch(self, request: Request) -> Response:
        assembly_id = request.path_params["assembly"]
        if not await self.app.hub.look(assembly_id, lambda state: state.public):
            return self.render(request, "invalid_invite.html", 404, code="assembly_not_found")
        room = request.query_params.get("room", PLENARY_ROOM)
        return self.render(
            request,
            "live.html",
            config={"mode": "watch", "assembly": assembly_id, "watch": room},
        )

    async def vendor(self, request: Request) -> Response:
        path = VENDOR.get(request.path_params["name"])
        if path is None or not path.exists():
            return Response("not found", status_code=404)
        # Versions change only with web/package-lock.json, so a day of caching is safe.
        return FileResponse(
            path, media_type="text/javascript", headers={"cache-control": "public, max-age=86400"}
        )
