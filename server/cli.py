"""`palabre`: serve, and everything an organiser does from a terminal.

    palabre serve [--host H] [--port P] [--demo]
    palabre demo
    palabre assembly create --id ID --title TITLE [--private] [--pseudonymous]
    palabre import ASSEMBLY FILE.csv [--json]
    palabre links ASSEMBLY [--json]
    palabre observer-link ASSEMBLY [--json]
    palabre revoke INVITE_ID
    palabre export ASSEMBLY [-o FILE]
    palabre verify FILE
    palabre report FILE [--room ID | --round ID] [--public] [--lang en|fr] [-o DIR]
    palabre schema
    palabre janus [--port P]

The organiser's commands work on the database of DATABASE_URL directly, with the secrets of
PALABRE_DATA_DIR (or PALABRE_SECRET_KEY), so the links they print are the server's own. Exit
codes: 0 done, 1 refused or failed (one line on stderr), 2 a usage mistake.
"""

import argparse
import asyncio
import functools
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from facilitation.record import NotAnExport, verify_export
from server.logs import redact
from server.settings import Settings

# The database stack (SQLAlchemy, alembic) takes most of a second to import: it is imported
# by the commands that use it, so `verify`, `--help` and usage mistakes answer at once.
if TYPE_CHECKING:
    from server.organiser import IssuedLink, Organiser

PROGRAM = "palabre"
OBSERVER_STREAM = "plenary"
# Long enough for open observer streams to notice, short enough that Ctrl-C feels immediate.
GRACEFUL_SHUTDOWN_SECONDS = 5
# `scheme://user:password@host`: the password part, kept out of error messages.
URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@\s]*@")


class Failed(Exception):
    """A command that could not do what was asked: its message is the one line on stderr."""


@asynccontextmanager
async def organiser_stack(settings: Settings) -> AsyncIterator["Organiser"]:
    """The organiser on the settings' database, without a web server, for one command. Nothing
    it starts fires a deadline: a tool that prints links must never end a speaker's turn."""
    from server.bootstrap import build, running

    async with running(build(settings, live=False)) as services:
        yield services.organiser


def with_organiser(
    settings: Settings, work: Callable[["Organiser"], Coroutine[Any, Any, int]]
) -> int:
    async def run() -> int:
        async with organiser_stack(settings) as organiser:
            return await work(organiser)

    return asyncio.run(run())


# --- Output -----------------------------------------------------------------------------------


def print_json(data: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    json.dump(data, out, indent=2, ensure_ascii=False)
    out.write("\n")


def print_table(links: "list[IssuedLink]") -> None:
    rows = [("INVITE", "ROLE", "PARTICIPANT", "NAME", "LINK")]
    rows += [
        (link.invite_id, link.role, link.participant or "-", link.name, link.link) for link in links
    ]
    # The link goes last and unpadded, so it can be copied whole from the end of its line.
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]))


def admin_token_location(settings: Settings) -> str:
    if settings.admin_token:
        return "set by PALABRE_ADMIN_TOKEN"
    # Reading the key writes it to the data folder when it is not there yet.
    settings.admin_key  # noqa: B018
    return str((settings.data_dir / "admin_token").resolve())


def one_line(message: str) -> str:
    first = message.splitlines()[0] if message else ""
    return redact(URL_PASSWORD.sub(r"\1***@", first))


