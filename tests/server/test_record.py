"""The record verifies forever: the export carries the stored bytes, events and snapshots carry
their version, and a log written by an older palabre still loads, serves and verifies."""

import asyncio
import copy
import json
import logging
import os
import shutil
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest

from facilitation import PLENARY_ROOM, Assembly, evolve
from facilitation.codec import STATE_VERSION
from facilitation.events import ParticipantAdded
from facilitation.messages import Event
from facilitation.record import EXPORT_FORMAT, canonical_json
from server.store import Store
from tests.server.harness import ROOT, connected, demo_people, palabre, serving, settings_for
from tests.server.test_store import run_sql

ADMIN = {"Authorization": "Bearer test-admin-token"}


def a_later_participant_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `participant_added` decode as a later palabre might define it: one more field, with
    a default. The registry is a copy for this test only, so the real one is left as it was."""
    monkeypatch.setattr(Event, "registry", dict(Event.registry))

    @dataclass(frozen=True, kw_only=True)
    class ParticipantAddedLater(ParticipantAdded):
        pronouns: str = ""

    ParticipantAddedLater.name = ParticipantAdded.name
    Event.registry[ParticipantAdded.name] = ParticipantAddedLater


async def test_an_export_still_verifies_after_an_event_class_gains_a_defaulted_field(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serving(settings_for(database_url, tmp_path)) as live:
        await demo_people(live.organiser)
        a_later_participant_added(monkeypatch)
        record = await live.organiser.export("jury")

    assert record["problems"] == []
    exported = tmp_path / "record.json"
    exported.write_text(json.dumps(record), encoding="utf-8")
    verified = palabre(None, "verify", str(exported))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout


def exported_with_problems(tmp_path: Path, name: str, document: Any) -> tuple[str, list[str]]:
    """`palabre verify` on a document that must fail: its one-line verdict and its problems."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    verified = palabre(None, "verify", str(path))
    assert verified.returncode == 1, (name, verified.stdout, verified.stderr)
    assert len(verified.stderr.splitlines()) == 1, verified.stderr
    return verified.stderr, verified.stdout.splitlines()


async def test_an_export_carries_each_stored_body_verbatim_and_checks_its_hash_over_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as live:
        await demo_people(live.organiser)
        record = await live.organiser.export("jury")
    stored = await run_sql(sqlite_url, "SELECT id, body, prev_hash, hash FROM event ORDER BY id")

    assert record["format"] == EXPORT_FORMAT
    assert [
        (entry["position"], entry["body"], entry["prev_hash"], entry["hash"])
        for entry in record["records"]
    ] == stored
    for entry in record["records"]:
        assert set(entry) == {"position", "event", "body", "prev_hash", "hash"}
        assert entry["event"] == json.loads(entry["body"])
        assert entry["hash"] == sha256((entry["prev_hash"] + entry["body"]).encode()).hexdigest()


async def test_an_export_whose_body_or_event_was_changed_fails_verification(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(sqlite_url, tmp_path)) as live:
        await demo_people(live.organiser)
        record = await live.organiser.export("jury")
    third = record["records"][2]
    assert third["event"]["display_name"] == "Fatou"

    body_changed = copy.deepcopy(record)
    body_changed["records"][2]["body"] = third["body"].replace("Fatou", "Fanny")
    body_changed["records"][2]["event"]["display_name"] = "Fanny"
    verdict, problems = exported_with_problems(tmp_path, "body", body_changed)
    assert problems == ["assembly#3: its content does not match its hash"]
    assert "the record is broken (1 problems)" in verdict

    event_changed = copy.deepcopy(record)
    event_changed["records"][2]["event"]["display_name"] = "Fanny"
    _, problems = exported_with_problems(tmp_path, "event", event_changed)
    assert problems == ["assembly#3: its `event` does not say what its `body` says"]

    body_dropped = copy.deepcopy(record)
    del body_dropped["records"][2]["body"]
    _, problems = exported_with_problems(tmp_path, "dropped", body_dropped)
    assert problems == [
        "record 3: no `body`",
        "assembly#4: expected seq 3",
        "assembly#4: does not chain from the event before it",
    ]

    from_the_future = dict(record, format=EXPORT_FORMAT + 1)
    verdict, _ = exported_with_problems(tmp_path, "future", from_the_future)
    assert f"not a palabre export: export format {EXPORT_FORMAT + 1}" in verdict


async def test_snapshots_of_another_state_version_are_passed_over_and_the_log_replayed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(database_url, tmp_path, snapshot_every_events=3)
    async with serving(settings) as live:
        tokens = await demo_people(live.organiser)
    # Snapshots that say something the log does not, to tell which one the server read.
    await run_sql(
        database_url, "UPDATE snapshot SET body = replace(body, 'on housing', 'in a snapshot')"
    )

    async def title_seen() -> str:
        async with serving(settings) as live, connected(live.url, token=tokens["lead"]) as lead:
            return str(lead.snapshots["assembly"]["title"])

    assert await title_seen() == "Citizens' jury in a snapshot"
    monkeypatch.setattr("server.store.STATE_VERSION", STATE_VERSION + 1)
    assert await title_seen() == "Citizens' jury on housing"


# --- A log written by palabre at commit a442838 (tests/fixtures/make_legacy_log.py) ----------

