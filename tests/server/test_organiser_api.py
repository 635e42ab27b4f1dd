"""The organiser's HTTP API on a real server: the admin token, each route's answers and errors,
imports in JSON and CSV, a revoked link refused at the socket, and an export that verifies."""

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from facilitation import PLENARY_ROOM
from server.organiser_api import IMPORT_LIMIT_BYTES
from tests.server.harness import ROOT, Client, LiveServer, connected, settings_for

ADMIN = {"Authorization": "Bearer test-admin-token"}
PEOPLE_CSV = (
    "id,name,role,age band,region\n"
    "lead,Helen Marsh,lead,45-64,north\n"
    "f1,Tomás Reyes,facilitator,30-44,centre\n"
    "j1,Margaret Doyle,juror,65+,north\n"
    "j2,Kwame Mensah,,30-44,south\n"
)


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    server = LiveServer(settings_for(database_url, tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def live_sqlite(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    """For what the database does not change: auth, body limits, malformed requests."""
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, headers=ADMIN, timeout=10) as client:
        yield client


@pytest.fixture
async def api_sqlite(live_sqlite: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live_sqlite.url, headers=ADMIN, timeout=10) as client:
        yield client


async def create(api: httpx.AsyncClient, assembly_id: str = "jury", **fields: Any) -> None:
    body = {"id": assembly_id, "title": "Citizens' jury on housing", **fields}
    response = await api.post("/api/assemblies", json=body)
    assert response.status_code == 201, response.text


async def import_csv(api: httpx.AsyncClient, text: str, assembly_id: str = "jury") -> Any:
    return await api.post(
        f"/api/assemblies/{assembly_id}/people",
        content=text.encode(),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )


def token(link: dict[str, Any]) -> str:
    return str(link["link"]).rsplit("/", 1)[1]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- The admin token --------------------------------------------------------------------------

ROUTES = [
    ("POST", "/api/assemblies"),
    ("POST", "/api/assemblies/jury/people"),
    ("POST", "/api/assemblies/jury/observer-links"),
    ("GET", "/api/assemblies/jury/links"),
    ("POST", "/api/invites/some-invite/revoke"),
    ("GET", "/api/assemblies/jury/export"),
]
WRONG_CREDENTIALS = [
    pytest.param({}, id="none"),
    pytest.param({"Authorization": "Bearer wrong-token"}, id="wrong"),
    pytest.param({"Authorization": "Bearer test-admin-token-and-more"}, id="longer"),
    pytest.param({"Authorization": "Bearer test-admin"}, id="prefix"),
    pytest.param({"Authorization": "Basic test-admin-token"}, id="basic"),
    pytest.param({"Authorization": "test-admin-token"}, id="no-scheme"),
    pytest.param({"Authorization": "Bearer"}, id="empty"),
]


@pytest.mark.parametrize("headers", WRONG_CREDENTIALS)
async def test_every_route_needs_the_admin_token(
    live_sqlite: LiveServer, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=live_sqlite.url, timeout=10) as anonymous:
        for method, path in ROUTES:
            response = await anonymous.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path)
            assert response.json() == {"error": "unauthorized"}
            assert response.headers["www-authenticate"] == "Bearer"
    # Nothing was created by the refused requests.
    assert await live_sqlite.palabre.store.assembly_ids() == []


async def test_the_scheme_is_case_insensitive(api_sqlite: httpx.AsyncClient) -> None:
    response = await api_sqlite.post(
        "/api/assemblies",
        json={"id": "jury", "title": "Housing"},
        headers={"Authorization": "bearer test-admin-token"},
    )
    assert response.status_code == 201


class Recorder(logging.Handler):
    """Every log record, whole: its message and every field, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.getMessage()} {vars(record)}")


async def test_no_token_reaches_the_logs(api_sqlite: httpx.AsyncClient) -> None:
    recorder = Recorder()
    # Attached to the loggers themselves: the server's own handlers do not propagate.
    loggers = [logging.getLogger(name) for name in ("palabre", "uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(recorder)
    try:
        await create(api_sqlite)
        imported = (await import_csv(api_sqlite, PEOPLE_CSV)).json()
        observer = (await api_sqlite.post("/api/assemblies/jury/observer-links")).json()
        await api_sqlite.get("/api/assemblies/jury/links")
        await api_sqlite.post(f"/api/invites/{observer['invite_id']}/revoke")
        await api_sqlite.get("/api/assemblies/jury/links", headers={"Authorization": "Bearer x"})
    finally:
        for logger in loggers:
            logger.removeHandler(recorder)
    logs = "\n".join(recorder.records)
    assert "assembly created" in logs  # the logs were recorded at all
    assert "test-admin-token" not in logs
    for link in [*imported["links"], observer]:
        assert token(link) not in logs


# --- Creating an assembly ---------------------------------------------------------------------


async def test_create_an_assembly(api: httpx.AsyncClient, live: LiveServer) -> None:
    response = await api.post(
        "/api/assemblies",
        json={"id": "jury-2025", "title": "Housing", "public": False, "pseudonymous": True},
    )
    assert response.status_code == 201
    assert response.json() == {"id": "jury-2025"}
    state = await live.palabre.hub.look("jury-2025", lambda current: current)
    assert state is not None
    assert (state.title, state.public, state.pseudonymous) == (
        "Housing",
        False,
        True,
    )

    again = await api.post("/api/assemblies", json={"id": "jury-2025", "title": "Again"})
    assert again.status_code == 409
    assert again.json()["error"] == "assembly_exists"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"id": "Not An Id", "title": "Housing"}, "invalid_assembly", id="bad-id"),
        pytest.param({"id": "jury", "title": "   "}, "text_empty", id="empty-title"),
        pytest.param({"id": "jury", "title": "x" * 201}, "text_too_long", id="long-title"),
        pytest.param({"id": "jury"}, "invalid_body", id="no-title"),
        pytest.param({"id": "jury", "title": "T", "colour": "red"}, "invalid_body", id="extra"),
        pytest.param({"id": "jury", "title": "T", "public": "yes"}, "invalid_body", id="not-bool"),
        pytest.param({"id": 7, "title": "T"}, "invalid_body", id="id-not-str"),
        pytest.param(["jury", "T"], "invalid_body", id="not-object"),
    ],
)
async def test_bad_assemblies_are_refused_with_a_code(
    api_sqlite: httpx.AsyncClient, live_sqlite: LiveServer, body: Any, code: str
) -> None:
    response = await api_sqlite.post("/api/assemblies", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert await live_sqlite.palabre.store.assembly_ids() == []


@pytest.mark.parametrize("body", [b"{", b"", b"not json", b'{"id": "jury",}'])
async def test_malformed_json_is_a_400(api_sqlite: httpx.AsyncClient, body: bytes) -> None:
    response = await api_sqlite.post(
        "/api/assemblies", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"


# --- Importing people -------------------------------------------------------------------------


async def test_import_people_as_json(api: httpx.AsyncClient, live: LiveServer) -> None:
    await create(api)
    people = [
        {"id": "lead", "name": "Helen Marsh", "role": "lead"},
        {"id": "j1", "name": "Margaret Doyle", "attributes": {"age": "65+", "region": "north"}},
        {"id": "j1", "name": "Margaret Again"},
        {"id": "sys", "name": "Not A Person", "role": "system"},
        {"id": "bad id!", "name": "Bad Id"},
    ]
    response = await api.post("/api/assemblies/jury/people", json={"people": people})
    assert response.status_code == 201, response.text
    body = response.json()
    assert [(link["participant"], link["role"], link["name"]) for link in body["links"]] == [
        ("lead", "lead", "Helen Marsh"),
        ("j1", "juror", "Margaret Doyle"),
    ]
    assert all(link["link"].startswith(f"{live.url}/join/") for link in body["links"])
    assert [(r["participant"], r["error"]) for r in body["refused"]] == [
        ("j1", "participant_exists"),
        ("sys", "invalid_participant"),
        ("bad id!", "invalid_participant"),
    ]
    state = await live.palabre.hub.look("jury", lambda current: current)
    assert state is not None
    assert state.participants["j1"].attributes == {"age": "65+", "region": "north"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"people": [{"id": "j1"}]}, id="no-name"),
        pytest.param({"people": [{"id": "j1", "name": "A", "email": "a@b"}]}, id="extra-field"),
        pytest.param({"people": [{"id": "j1", "name": "A", "role": "king"}]}, id="bad-role"),
        pytest.param({"people": [{"id": "j1", "name": "A", "attributes": {"age": 30}}]}, id="num"),
        pytest.param({"persons": []}, id="wrong-key"),
    ],
)
async def test_bad_people_bodies_are_a_422(api_sqlite: httpx.AsyncClient, body: Any) -> None:
    await create(api_sqlite)
    response = await api_sqlite.post("/api/assemblies/jury/people", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_body"


async def test_an_empty_import_is_refused(api_sqlite: httpx.AsyncClient) -> None:
    await create(api_sqlite)
    response = await api_sqlite.post("/api/assemblies/jury/people", json={"people": []})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_import"


async def test_import_people_as_csv_with_attribute_columns(
    api: httpx.AsyncClient, live: LiveServer
) -> None:
    await create(api)
    response = await import_csv(api, "\ufeff" + PEOPLE_CSV)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["refused"] == []
    assert [(link["participant"], link["role"]) for link in body["links"]] == [
        ("lead", "lead"),
        ("f1", "facilitator"),
        ("j1", "juror"),
        ("j2", "juror"),
    ]
    state = await live.palabre.hub.look("jury", lambda current: current)
    assert state is not None
    assert state.participants["j2"].attributes == {"age band": "30-44", "region": "south"}
    assert state.participants["f1"].display_name == "Tomás Reyes"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("id,name\nj1,Ann\nj2,\n", "line 3", id="empty-name"),
        pytest.param("id,name,role\nj1,Ann,juror\nj2,Bob,king\n", "line 3", id="bad-role"),
        pytest.param("id,name\nj1,Ann,extra\n", "line 2", id="extra-value"),
        pytest.param("id,full name\nj1,Ann\n", "line 1", id="no-name-column"),
    ],
)
async def test_bad_csv_lines_are_reported(
    api_sqlite: httpx.AsyncClient, live_sqlite: LiveServer, text: str, where: str
) -> None:
    await create(api_sqlite)
    response = await import_csv(api_sqlite, text)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_import"
    assert response.json()["detail"].startswith(where)
    # A file with a bad line is refused whole: nobody from it was added.
    state = await live_sqlite.palabre.hub.look("jury", lambda current: current)
    assert state is not None
    assert state.participants == {}


async def test_csv_that_is_not_utf8_is_refused(api_sqlite: httpx.AsyncClient) -> None:
    await create(api_sqlite)
    response = await api_sqlite.post(
        "/api/assemblies/jury/people",
        content="name\nJosé\n".encode("latin-1"),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_import"


async def test_other_media_types_are_refused(api_sqlite: httpx.AsyncClient) -> None:
    await create(api_sqlite)
    response = await api_sqlite.post(
        "/api/assemblies/jury/people",
        content=b"name\nAnn\n",
        headers={"Content-Type": "application/vnd.ms-excel"},
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


async def test_an_oversized_import_is_a_413(
    api_sqlite: httpx.AsyncClient, live_sqlite: LiveServer
) -> None:
    await create(api_sqlite)
    rows = "".join(f"j{n},Juror {n}\n" for n in range(IMPORT_LIMIT_BYTES // 10))
    text = "id,name\n" + rows
    assert len(text.encode()) > IMPORT_LIMIT_BYTES
    response = await import_csv(api_sqlite, text)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the cap holds while the body streams in.
        yield b"id,name\n"
        for _ in range(3):
            yield b"j,Somebody\n" * (IMPORT_LIMIT_BYTES // 20)

    streamed = await api_sqlite.post(
        "/api/assemblies/jury/people", content=chunks(), headers={"Content-Type": "text/csv"}
    )
    assert streamed.status_code == 413
    state = await live_sqlite.palabre.hub.look("jury", lambda current: current)
    assert state is not None
    assert state.participants == {}


async def test_an_oversized_assembly_body_is_a_413(api_sqlite: httpx.AsyncClient) -> None:
    response = await api_sqlite.post(
        "/api/assemblies", json={"id": "jury", "title": "x" * (100 * 1024)}
    )
    assert response.status_code == 413


# --- Unknown assemblies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/assemblies/nowhere/people"),
        ("POST", "/api/assemblies/nowhere/observer-links"),
        ("GET", "/api/assemblies/nowhere/links"),
        ("GET", "/api/assemblies/nowhere/export"),
    ],
)
async def test_an_unknown_assembly_is_a_404(api: httpx.AsyncClient, method: str, path: str) -> None:
    response = await api.request(method, path, json={"people": [{"id": "j1", "name": "Ann"}]})
    assert response.status_code == 404
    assert response.json()["error"] == "assembly_not_found"


# --- Links, observer links, revoking ----------------------------------------------------------


async def test_observer_links_work_for_private_assemblies(
    api: httpx.AsyncClient, live: LiveServer
) -> None:
    await create(api, public=False)
    response = await api.post("/api/assemblies/jury/observer-links")
    assert response.status_code == 201
    link = response.json()
    assert (link["role"], link["participant"], link["name"]) == ("observer", None, "Observer")
    async with connected(live.url, token=token(link)) as observer:
        assert observer.you["role"] == "observer"
        assert PLENARY_ROOM in observer.snapshots


async def test_links_lists_every_live_invite(api: httpx.AsyncClient) -> None:
    await create(api)
    imported = (await import_csv(api, PEOPLE_CSV)).json()["links"]
    observer = (await api.post("/api/assemblies/jury/observer-links")).json()
    response = await api.get("/api/assemblies/jury/links")
    assert response.status_code == 200
    listed = response.json()["links"]
    # The same links as when they were issued: they are derived from the invite ids again.
    assert {(i["invite_id"], i["link"]) for i in listed} == {
        (i["invite_id"], i["link"]) for i in [*imported, observer]
    }
    names = {link["participant"]: link["name"] for link in listed}
    assert names["j1"] == "Margaret Doyle"
    assert names[None] == "Observer"


async def test_a_revoked_link_is_refused_at_connect(
    api: httpx.AsyncClient, live: LiveServer
) -> None:
    await create(api)
    links = (await import_csv(api, PEOPLE_CSV)).json()["links"]
    juror = next(link for link in links if link["participant"] == "j1")
    async with connected(live.url, token=token(juror)) as before:
        assert before.you["participant"] == "j1"

    response = await api.post(f"/api/invites/{juror['invite_id']}/revoke")
    assert response.status_code == 200
    assert response.json() == {"revoked": juror["invite_id"]}

    client = Client(live.url)
    reasons: list[Any] = []
    client.sio.on("connect_error", reasons.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(token=token(juror))
    # Refused for the right reason: the invite is revoked, not unknown or expired.
    assert [reason["data"]["error"] for reason in reasons] == ["revoked_token"]

    again = await api.post(f"/api/invites/{juror['invite_id']}/revoke")
    assert again.status_code == 404
    assert again.json()["error"] == "invite_not_found"
    listed = (await api.get("/api/assemblies/jury/links")).json()["links"]
    assert juror["invite_id"] not in {link["invite_id"] for link in listed}
    assert len(listed) == len(links) - 1


async def test_revoking_an_unknown_invite_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/invites/no-such-invite/revoke")
    assert response.status_code == 404
    assert response.json()["error"] == "invite_not_found"


# --- Export -----------------------------------------------------------------------------------


async def test_export_then_verify_offline(
    api: httpx.AsyncClient, live: LiveServer, tmp_path: Path
) -> None:
    await create(api)
    links = (await import_csv(api, PEOPLE_CSV)).json()["links"]
    lead = next(link for link in links if link["participant"] == "lead")
    async with connected(live.url, token=token(lead)) as client:
        posed = await client.send("pose_question", room=PLENARY_ROOM, text="Où construire ?")
        assert posed["ok"], posed

    response = await api.get("/api/assemblies/jury/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == 'attachment; filename="jury-record.json"'
    record = response.json()
    assert record["assembly"] == "jury"
    assert record["problems"] == []
    types = [entry["event"]["type"] for entry in record["records"]]
    assert types[0] == "assembly_created"
    assert types.count("participant_added") == 4
    assert "question_posed" in types

    exported = tmp_path / "record.json"
    exported.write_bytes(response.content)
    verified = run_cli("verify", str(exported))
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout

    # Change what the question said, as a forger would: the chain no longer holds.
    question = next(e for e in record["records"] if e["event"]["type"] == "question_posed")
    question["event"]["text"] = "Où ne pas construire ?"
    question["body"] = question["body"].replace("Où construire", "Où ne pas construire")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(record))
    broken = run_cli("verify", str(tampered))
    assert broken.returncode == 1
    assert "does not match its hash" in broken.stdout
    assert broken.stderr.count("\n") == 1
    assert "broken" in broken.stderr