# --- Commands ---------------------------------------------------------------------------------


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    host = settings.host if args.host is None else args.host
    port = settings.port if args.port is None else args.port
    # Links and origins follow the port, unless a public URL is set.
    served = settings.model_copy(update={"host": host, "port": port})
    if args.demo:
        cmd_demo(served, args)
    print(voice_arrangement(served), flush=True)
    uvicorn.run(
        functools.partial(create_app, served),
        factory=True,
        host=served.host,
        port=served.port,
        ws="websockets-sansio",
        ws_per_message_deflate=served.ws_per_message_deflate,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


def voice_arrangement(settings: Settings) -> str:
    """One line on where voice comes from, for the person who just started the server."""
    from server.voice.janus_process import janus_binary

    if settings.janus_urls:
        return f"voice: Janus at {', '.join(settings.janus_urls)}"
    if settings.janus_urls is not None:
        return "voice: off (PALABRE_JANUS_URLS is empty); typed statements only"
    if janus_binary() is None:
        return "voice: off, no `janus` installed (`apt-get install janus` turns it on)"
    log = settings.data_dir / "janus" / "janus.log"
    return f"voice: palabre starts its own Janus on loopback (its log: {log})"


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from server.demo import DEMO_ID, DEMO_TITLE, DemoFailed, ensure_demo

    async def work(organiser: "Organiser") -> int:
        try:
            links = await ensure_demo(organiser)
        except DemoFailed as problem:
            raise Failed(f"demo: {problem}") from None
        base = settings.address.rstrip("/")
        print(f"Demo assembly {DEMO_ID!r}: {DEMO_TITLE}")
        for label, link in [
            ("juror", links.juror),
            ("facilitator", links.facilitator),
            ("lead", links.lead),
            ("observer", links.observer),
        ]:
            print(f"  {label:<12} {link.name:<18} {link.link}")
        print(f"  public observer stream: {base}/assemblies/{DEMO_ID}/streams/{OBSERVER_STREAM}")
        print(f"  admin token: {admin_token_location(settings)}")
        # `serve --demo` hands over to uvicorn next: the links must be out before its logs.
        sys.stdout.flush()
        return 0

    return with_organiser(settings, work)


def cmd_assembly_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(organiser: "Organiser") -> int:
        outcome = await organiser.create_assembly(
            args.id, args.title, public=not args.private, pseudonymous=args.pseudonymous
        )
        if not outcome.ok:
            raise Failed(f"assembly {args.id!r} not created: {outcome.error} {outcome.detail}")
        print(f"created assembly {args.id!r}")
        return 0

    return with_organiser(settings, work)


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from server.organiser import ImportProblem, parse_people

    path: str = args.file
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8-sig")
        people = parse_people(text)
    except (OSError, UnicodeDecodeError) as problem:
        raise Failed(f"cannot read {path}: {problem}") from None
    except ImportProblem as problem:
        raise Failed(f"{path}: {problem}") from None
    if not people:
        raise Failed(f"{path}: nobody to import")

    async def work(organiser: "Organiser") -> int:
        try:
            result = await organiser.add_people(args.assembly, people)
        except LookupError:
            raise Failed(f"no assembly {args.assembly!r}") from None
        refused = [
            {"participant": who, "error": code, "detail": detail}
            for who, code, detail in result.refused
        ]
        if args.json:
            print_json({"links": [link.as_json() for link in result.links], "refused": refused})
        else:
            print_table(result.links)
        if refused:
            if not args.json:
                for item in refused:
                    print(f"refused {item['participant']}: {item['error']} {item['detail']}")
            raise Failed(f"{len(refused)} of {len(people)} people refused (listed in the output)")
        return 0

    return with_organiser(settings, work)


def cmd_links(settings: Settings, args: argparse.Namespace) -> int:
    async def work(organiser: "Organiser") -> int:
        try:
            links = await organiser.links(args.assembly)
        except LookupError:
            raise Failed(f"no assembly {args.assembly!r}") from None
        if args.json:
            # The shape of the API's answer (GET .../links) and of `import --json`.
            print_json({"links": [link.as_json() for link in links]})
        else:
            print_table(links)
        return 0

    return with_organiser(settings, work)


def cmd_observer_link(settings: Settings, args: argparse.Namespace) -> int:
    async def work(organiser: "Organiser") -> int:
        try:
            link = await organiser.observer_link(args.assembly)
        except LookupError:
            raise Failed(f"no assembly {args.assembly!r}") from None
        if args.json:
            print_json(link.as_json())
        else:
            print(link.link)
        return 0

    return with_organiser(settings, work)


def cmd_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(organiser: "Organiser") -> int:
        if not await organiser.revoke(args.invite_id):
            raise Failed(f"no live invite {args.invite_id!r}")
        print(f"revoked {args.invite_id}")
        return 0

    return with_organiser(settings, work)


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    async def work(organiser: "Organiser") -> int:
        try:
            record = await organiser.export(args.assembly)
        except LookupError:
            raise Failed(f"no assembly {args.assembly!r}") from None
        if args.output is None:
            print_json(record)
            return 0
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                print_json(record, out)
        except OSError as problem:
            raise Failed(f"cannot write {args.output}: {problem}") from None
        print(f"exported {len(record['records'])} events to {args.output}")
        return 0

    return with_organiser(settings, work)


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    """Offline: no database, only the file and the hash chain."""
    path: str = args.file
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        found = verify_export(json.loads(text))
    except OSError as error:
        raise Failed(f"cannot read {path}: {error}") from None
    except NotAnExport as error:
        raise Failed(f"{path} is not a palabre export: {error}") from None
    except ValueError:
        raise Failed(f"{path} is not a palabre export: it is not JSON") from None
    if found.problems:
        for problem in found.problems:
            print(problem)
        raise Failed(f"{path}: the record is broken ({len(found.problems)} problems)")
    print(f"{path}: intact, {found.events} events in {found.streams} streams")
    return 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    """Offline, like `verify`: the report of an export file, written as files to a folder."""
    from server.reports.model import Scope, ScopeNotFound, build_report
    from server.reports.render import all_files

    path: str = args.file
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        document = json.loads(text)
        report = build_report(
            document, Scope.of(room=args.room, round_id=args.round), public=args.public
        )
    except OSError as error:
        raise Failed(f"cannot read {path}: {error}") from None
    except NotAnExport as error:
        raise Failed(f"{path} is not a palabre export: {error}") from None
    except ScopeNotFound as error:
        raise Failed(f"{path}: {error}") from None
    except ValueError:
        raise Failed(f"{path} is not a palabre export: it is not JSON") from None
    folder = Path(args.output)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in all_files(report, args.lang).items():
            (folder / name).write_text(content, encoding="utf-8")
    except OSError as problem:
        raise Failed(f"cannot write to {folder}: {problem}") from None
    if report.problems:
        print(
            f"{PROGRAM}: warning: the record is broken ({len(report.problems)} problems); "
            "the report says so",
            file=sys.stderr,
        )
    view = "public" if args.public else "full"
    print(f"{view} report of {len(report.rooms)} rooms, {report.events} events, in {folder}/")
    return 0


def cmd_schema(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from server.schema import protocol_schema  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise Failed("this palabre has no protocol schema (server.schema is missing)") from None
    print_json(protocol_schema())
    return 0


# A shared Janus's API port when neither --port nor PALABRE_JANUS_PORT names one: Janus's own.
SHARED_JANUS_PORT = 8088


def cmd_janus(settings: Settings, args: argparse.Namespace) -> int:
    """Run Janus in the foreground from palabre's configuration (loopback, the API secret and
    admin key of these settings), for palabre processes that share it through
    PALABRE_JANUS_URLS: the Procfile's `janus` process."""
    from server.voice.janus_process import (
        API_PATH,
        LOOPBACK,
        JanusFolderBusy,
        JanusNotInstalled,
        JanusOptions,
        exec_janus,
        janus_binary,
    )

    binary = janus_binary()
    if binary is None:
        raise Failed("Janus is not installed: `apt-get install janus` (Debian's package)")
    port = args.port or settings.janus_port or SHARED_JANUS_PORT
    options = replace(JanusOptions.from_settings(settings, binary), port=port)
    print(
        f"{PROGRAM}: Janus on {LOOPBACK}:{port}; give palabre processes "
        f"PALABRE_JANUS_URLS=http://{LOOPBACK}:{port}{API_PATH} and this environment's "
        "PALABRE_JANUS_API_SECRET and PALABRE_JANUS_ADMIN_KEY (or PALABRE_DATA_DIR)",
        file=sys.stderr,
        flush=True,
    )
    try:
        exec_janus(options)
    except (JanusNotInstalled, JanusFolderBusy) as problem:
        raise Failed(str(problem)) from None


# --- The parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="A real-time deliberation room for citizens' juries and assemblies.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve palabre over HTTP and websockets")
    serve.add_argument("--host", help="address to listen on (default PALABRE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default PALABRE_PORT, 8000)")
    serve.add_argument("--demo", action="store_true", help="set up the demo assembly first")
    serve.set_defaults(run=cmd_serve)

    demo = commands.add_parser("demo", help="set up the demo assembly and print its links")
    demo.set_defaults(run=cmd_demo)

    assembly = commands.add_parser("assembly", help="manage assemblies")
    assembly_commands = assembly.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = assembly_commands.add_parser("create", help="create an assembly")
    create.add_argument("--id", required=True, help="lowercase letters, digits and -")
    create.add_argument("--title", required=True)
    create.add_argument("--private", action="store_true", help="only people with a link may watch")
    create.add_argument(
        "--pseudonymous", action="store_true", help="observers see pseudonyms, not names"
    )
    create.set_defaults(run=cmd_assembly_create)

    importing = commands.add_parser(
        "import",
        help="add people from a CSV file (id,name,role, then attribute columns)",
        description="Add people from CSV: a header with `name` and optionally `id`, `role` "
        "and attribute columns (age band, region...). Prints each person's invite link. "
        "While a server runs, prefer its HTTP API, which it sees at once.",
    )
    importing.add_argument("assembly")
    importing.add_argument("file", help="the CSV file, or - for stdin")
    importing.add_argument("--json", action="store_true", help="print JSON, not a table")
    importing.set_defaults(run=cmd_import)

    links = commands.add_parser("links", help="print every live invite link of an assembly")
    links.add_argument("assembly")
    links.add_argument("--json", action="store_true", help="print JSON, not a table")
    links.set_defaults(run=cmd_links)

    observer = commands.add_parser("observer-link", help="issue a read-only observer link")
    observer.add_argument("assembly")
    observer.add_argument("--json", action="store_true", help="print JSON, not the link")
    observer.set_defaults(run=cmd_observer_link)

    revoke = commands.add_parser("revoke", help="withdraw an invite")
    revoke.add_argument(
        "invite_id", help="the invite's id (one older than hex ids that starts with -: after --)"
    )
    revoke.set_defaults(run=cmd_revoke)

    export = commands.add_parser("export", help="export an assembly's record, hash chain included")
    export.add_argument("assembly")
    export.add_argument("-o", "--output", help="write to this file instead of stdout")
    export.set_defaults(run=cmd_export)

    verify = commands.add_parser("verify", help="check an export's hash chain, offline")
    verify.add_argument("file", help="the exported JSON file, or - for stdin")
    verify.set_defaults(run=cmd_verify)

    report = commands.add_parser(
        "report",
        help="write the report of an exported record: HTML, CSV files, a transcript (offline)",
        description="Build a report from an export file alone (`palabre export`): report.html "
        "(prints to PDF from a browser), turns.csv, statements.csv, posts.csv, "
        "endorsements.csv, votes.csv (open polls only), moderation.csv and transcript.txt.",
    )
    report.add_argument("file", help="the exported JSON file, or - for stdin")
    where = report.add_mutually_exclusive_group()
    where.add_argument("--room", help="one room's report")
    where.add_argument("--round", help="one breakout round's report")
    report.add_argument(
        "--public",
        action="store_true",
        help="what observers may read: pseudonyms where the assembly has them, no hidden text "
        "and no private notes",
    )
    report.add_argument("--lang", choices=["en", "fr"], default="en")
    report.add_argument("-o", "--output", default="report", help="the folder (default ./report)")
    report.set_defaults(run=cmd_report)

    schema = commands.add_parser("schema", help="print the JSON Schema of every message")
    schema.set_defaults(run=cmd_schema)

    janus = commands.add_parser(
        "janus",
        help="run Janus for voice, configured as palabre's own, in the foreground",
        description="Run Janus from palabre's configuration (loopback only, the API secret and "
        "admin key of PALABRE_JANUS_API_SECRET / PALABRE_JANUS_ADMIN_KEY or the data dir), "
        "for palabre processes that share it through PALABRE_JANUS_URLS.",
    )
    janus.add_argument(
        "--port",
        type=int,
        help=f"the API's loopback port (default PALABRE_JANUS_PORT, else {SHARED_JANUS_PORT})",
    )
    janus.set_defaults(run=cmd_janus)
    return parser


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as problem:
        first = problem.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise Failed(f"the setting {where} is not valid: {first['msg']}") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    try:
        return run(load_settings(), args)
    except Failed as problem:
        print(f"{PROGRAM}: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as problem:
        # A database that cannot be reached, a bad DATABASE_URL...: one line, with no token and
        # no database password in it.
        message = one_line(str(problem))
        print(
            f"{PROGRAM}: {args.command} failed: {type(problem).__name__}: {message}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
