"""`bench/scale.py --palabre-processes 2` end to end at its smallest: palabre as one process on
PostgreSQL, then as two behind nginx on PostgreSQL and Redis, driven by the Node load generator
through nginx; every event delivered exactly once, and the work's figures per process there.
It keeps the benchmark's scale-out plumbing from rotting unseen."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import POSTGRES_TEST_URL, _missing
from tests.web.node import node

ROOT = Path(__file__).resolve().parents[2]
ROOMS, JURORS, OBSERVERS = 2, 3, 2
RATE, SECONDS = 3, 1
RUN_SECONDS = 150
STOP_SECONDS = 15
# A Redis database of this run's own: the benchmark flushes it before and after.
REDIS_DATABASE = 12

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.mark.timeout(RUN_SECONDS + STOP_SECONDS + 15)
def test_two_processes_behind_nginx_in_the_benchmark_deliver_exactly_once(
    nginx: str, postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    node()
    if not (ROOT / "bench" / "node_modules" / "socket.io-client").is_dir():
        _missing("bench/node_modules is missing: `make bench-install` runs npm ci in bench/")
    out = tmp_path / "scale.json"
    sizes = [
        "--w1-rooms", str(ROOMS), "--w1-jurors", str(JURORS), "--w1-observers", str(OBSERVERS),
        "--w1-rate", str(RATE), "--seconds", str(SECONDS),
    ]  # fmt: skip
    command = [
        sys.executable, "bench/scale.py", *sizes, "--servers", "palabre", "--workloads", "w1",
        "--palabre-processes", "2",
        # The server the fixture reached: the benchmark makes a database of its own on it.
        "--postgres-url", POSTGRES_TEST_URL,
        "--redis-url",
        make_url(redis_url).set(database=str(REDIS_DATABASE)).render_as_string(hide_password=False),
        "--json-out", str(out),
    ]  # fmt: skip
    run = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed, _ = run.communicate(timeout=RUN_SECONDS)
    finally:
        if run.poll() is None:
            # The run, its servers, nginx and its generator: the session this test started.
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(STOP_SECONDS)
    assert run.returncode == 0, printed
    results = json.loads(out.read_text())["results"]
    assert sorted(results) == ["palabre-n/w1", "palabre/w1"]
    sockets = ROOMS * (JURORS + OBSERVERS + 1) + 1
    followers = JURORS + OBSERVERS + 2
    commands = ROOMS * RATE * SECONDS
    for name, result in results.items():
        assert result["connect"]["connected"] == sockets, name
        (step,) = result["steps"]
        assert (step["commands"], step["accepted"], step["refused"]) == (commands, commands, {})
        assert step["expected"] == commands * followers, name
        assert (step["delivered"], step["lost"], step["duplicates"]) == (step["expected"], 0, 0)
    scaled = results["palabre-n/w1"]
    assert scaled["processes"] == ["p1", "p2"]
    # nginx's log names the process of every socket (and of the setup's lead): both had some.
    each = scaled["connectionsEach"]
    assert sum(each.values()) == sockets + 1 and min(each.values()) > 0, each
    assert len(scaled["steps"][0]["serverCpuSecondsEach"]) == 2
    assert "Scale-out (W1): 2 palabre processes behind nginx" in printed
