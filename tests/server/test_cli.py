"""The `palabre` command line, run as a process on a temporary SQLite file and data folder:
the demo, the organiser's round trip (create, import, links, revoke, export, verify), serving,
and the exit codes (0 done, 1 refused or failed with one line on stderr, 2 usage)."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client

from facilitation import PLENARY_ROOM
from server.store import Store
from server.voice.janus_process import janus_binary
from tests.server.harness import (
    ROOT,
    WAIT_SECONDS,
    LiveServer,
    ManualClock,
    acked,
    connected,
    demo_people,
    free_port,
    palabre,
    serving,
    settings_for,
)

PUBLIC_URL = "http://palabre.test"
PEOPLE_CSV = (
    "id,name,role,age band,gender,region\n"
    "lead,Helen Marsh,lead,45-64,woman,north\n"
    "j1,Margaret Doyle,juror,65+,woman,north\n"
    "j2,Kwame Mensah,,30-44,man,centre\n"
)
DEMO_ROLES = ("juror", "facilitator", "lead", "observer")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: the test's own database and data folder, nothing inherited."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PALABRE_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {
        **inherited,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'palabre.sqlite3'}",
        "PALABRE_DATA_DIR": str(tmp_path / "data"),
        "PALABRE_PUBLIC_URL": PUBLIC_URL,
    }


def ok(env: dict[str, str], *args: str) -> str:
    done = palabre(env, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def failed(env: dict[str, str], *args: str) -> str:
    """The one line a refused command writes on stderr."""
    done = palabre(env, *args)
    assert done.returncode == 1, (args, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("palabre: ")
    return lines[0]


def demo_links(output: str) -> dict[str, str]:
    """Role -> link, from the lines `demo` prints."""
    links = {}
    for line in output.splitlines():
        words = line.split()
        if words and words[0] in DEMO_ROLES:
            links[words[0]] = words[-1]
    return links


# --- The demo ---------------------------------------------------------------------------------


def test_demo_is_idempotent_and_prints_the_four_links(env: dict[str, str], tmp_path: Path) -> None:
    first = ok(env, "demo")
    links = demo_links(first)
    assert set(links) == set(DEMO_ROLES)
    assert all(link.startswith(f"{PUBLIC_URL}/join/") for link in links.values())
    assert f"{PUBLIC_URL}/assemblies/demo/streams/plenary" in first
    token_file = tmp_path / "data" / "admin_token"
    assert f"admin token: {token_file}" in first
    assert token_file.read_text().strip() not in first
    record = json.loads(ok(env, "export", "demo"))

    second = ok(env, "demo")
    # Nothing was added the second time: same links, same record.
    assert second == first
    assert len(json.loads(ok(env, "export", "demo"))["records"]) == len(record["records"])
    issued = json.loads(ok(env, "links", "demo", "--json"))["links"]
    assert len(issued) == len({link["participant"] for link in issued}) == 12

    types = [entry["event"]["type"] for entry in record["records"]]
    assert types.count("assembly_created") == 1
    assert types.count("participant_added") == 12
    assert types.count("question_posed") == 1
    assert types.count("position_posted") == 2
    stances = [
        e["event"]["stance"] for e in record["records"] if e["event"]["type"] == "argument_posted"
    ]
    assert sorted(stances) == ["against", "for"]
    assert types.count("agenda_item_added") == 1
    jurors = [
        e["event"]
        for e in record["records"]
        if e["event"]["type"] == "participant_added" and e["event"]["role"] == "juror"
    ]
    assert len(jurors) == 8
    assert all(set(j["attributes"]) == {"age band", "gender", "region"} for j in jurors)


async def test_the_demo_links_open_a_lively_plenary(env: dict[str, str], tmp_path: Path) -> None:
    env["PALABRE_SECRET_KEY"] = "test-secret-key"
    links = demo_links(ok(env, "demo"))
    server = LiveServer(settings_for(env["DATABASE_URL"], tmp_path / "server"))
    await server.start()
    try:
        for role, link in links.items():
            async with connected(server.url, token=link.rsplit("/", 1)[1]) as client:
                assert client.you["role"] == role
                plenary = client.snapshots[PLENARY_ROOM]
                assert plenary["seq"] > 0
    finally:
        await server.stop()


def test_a_revoked_demo_link_is_replaced(env: dict[str, str]) -> None:
    first = demo_links(ok(env, "demo"))
    issued = json.loads(ok(env, "links", "demo", "--json"))["links"]
    juror = next(link for link in issued if link["link"] == first["juror"])
    ok(env, "revoke", juror["invite_id"])
    second = demo_links(ok(env, "demo"))
    assert second["juror"] != first["juror"]
    assert {role: second[role] for role in DEMO_ROLES if role != "juror"} == {
        role: first[role] for role in DEMO_ROLES if role != "juror"
    }


# --- The organiser's round trip ---------------------------------------------------------------


def test_create_import_links_revoke_export_verify(env: dict[str, str], tmp_path: Path) -> None:
    assert "created" in ok(env, "assembly", "create", "--id", "jury", "--title", "Housing")
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE_CSV, encoding="utf-8")

    table = ok(env, "import", "jury", str(people)).splitlines()
    assert table[0].split() == ["INVITE", "ROLE", "PARTICIPANT", "NAME", "LINK"]
    assert [row.split()[1:3] for row in table[1:]] == [
        ["lead", "lead"],
        ["juror", "j1"],
        ["juror", "j2"],
    ]
    assert all(row.split()[-1].startswith(f"{PUBLIC_URL}/join/") for row in table[1:])

    more = tmp_path / "more.csv"
    more.write_text("id,name,region\nj3,Sophie Laurent,south\n", encoding="utf-8")
    imported = json.loads(ok(env, "import", "jury", str(more), "--json"))
    assert [link["participant"] for link in imported["links"]] == ["j3"]
    assert imported["refused"] == []

    observer = ok(env, "observer-link", "jury").strip()
    assert observer.startswith(f"{PUBLIC_URL}/join/")
    # The same shape as the API's answer and `import --json`: {"links": [...]}.
    listed = json.loads(ok(env, "links", "jury", "--json"))["links"]
    assert [link["participant"] for link in listed] == ["lead", "j1", "j2", "j3", None]
    assert listed[-1]["link"] == observer
    assert {row.split()[-1] for row in table[1:]} <= {link["link"] for link in listed}

    j1 = next(link for link in listed if link["participant"] == "j1")
    assert ok(env, "revoke", j1["invite_id"]).strip() == f"revoked {j1['invite_id']}"
    assert "no live invite" in failed(env, "revoke", j1["invite_id"])
    remaining = json.loads(ok(env, "links", "jury", "--json"))["links"]
    assert j1["invite_id"] not in {link["invite_id"] for link in remaining}
    assert len(ok(env, "links", "jury").splitlines()) == 1 + len(remaining)

    exported = tmp_path / "record.json"
    assert "exported" in ok(env, "export", "jury", "-o", str(exported))
    record = json.loads(exported.read_text(encoding="utf-8"))
    assert record["assembly"] == "jury"
    assert record["problems"] == []
    added = [e["event"] for e in record["records"] if e["event"]["type"] == "participant_added"]
    assert added[1]["attributes"] == {"age band": "65+", "gender": "woman", "region": "north"}
    assert "intact" in ok(env, "verify", str(exported))

    # A record with an event left out, and one with a name changed: both are caught.
    gapped = dict(record, records=record["records"][:2] + record["records"][3:])
    forged = json.loads(json.dumps(record))
    forged["records"][2]["event"]["display_name"] = "Someone Else"
    for name, broken in [("gapped", gapped), ("forged", forged)]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(broken))
        done = palabre(env, "verify", str(path))
        assert done.returncode == 1, name
        assert done.stdout.strip(), name  # the problems, one a line
        assert len(done.stderr.splitlines()) == 1
        assert "broken" in done.stderr


def test_import_from_stdin(env: dict[str, str]) -> None:
    ok(env, "assembly", "create", "--id", "jury", "--title", "Housing", "--private")
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "import", "jury", "-", "--json"],
        cwd=ROOT,
        env=env,
        input=PEOPLE_CSV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["links"]) == 3


# --- Refusals and usage -----------------------------------------------------------------------


def test_refusals_exit_1_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    ok(env, "assembly", "create", "--id", "jury", "--title", "Housing")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name\nj1,Ann\nj2,\n", encoding="utf-8")
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE_CSV, encoding="utf-8")
    not_export = tmp_path / "not-export.json"
    not_export.write_text('{"hello": "world"}')
    refusals = [
        (["assembly", "create", "--id", "jury", "--title", "T"], "assembly_exists"),
        (["assembly", "create", "--id", "Jury!", "--title", "T"], "invalid_assembly"),
        (["assembly", "create", "--id", "other", "--title", " "], "text_empty"),
        (["import", "jury", str(bad)], "line 3"),
        (["import", "jury", str(tmp_path / "missing.csv")], "cannot read"),
        (["import", "nowhere", str(people)], "no assembly 'nowhere'"),
        (["links", "nowhere"], "no assembly 'nowhere'"),
        (["observer-link", "nowhere"], "no assembly 'nowhere'"),
        (["export", "nowhere"], "no assembly 'nowhere'"),
        (["revoke", "no-such-invite"], "no live invite"),
        (["verify", str(not_export)], "not a palabre export"),
        (["verify", str(tmp_path / "missing.json")], "cannot read"),
    ]
    # Each a process of its own, none writing: run side by side, they take one's time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        lines = list(pool.map(lambda refusal: failed(env, *refusal[0]), refusals))
    for (args, expected), line in zip(refusals, lines, strict=True):
        assert expected in line, (args, line)

    # Importing the same people twice: each refused one is listed, the import is a failure.
    ok(env, "import", "jury", str(people))
    again = palabre(env, "import", "jury", str(people))
    assert again.returncode == 1
    assert again.stdout.count("participant_exists") == 3
    assert again.stderr.strip() == "palabre: 3 of 3 people refused (listed in the output)"


def test_an_unreachable_database_is_one_line_without_its_password(env: dict[str, str]) -> None:
    env["DATABASE_URL"] = f"postgresql+asyncpg://palabre:hunter2@127.0.0.1:{free_port()}/x"
    line = failed(env, "links", "jury")
    assert "hunter2" not in line


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="nothing"),
        pytest.param(["dance"], id="unknown-command"),
        pytest.param(["assembly", "create", "--id", "jury"], id="missing-title"),
        pytest.param(["assembly"], id="missing-action"),
        pytest.param(["serve", "--port", "eighty"], id="bad-port"),
        pytest.param(["import", "jury"], id="missing-file"),
    ],
)
def test_usage_mistakes_exit_2(env: dict[str, str], args: list[str]) -> None:
    done = palabre(env, *args)
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "palabre"
    if not script.exists():
        pytest.skip("palabre is not installed in this environment (pip install -e .)")
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0
    for command in (
        "serve",
        "demo",
        "import",
        "links",
        "revoke",
        "export",
        "verify",
        "schema",
        "janus",
    ):
        assert command in done.stdout


def test_schema_prints_every_message(env: dict[str, str]) -> None:
    pytest.importorskip("server.schema", reason="server/schema.py is not there yet")
    schema: dict[str, Any] = json.loads(ok(env, "schema"))
    assert schema["$defs"]
    assert "raise_hand" in json.dumps(schema)


# --- Serving ----------------------------------------------------------------------------------


def test_serve_with_the_demo(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    # No public URL given: links follow the port served on.
    del env["PALABRE_PUBLIC_URL"]
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_SECONDS * 3
        while True:
            assert process.poll() is None, process.communicate()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "palabre serve did not become healthy"
            time.sleep(0.1)
        admin = (tmp_path / "data" / "admin_token").read_text().strip()
        listed = httpx.get(
            f"{url}/api/assemblies/demo/links",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=5,
        )
        assert listed.status_code == 200
        served_links = {link["link"] for link in listed.json()["links"]}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    links = demo_links(stdout)
    assert set(links) == set(DEMO_ROLES)
    assert all(link.startswith(f"{url}/join/") for link in links.values())
    assert set(links.values()) <= served_links
    assert admin not in stdout + stderr
    # Where voice comes from is said at once.
    said = "voice: palabre starts its own Janus" if janus_binary() else "voice: off, no `janus`"
    assert said in stdout


async def test_reading_commands_never_end_an_overdue_turn(env: dict[str, str]) -> None:
    # A turn granted an hour ago by the wall clock, then the server stopped mid-turn.
    clock = ManualClock()
    clock.advance(-3_600_000)
    settings = settings_for(env["DATABASE_URL"], Path(env["PALABRE_DATA_DIR"]))
    async with serving(settings, clock=clock) as server:
        tokens = await demo_people(server.organiser, "jury")
        async with (
            connected(server.url, token=tokens["j1"]) as juror,
            connected(server.url, token=tokens["f1"]) as facilitator,
        ):
            await acked(juror, "raise_hand")
            await acked(facilitator, "grant_floor", room=PLENARY_ROOM)
    env = {**env, "PALABRE_SECRET_KEY": settings.signing_key}

    people = Path(env["PALABRE_DATA_DIR"]).parent / "late.csv"
    people.write_text("id,name\nlate1,Late One\nlate2,Late Two\n")
    for args in (
        ("links", "jury"),
        ("links", "jury", "--json"),
        ("export", "jury"),
        ("observer-link", "jury"),
        ("import", "jury", str(people)),
    ):
        ok(env, *args)

    store = Store(env["DATABASE_URL"])
    await store.start()
    try:
        written = [record.event.name for record in await store.events("jury")]
    finally:
        await store.close()
    # The CLI added people, and ended nobody's turn: only a server keeps time.
    assert written[-3:] == ["floor_granted", "participant_added", "participant_added"]


@pytest.mark.parametrize("deflate", ["true", "false"])
def test_serve_negotiates_per_message_deflate_as_set(env: dict[str, str], deflate: str) -> None:
    port = free_port()
    env = {**env, "PALABRE_WS_PER_MESSAGE_DEFLATE": deflate, "PALABRE_JANUS_URLS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_SECONDS * 3
        while True:
            assert process.poll() is None, "palabre serve exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "palabre serve did not become healthy"
            time.sleep(0.1)
        # The client offers permessage-deflate, as browsers and socket.io-client do.
        with websockets.sync.client.connect(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket",
            open_timeout=WAIT_SECONDS,
        ) as ws:
            assert ws.response is not None
            agreed = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            assert str(ws.recv(timeout=WAIT_SECONDS)).startswith("0{")
        assert ("permessage-deflate" in agreed) == (deflate == "true")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
