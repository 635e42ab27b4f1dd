"""The organiser's HTTP API: JSON in and out, every route behind the admin token.

    POST /api/assemblies                      create an assembly       201 {"id"}
    POST /api/assemblies/{id}/people          import (JSON or CSV)     201 {"links", "refused"}
    POST /api/assemblies/{id}/observer-links  a read-only link         201 link
    GET  /api/assemblies/{id}/links           every live invite link   200 {"links"}
    POST /api/invites/{invite_id}/revoke      withdraw an invite       200 {"revoked"}
    GET  /api/assemblies/{id}/export          the record, a download   200 record
    GET  /api/assemblies/{id}/report[/{file}] the full report           200 HTML, CSV or text

The record is the export file of `palabre export` (format 2, see docs/record.md): `format`,
`assembly`, `exported_at`, `records` (each `position`, `event`, `body` verbatim as stored and
hashed, `prev_hash`, `hash`) and `problems`.

Every request carries `Authorization: Bearer <admin token>`. Every error is
`{"error": code, "detail": text}` with a stable code: `unauthorized` (401), `invalid_json` (400),
`assembly_not_found`, `invite_not_found`, `scope_not_found` or `report_file_not_found` (404),
`invalid_scope` (422, a report asked for a room and a round at once), `assembly_exists` (409),
`payload_too_large` (413), `unsupported_media_type` (415), `rate_limited` (429, with
`Retry-After`: too many calls from one address, counted before the token is checked), and for
bad input (422) either `invalid_body` (the body's shape), `invalid_import` (a CSV line) or the
core's own refusal code.
"""

import csv
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from facilitation import Role
from facilitation.codec import validation_detail
from server.organiser import ImportProblem, ImportResult, Organiser, Person, parse_people
from server.reports.http import ReportProblem, serve_report
from server.throttle import AddressLimiter, client_address

if TYPE_CHECKING:
    from server.app import Palabre

log = logging.getLogger("palabre.organiser")

# An import of a few thousand people with a dozen attribute columns stays well under this.
IMPORT_LIMIT_BYTES = 2 * 1024 * 1024
# Every other body is a handful of fields.
BODY_LIMIT_BYTES = 64 * 1024
CSV_TYPES = {"text/csv", "application/csv"}
JSON_TYPES = {"application/json", ""}

Endpoint = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """A request answered with an error: the status and the stable code a client keys on."""

    def __init__(
        self, status: int, code: str, detail: str = "", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"error": self.code}
        if self.detail:
            body["detail"] = self.detail
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        return JSONResponse(body, status_code=self.status, headers={**headers, **self.headers})


# --- Bodies -----------------------------------------------------------------------------------


class _Body(BaseModel):
    # Strict: `"public": "yes"` is a mistake to report, not a truthy string to guess at; an
    # unknown field is most likely a misspelt one, so it is refused rather than ignored.
    model_config = ConfigDict(extra="forbid", strict=True)


class NewAssembly(_Body):
    # Only the types are checked here: the values (id alphabet, title length) are the core's
    # and the organiser's rules, so the client sees their stable codes.
    id: str
    title: str
    public: bool = True
    pseudonymous: bool = False


class NewPerson(_Body):
    id: str
    name: str
    role: Role = Role.JUROR
    attributes: dict[str, str] = Field(default_factory=dict)


class NewPeople(_Body):
    people: list[NewPerson]


# --- Plumbing ---------------------------------------------------------------------------------


def authorised(request: Request, admin_key: str) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time, so the response time does not reveal how much of a guess was right.
    return hmac.compare_digest(credentials.strip().encode(), admin_key.encode())


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"bodies are capped at {limit} bytes")
    # A chunked body declares no length: count as it arrives, and stop reading at the cap.
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"bodies are capped at {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse_json(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as problem:
        if any(error["type"] == "json_invalid" for error in problem.errors()):
            raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
        raise ApiError(422, "invalid_body", validation_detail(problem, "body")) from None


def import_json(result: ImportResult) -> dict[str, Any]:
    return {
        "links": [link.as_json() for link in result.links],
        "refused": [
            {"participant": participant, "error": code, "detail": detail}
            for participant, code, detail in result.refused
        ],
    }


def download_name(assembly_id: str) -> str:
    # Assembly ids are already a safe alphabet; this keeps the header sound whatever the store
    # holds.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", assembly_id) + "-record.json"


# --- Routes -----------------------------------------------------------------------------------


