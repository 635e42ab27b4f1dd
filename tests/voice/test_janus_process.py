"""palabre's own Janus, run for real: what it loads and listens on, its secret, and that it
never outlives its stop nor palabre itself."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.settings import Settings
from server.voice.janus_client import JanusClient, Unauthorized
from server.voice.janus_process import (
    JanusFolderBusy,
    JanusOptions,
    OwnJanus,
    configuration,
    start_janus,
)
from tests.server.harness import ROOT
from tests.voice.sockets import bound_sockets

pytestmark = pytest.mark.voice

# A Janus process ends within a second of SIGTERM or of its parent's death.
EXIT_SECONDS = 10.0
POLL_SECONDS = 0.05


def process_gone(pid: int) -> bool:
    """No such process any more (or only its zombie, which no longer runs)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


async def wait_until_gone(pid: int) -> float:
    """Seconds until the process is gone; fails past EXIT_SECONDS."""
    started = time.monotonic()
    while not process_gone(pid):
        assert time.monotonic() - started < EXIT_SECONDS, f"process {pid} still runs"
        await asyncio.sleep(POLL_SECONDS)
    return time.monotonic() - started


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_own_janus_loads_only_audiobridge_streaming_and_http_on_loopback(
    janus: OwnJanus,
) -> None:
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        info = await client.info()
    assert set(info.plugins) == {"janus.plugin.audiobridge", "janus.plugin.streaming"}
    assert set(info.transports) == {"janus.transport.http"}
    assert info.api_secret is True
    assert janus.pid is not None
    bound = bound_sockets(janus.pid)
    assert [(b.protocol, b.port) for b in bound if b.protocol.startswith("tcp")] == [
        ("tcp", janus.port)
    ]
    assert all(b.on_loopback for b in bound), bound


async def test_the_admin_api_is_not_served(janus: OwnJanus) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        admin = await http.post(
            f"http://127.0.0.1:{janus.port}/admin",
            json={"janus": "info", "transaction": "t", "admin_secret": "janusoverlord"},
        )
    assert admin.status_code == httpx.codes.NOT_FOUND


async def test_a_wrong_api_secret_is_refused_and_the_right_one_accepted(janus: OwnJanus) -> None:
    async with JanusClient(janus.url, "not-the-secret") as wrong:
        with pytest.raises(Unauthorized):
            await wrong.create_session()
    async with JanusClient(janus.url, janus.options.api_secret) as right:
        session = await right.create_session()
        async with JanusClient(janus.url, "not-the-secret") as wrong:
            with pytest.raises(Unauthorized):
                await wrong.poll(session.id)
        assert session.lost is None
        await session.destroy()


async def test_the_generated_configuration_is_readable_by_its_owner_only(janus: OwnJanus) -> None:
    folder = janus.options.folder
    for name in (
        "janus.jcfg",
        "janus.transport.http.jcfg",
        "janus.plugin.audiobridge.jcfg",
        "janus.plugin.streaming.jcfg",
        "janus.log",
    ):
        assert (folder / name).stat().st_mode & 0o077 == 0, name
    core = (folder / "janus.jcfg").read_text()
    assert f'api_secret = "{janus.options.api_secret}"' in core
    http = (folder / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in http
    assert "admin_http = false" in http


async def test_stop_leaves_no_process_and_frees_the_port(janus: OwnJanus) -> None:
    pid, port = janus.pid, janus.port
    assert pid is not None
    started = time.monotonic()
    await janus.stop()
    print(f"janus stopped in {time.monotonic() - started:.2f} s")
    assert process_gone(pid)
    assert refuses_connections(port)


async def test_a_second_palabre_on_the_same_data_dir_cannot_start_another_janus(
    janus: OwnJanus,
) -> None:
    with pytest.raises(JanusFolderBusy, match="PALABRE_JANUS_URLS"):
        await start_janus(janus.options)
    assert janus.running


async def test_a_restart_keeps_the_port_and_answers_again(janus: OwnJanus) -> None:
    first_pid, port = janus.pid, janus.port
    await janus.restart()
    assert janus.pid != first_pid
    assert first_pid is not None and process_gone(first_pid)
    assert janus.port == port
    async with JanusClient(janus.url, janus.options.api_secret) as client:
        await (await client.create_session()).destroy()


STARTER = """
import asyncio, sys
from pathlib import Path
from server.voice.janus_process import JanusOptions, janus_binary, start_janus

async def main():
    binary = janus_binary()
    janus = await start_janus(JanusOptions(Path(sys.argv[1]), "secret", "key", binary))
    print(janus.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_janus_dies_with_the_palabre_that_started_it_even_by_sigkill(
    janus: OwnJanus, tmp_path: Path
) -> None:
    # The fixture's Janus proves the binary is there; this one belongs to a child process.
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path / "orphan")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    orphan: int | None = None
    try:
        assert starter.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(starter.stdout.readline), EXIT_SECONDS)
        orphan = int(line)
        assert not process_gone(orphan)
        starter.send_signal(signal.SIGKILL)
        seconds = await wait_until_gone(orphan)
        print(f"janus exited {seconds:.2f} s after its parent was killed")
    finally:
        starter.kill()
        starter.wait()
        if orphan is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)


def test_the_nat_settings_reach_the_configuration_and_are_absent_by_default(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        janus_port=8765,
        janus_ice_enforce_list="eth0",
        janus_nat_1_1_mapping="203.0.113.7",
        janus_rtp_port_range="20000-20999",
    )
    options = JanusOptions.from_settings(settings, Path("/usr/bin/janus"))
    assert options.folder == tmp_path / "janus"
    assert options.port == 8765
    assert options.api_secret == settings.janus_secret
    assert options.admin_key == settings.janus_plugin_key
    core = configuration(options, tmp_path / "lib", 8765, "palabre-test")["janus.jcfg"]
    assert 'ice_enforce_list = "eth0"' in core
    assert 'nat_1_1_mapping = "203.0.113.7"' in core
    assert 'rtp_port_range = "20000-20999"' in core
    plain = JanusOptions.from_settings(Settings(data_dir=tmp_path), Path("/usr/bin/janus"))
    core = configuration(plain, tmp_path / "lib", 8765, "palabre-test")["janus.jcfg"]
    for absent in ("ice_enforce_list", "nat_1_1_mapping", "rtp_port_range"):
        assert absent not in core