LEGACY = ROOT / "tests" / "fixtures" / "legacy-a442838"
LEGACY_ID = "legacy-jury"
LEGACY_EXPORT = LEGACY / "legacy-export.json"


def legacy_copy(tmp_path: Path) -> str:
    """A copy of the legacy database, to be migrated and written to; the original stays as is."""
    copied = tmp_path / "legacy" / "legacy.sqlite3"
    copied.parent.mkdir()
    shutil.copyfile(LEGACY / "legacy.sqlite3", copied)
    return f"sqlite+aiosqlite:///{copied}"


def test_the_legacy_export_still_verifies() -> None:
    verified = palabre(None, "verify", str(LEGACY_EXPORT))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip() == f"{LEGACY_EXPORT}: intact, 37 events in 3 streams"


def test_a_tampered_copy_of_the_legacy_export_fails_verification(tmp_path: Path) -> None:
    record = json.loads(LEGACY_EXPORT.read_text(encoding="utf-8"))
    vote = next(e["event"] for e in record["records"] if e["event"]["type"] == "vote_cast")
    vote["choices"] = [1 - vote["choices"][0]]

    verdict, problems = exported_with_problems(tmp_path, "tampered", record)
    assert problems == [f"plenary#{vote['seq']}: its content does not match its hash"]
    assert "broken" in verdict


async def test_the_legacy_database_replays_into_the_assembly_it_recorded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(legacy_copy(tmp_path))
    await store.start()
    try:
        with caplog.at_level(logging.WARNING, logger="palabre.store"):
            assert await store.latest_snapshot(LEGACY_ID) is None
        log = await store.events(LEGACY_ID)
    finally:
        await store.close()
    assert "(state version None)" in caplog.text
    state = Assembly()
    for stored in log:
        evolve(state, stored.event)

    assert state.title == "Citizens' jury on the river crossing"
    assert len(state.participants) == 9 and state.participants["j6"].display_name == "Li Wei 李伟"
    assert [r.closed for r in state.rounds] == [True]
    plenary = state.rooms[PLENARY_ROOM]
    assert plenary.floor is None and plenary.queue == []
    [poll] = plenary.polls.values()
    assert not poll.open and sorted(poll.votes) == ["j1", "j2", "j3", "j6"]
    [hidden] = [node for node in plenary.nodes.values() if node.hidden]
    assert hidden.moderation == [("hidden", "fac-1", "personal attack, see rule 3")]
    [breakout] = [room for room in state.rooms.values() if room.statements and room is not plenary]
    assert breakout.statements[0].text == "In our room we prefer the mill site."
    assert all(p.room == PLENARY_ROOM for p in state.participants.values() if p.role != "lead")


async def test_a_server_on_a_copy_of_the_legacy_database_serves_and_exports_it(
    tmp_path: Path,
) -> None:
    legacy = json.loads(LEGACY_EXPORT.read_text(encoding="utf-8"))
    async with serving(settings_for(legacy_copy(tmp_path), tmp_path)) as live:
        async with httpx.AsyncClient(base_url=live.url, headers=ADMIN, timeout=10) as api:
            exported = await api.get(f"/api/assemblies/{LEGACY_ID}/export")
            link = await api.post(f"/api/assemblies/{LEGACY_ID}/observer-links")
        assert exported.status_code == 200 and link.status_code == 201
        async with connected(live.url, token=link.json()["link"].rsplit("/", 1)[1]) as observer:
            plenary = observer.snapshots[PLENARY_ROOM]
            assembly_view = observer.snapshots["assembly"]

    assert plenary["seq"] == 19 and assembly_view["seq"] == 14
    assert [(p["open"], p["totals"]) for p in plenary["polls"]] == [(False, [3, 1])]
    assert [n["text"] for n in plenary["nodes"] if n["hidden"]] == [None]
    record = exported.json()
    assert record["problems"] == []
    # The same chain as the day it was written: each body is the event that export showed.
    assert [(e["hash"], e["prev_hash"]) for e in record["records"]] == [
        (e["hash"], e["prev_hash"]) for e in legacy["records"]
    ]
    assert [e["body"] for e in record["records"]] == [
        canonical_json(e["event"]).decode() for e in legacy["records"]
    ]
    path = tmp_path / "legacy-now.json"
    path.write_bytes(exported.content)
    verified = palabre(None, "verify", str(path))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_tampered_copy_of_the_legacy_database_fails_verification(tmp_path: Path) -> None:
    database_url = legacy_copy(tmp_path)
    asyncio.run(
        run_sql(database_url, "UPDATE event SET body = replace(body, 'Déjà relié', 'Jamais relié')")
    )
    legacy = json.loads(LEGACY_EXPORT.read_text(encoding="utf-8"))
    argument = next(
        e["event"] for e in legacy["records"] if e["event"]["type"] == "argument_posted"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PALABRE_DATA_DIR": str(tmp_path / "data"),
    }
    path = tmp_path / "tampered.json"
    exported = palabre(env, "export", LEGACY_ID, "-o", str(path))
    assert exported.returncode == 0, exported.stderr
    problem = f"plenary#{argument['seq']}: its content does not match its hash"
    assert json.loads(path.read_text(encoding="utf-8"))["problems"] == [problem]

    verified = palabre(None, "verify", str(path))
    assert verified.returncode == 1
    assert verified.stdout.splitlines() == [problem]