class OrganiserApi:
    def __init__(self, app: "Palabre", organiser: Organiser) -> None:
        self.app = app
        self.organiser = organiser
        settings = app.settings
        self.calls = AddressLimiter(settings.api_rate_per_second, settings.api_burst)

    def routes(self) -> list[Route]:
        guarded = self.guarded
        return [
            Route("/api/assemblies", guarded(self.create), methods=["POST"]),
            Route("/api/assemblies/{assembly}/people", guarded(self.people), methods=["POST"]),
            Route(
                "/api/assemblies/{assembly}/observer-links",
                guarded(self.observer_link),
                methods=["POST"],
            ),
            Route("/api/assemblies/{assembly}/links", guarded(self.links), methods=["GET"]),
            Route("/api/assemblies/{assembly}/export", guarded(self.export), methods=["GET"]),
            Route("/api/assemblies/{assembly}/report", guarded(self.report), methods=["GET"]),
            Route(
                "/api/assemblies/{assembly}/report/{file}", guarded(self.report), methods=["GET"]
            ),
            Route("/api/invites/{invite_id}/revoke", guarded(self.revoke), methods=["POST"]),
        ]

    def guarded(self, handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                # Before the token is checked, so that guessing it is slowed down too.
                address = client_address(request.scope)
                if not self.calls.take(address):
                    retry = str(self.calls.retry_after_seconds(address))
                    raise ApiError(429, "rate_limited", "too many requests", {"Retry-After": retry})
                # The key is read on first use, not at start-up: settings generate it into the
                # data folder when it is not given, and a server that is never asked needs none.
                if not authorised(request, self.app.settings.admin_key):
                    raise ApiError(401, "unauthorized")
                return await handler(request)
            except ApiError as problem:
                return problem.response()

        return endpoint

    async def _existing(self, request: Request) -> str:
        assembly_id: str = request.path_params["assembly"]
        if await self.app.hub.get(assembly_id) is None:
            raise ApiError(404, "assembly_not_found", assembly_id)
        return assembly_id

    async def create(self, request: Request) -> Response:
        body = parse_json(NewAssembly, await read_body(request, BODY_LIMIT_BYTES))
        outcome = await self.organiser.create_assembly(
            body.id, body.title, public=body.public, pseudonymous=body.pseudonymous
        )
        if not outcome.ok:
            status = {"assembly_exists": 409, "unavailable": 503}.get(outcome.error, 422)
            raise ApiError(status, outcome.error, outcome.detail)
        log.info("assembly created", extra={"assembly": body.id})
        return JSONResponse({"id": body.id}, status_code=201)

    async def people(self, request: Request) -> Response:
        assembly_id = await self._existing(request)
        kind = media_type(request)
        if kind not in CSV_TYPES | JSON_TYPES:
            raise ApiError(415, "unsupported_media_type", "send application/json or text/csv")
        body = await read_body(request, IMPORT_LIMIT_BYTES)
        if kind in CSV_TYPES:
            people = self._people_from_csv(body)
        else:
            people = [
                Person(p.id, p.name, p.role, p.attributes)
                for p in parse_json(NewPeople, body).people
            ]
        if not people:
            raise ApiError(422, "invalid_import", "nobody to import")
        try:
            result = await self.organiser.add_people(assembly_id, people)
        except LookupError:
            raise ApiError(404, "assembly_not_found", assembly_id) from None
        log.info(
            "people imported",
            extra={
                "assembly": assembly_id,
                "added": len(result.links),
                "refused": len(result.refused),
            },
        )
        return JSONResponse(import_json(result), status_code=201)

    @staticmethod
    def _people_from_csv(body: bytes) -> list[Person]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as problem:
            raise ApiError(
                422, "invalid_import", f"the file is not UTF-8 (byte {problem.start})"
            ) from None
        try:
            return parse_people(text)
        except ImportProblem as problem:
            raise ApiError(422, "invalid_import", str(problem)) from None
        except csv.Error as problem:
            # The csv module's own limits (a field over its size cap, a stray NUL...).
            raise ApiError(422, "invalid_import", f"unreadable CSV: {problem}") from None

    async def observer_link(self, request: Request) -> Response:
        assembly_id = await self._existing(request)
        try:
            link = await self.organiser.observer_link(assembly_id)
        except LookupError:
            raise ApiError(404, "assembly_not_found", assembly_id) from None
        log.info("observer link issued", extra={"assembly": assembly_id})
        return JSONResponse(link.as_json(), status_code=201)

    async def links(self, request: Request) -> Response:
        assembly_id = await self._existing(request)
        try:
            links = await self.organiser.links(assembly_id)
        except LookupError:
            raise ApiError(404, "assembly_not_found", assembly_id) from None
        return JSONResponse({"links": [link.as_json() for link in links]})

    async def revoke(self, request: Request) -> Response:
        invite_id: str = request.path_params["invite_id"]
        if not await self.organiser.revoke(invite_id):
            raise ApiError(404, "invite_not_found", "no such invite, or it was already revoked")
        # The invite id opens nothing on its own (the link is its signature), so it may be logged.
        log.info("invite revoked", extra={"invite": invite_id})
        return JSONResponse({"revoked": invite_id})

    async def export(self, request: Request) -> Response:
        assembly_id: str = request.path_params["assembly"]
        try:
            record = await self.organiser.export(assembly_id)
        except LookupError:
            raise ApiError(404, "assembly_not_found", assembly_id) from None
        disposition = f'attachment; filename="{download_name(assembly_id)}"'
        return JSONResponse(record, headers={"Content-Disposition": disposition})

    async def report(self, request: Request) -> Response:
        """The full report (names, hidden posts' text, private notes), or with `view=public`
        the one observers read."""
        public = request.query_params.get("view") == "public"
        try:
            return await serve_report(request, self.organiser, public=public)
        except ReportProblem as problem:
            raise ApiError(problem.status, problem.code, problem.detail) from None


def organiser_routes(app: "Palabre") -> list[Route]:
    return OrganiserApi(app, app.organiser).routes()
