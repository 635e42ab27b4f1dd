"""Reports over HTTP: the organiser's full report behind the admin token (organiser_api.py),
and the public report of a public assembly for anyone, as observers see it.

    GET /assemblies/{id}/report[/{file}]            the public report (public assemblies)
    GET /api/assemblies/{id}/report[/{file}]        the full report (admin token)

`file` is one of `report.html` (the default), the CSV files or `transcript.txt`; the query
takes `room=ID` or `round=ID` (else the whole assembly), `lang=en|fr`, and for the organiser
`view=public` to see what observers see.
"""

import re
import secrets
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.i18n import choose_language
from server.organiser import Organiser
from server.reports.model import Report, Scope, ScopeNotFound, build_report
from server.reports.render import FILES, csv_files, render_html, transcript

if TYPE_CHECKING:
    from server.app import Palabre

HTML_FILE = "report.html"
LANGUAGE_COOKIE = "palabre_lang"


class ReportProblem(Exception):
    """A report that cannot be made as asked: the status and the stable code."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


def scope_of(request: Request) -> Scope:
    room = request.query_params.get("room")
    round_id = request.query_params.get("round")
    if room and round_id:
        raise ReportProblem(422, "invalid_scope", "give a room or a round, not both")
    return Scope.of(room=room, round_id=round_id)


async def make_report(
    organiser: Organiser, assembly_id: str, scope: Scope, *, public: bool
) -> Report:
    try:
        document = await organiser.export(assembly_id)
    except LookupError:
        raise ReportProblem(404, "assembly_not_found", assembly_id) from None
    try:
        # Replaying a large record is CPU work: off the event loop, so live rooms keep moving.
        return await run_in_threadpool(build_report, document, scope, public=public)
    except ScopeNotFound as problem:
        raise ReportProblem(404, "scope_not_found", str(problem)) from None


def download_name(report: Report, file: str) -> str:
    scope = "" if report.scope.kind == "assembly" else f"-{report.scope.id}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{report.assembly}{scope}-{file}")


def report_response(report: Report, file: str, language: str) -> Response:
    if file not in (HTML_FILE, *FILES):
        raise ReportProblem(404, "report_file_not_found", f"one of {HTML_FILE}, {', '.join(FILES)}")
    if file == HTML_FILE:
        nonce = secrets.token_urlsafe(16)
        response = Response(render_html(report, language, nonce=nonce), media_type="text/html")
        # No script at all, and the one inline stylesheet by its nonce.
        response.headers["content-security-policy"] = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src data:; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )
        response.headers["referrer-policy"] = "no-referrer"
        response.headers["x-content-type-options"] = "nosniff"
        return response
    text = transcript(report, language) if file.endswith(".txt") else csv_files(report)[file]
    media = "text/plain" if file.endswith(".txt") else "text/csv"
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{download_name(report, file)}"',
            "x-content-type-options": "nosniff",
        },
    )


def language_of(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"),
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language", ""),
    )


async def serve_report(request: Request, organiser: Organiser, *, public: bool) -> Response:
    """One report file for `request`; raises `ReportProblem`."""
    scope = scope_of(request)
    report = await make_report(organiser, request.path_params["assembly"], scope, public=public)
    return report_response(report, request.path_params.get("file", HTML_FILE), language_of(request))


class PublicReports:
    """The report observers may read, for assemblies anyone may watch."""

    def __init__(self, app: "Palabre") -> None:
        self.app = app

    def routes(self) -> list[Route]:
        return [
            Route("/assemblies/{assembly}/report", self.report, methods=["GET"]),
            Route("/assemblies/{assembly}/report/{file}", self.report, methods=["GET"]),
        ]

    async def report(self, request: Request) -> Response:
        assembly_id = request.path_params["assembly"]
        try:
            # A private assembly's report is the organiser's to share: it is not found here.
            if not await self.app.hub.look(assembly_id, lambda state: state.public):
                raise ReportProblem(404, "assembly_not_found", assembly_id)
            return await serve_report(request, self.app.organiser, public=True)
        except ReportProblem as problem:
            return JSONResponse(
                {"error": problem.code, "detail": problem.detail}, status_code=problem.status
            )
