"""Who gets which report: `palabre report` from an export file, the organiser's full report
behind the admin token, and the public report of a public assembly for anyone."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from facilitation import SYSTEM_ACTOR
from facilitation.commands import CreateAssembly
from server.reports.render import FILES
from tests.core.builders import World
from tests.fixtures.report_session import ASSEMBLY_ID, JURORS, Session, recorded_session
from tests.server.harness import LiveServer, palabre, settings_for

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture(scope="module")
def session() -> Session:
    return recorded_session()


@pytest.fixture
def exported(session: Session, tmp_path: Path) -> Path:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(session.export), encoding="utf-8")
    return path


def test_palabre_report_writes_every_file_from_an_export(exported: Path, tmp_path: Path) -> None:
    folder = tmp_path / "public"
    done = palabre(None, "report", str(exported), "--public", "--lang", "fr", "-o", str(folder))
    assert done.returncode == 0, done.stderr
    assert "public report of 2 rooms, 68 events" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted(["report.html", *FILES])
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Carte des arguments" in html
    for name, _ in JURORS.values():
        assert name not in html


def test_palabre_report_of_one_room(session: Session, exported: Path, tmp_path: Path) -> None:
    room = session.rooms[1]
    done = palabre(None, "report", str(exported), "--room", room, "-o", str(tmp_path / "room"))
    assert done.returncode == 0, done.stderr
    assert "full report of 1 rooms" in done.stdout
    assert "Tax long-empty homes" in (tmp_path / "room" / "report.html").read_text()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("not json", (), "it is not JSON"),
        ('{"records": 3}', (), "is not a palabre export"),
        (None, ("--room", "nowhere"), "no room 'nowhere'"),
    ],
)
def test_palabre_report_refuses_what_it_cannot_report(
    exported: Path, tmp_path: Path, content: str | None, args: tuple[str, ...], message: str
) -> None:
    path = exported
    if content is not None:
        path = tmp_path / "bad.json"
        path.write_text(content)
    done = palabre(None, "report", str(path), *args, "-o", str(tmp_path / "out"))
    assert done.returncode == 1
    assert message in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.fixture
async def live(sqlite_url: str, tmp_path: Path, session: Session) -> AsyncIterator[LiveServer]:
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    private = World()
    private.run(SYSTEM_ACTOR, CreateAssembly(title="A private jury", public=False))
    await server.palabre.store.create_assembly(ASSEMBLY_ID, session.world.log)
    await server.palabre.store.create_assembly("private-jury", private.log)
    try:
        yield server
    finally:
        await server.stop()


async def test_the_organiser_gets_the_full_report_and_observers_the_public_one(
    live: LiveServer, session: Session
) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        refused = await http.get(f"/api/assemblies/{ASSEMBLY_ID}/report")
        assert refused.status_code == 401
        full = await http.get(f"/api/assemblies/{ASSEMBLY_ID}/report", headers=ADMIN)
        assert full.status_code == 200
        assert full.headers["content-type"].startswith("text/html")
        assert "script-src" not in full.headers["content-security-policy"]
        assert session.hidden_text in full.text
        assert all(name in full.text for name, _ in JURORS.values())
        shown = await http.get(f"/assemblies/{ASSEMBLY_ID}/report")
        assert shown.status_code == 200
        assert session.hidden_text not in shown.text
        assert not any(name in shown.text for name, _ in JURORS.values())
        previewed = await http.get(
            f"/api/assemblies/{ASSEMBLY_ID}/report", params={"view": "public"}, headers=ADMIN
        )
        assert previewed.text.count("<svg") == shown.text.count("<svg")
        assert session.hidden_text not in previewed.text


async def test_report_files_download_as_csv_and_text(live: LiveServer, session: Session) -> None:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        votes = await http.get(f"/assemblies/{ASSEMBLY_ID}/report/votes.csv")
        assert votes.status_code == 200
        assert votes.headers["content-type"].startswith("text/csv")
        assert f'filename="{ASSEMBLY_ID}-votes.csv"' in votes.headers["content-disposition"]
        assert len(votes.text.strip().splitlines()) == 1 + len(session.open_votes)
        room = session.rooms[0]
        said = await http.get(
            f"/api/assemblies/{ASSEMBLY_ID}/report/transcript.txt",
            params={"room": room, "lang": "fr"},
            headers=ADMIN,
        )
        assert said.status_code == 200
        assert "Empty offices could become flats within a year." in said.text
        assert "Tax the owners" not in said.text


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        (f"/assemblies/{ASSEMBLY_ID}/report/secrets.csv", {}, 404, "report_file_not_found"),
        (f"/assemblies/{ASSEMBLY_ID}/report", {"room": "nowhere"}, 404, "scope_not_found"),
        (f"/assemblies/{ASSEMBLY_ID}/report", {"room": "a", "round": "b"}, 422, "invalid_scope"),
        ("/assemblies/private-jury/report", {}, 404, "assembly_not_found"),
        ("/assemblies/no-such-jury/report", {}, 404, "assembly_not_found"),
        ("/api/assemblies/no-such-jury/report", {}, 404, "assembly_not_found"),
    ],
)
async def test_a_report_that_cannot_be_made_is_refused_with_a_stable_code(
    live: LiveServer, path: str, params: dict[str, str], status: int, code: str
) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=ADMIN, timeout=30) as http:
        answer = await http.get(path, params=params)
    assert answer.status_code == status
    assert answer.json()["error"] == code


async def test_the_organiser_gets_a_private_assemblys_report(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=ADMIN, timeout=30) as http:
        answer = await http.get("/api/assemblies/private-jury/report")
    assert answer.status_code == 200
    assert "A private jury" in answer.text
