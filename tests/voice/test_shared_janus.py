"""`palabre janus`: Janus run in the foreground from palabre's configuration, the Procfile's
`janus` process that several palabre processes share through PALABRE_JANUS_URLS."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from server.voice.janus_client import JanusClient, Unauthorized
from server.voice.janus_process import janus_binary
from tests.conftest import _missing
from tests.server.harness import ROOT, free_port, palabre, serving, settings_for
from tests.voice.sockets import bound_sockets

pytestmark = pytest.mark.voice

START_SECONDS = 20.0
SECRET = "shared-api-secret"
ADMIN_KEY = "shared-admin-key"


def environment(data_dir: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "PALABRE_DATA_DIR": str(data_dir),
        "PALABRE_JANUS_API_SECRET": SECRET,
        "PALABRE_JANUS_ADMIN_KEY": ADMIN_KEY,
        **more,
    }


async def answering(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    async with httpx.AsyncClient(timeout=1) as http:
        while True:
            assert process.poll() is None, process.stderr and process.stderr.read().decode()
            try:
                if (await http.get(f"{url}/info")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"Janus never answered on {url}"
            await asyncio.sleep(0.1)


async def shared_janus(data_dir: Path, port: int) -> AsyncIterator[subprocess.Popen[bytes]]:
    if janus_binary() is None:
        _missing("Janus is not installed (`apt-get install janus`): no `janus` on the PATH")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "janus", "--port", str(port)],
        cwd=ROOT,
        env=environment(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        await answering(f"http://127.0.0.1:{port}/janus", process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def janus_process(tmp_path: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    async for process in shared_janus(tmp_path / "janus-data", port):
        yield process, port


async def test_palabre_janus_runs_janus_itself_on_loopback_with_the_given_secret(
    janus_process: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = janus_process
    url = f"http://127.0.0.1:{port}/janus"
    # The process is Janus itself (exec'd), so a supervisor's signals reach it directly.
    assert Path(f"/proc/{process.pid}/exe").resolve() == janus_binary().resolve()  # type: ignore[union-attr]
    assert all(b.on_loopback for b in bound_sockets(process.pid))
    async with JanusClient(url, SECRET) as client:
        info = await client.info()
        assert set(info.plugins) == {"janus.plugin.audiobridge", "janus.plugin.streaming"}
        await (await client.create_session()).destroy()
    async with JanusClient(url, "wrong") as client:
        with pytest.raises(Unauthorized):
            await client.create_session()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


async def test_a_palabre_server_pointed_at_the_shared_janus_has_voice(
    janus_process: tuple[subprocess.Popen[bytes], int], sqlite_url: str, tmp_path: Path
) -> None:
    _, port = janus_process
    settings = settings_for(
        sqlite_url,
        tmp_path / "server",
        janus_urls=[f"http://127.0.0.1:{port}/janus"],
        janus_api_secret=SECRET,
        janus_admin_key=ADMIN_KEY,
    )
    async with serving(settings) as server, httpx.AsyncClient(base_url=server.url) as http:
        for _ in range(100):
            health = (await http.get("/healthz")).json()
            if health["voice"] == "ok":
                break
            await asyncio.sleep(0.1)
        assert health["voice"] == "ok"


def test_palabre_janus_refuses_a_data_dir_whose_janus_runs_already(
    janus_process: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    again = palabre(environment(tmp_path / "janus-data"), "janus", "--port", str(free_port()))
    assert again.returncode == 1
    assert "another palabre process runs Janus" in again.stderr


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


async def test_the_procfile_runs_palabre_with_the_janus_it_shares(tmp_path: Path) -> None:
    if janus_binary() is None:
        _missing("Janus is not installed (`apt-get install janus`): no `janus` on the PATH")
    processes = procfile()
    assert set(processes) == {"web", "janus"}
    web_port, janus_port = free_port(), free_port()
    env = {
        **environment(tmp_path / "data"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PORT": str(web_port),
        "PALABRE_JANUS_PORT": str(janus_port),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'palabre.sqlite3'}",
    }
    env.pop("PALABRE_JANUS_URLS", None)
    started = [
        subprocess.Popen(
            ["sh", "-c", f"exec {processes[name]}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in ("janus", "web")
    ]
    try:
        async with httpx.AsyncClient(timeout=1) as http:
            health: dict[str, object] = {}
            deadline = time.monotonic() + START_SECONDS
            while health.get("voice") != "ok" and time.monotonic() < deadline:
                assert all(p.poll() is None for p in started), "a Procfile process exited"
                with contextlib.suppress(httpx.HTTPError):
                    health = (await http.get(f"http://127.0.0.1:{web_port}/healthz")).json()
                await asyncio.sleep(0.2)
        assert health.get("voice") == "ok", health
        # The web process uses the shared Janus, and started none of its own.
        janus, web = started
        children = Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split()
        assert children == []
        assert Path(f"/proc/{janus.pid}/exe").resolve() == janus_binary().resolve()  # type: ignore[union-attr]
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
