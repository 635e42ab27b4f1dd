"""Issue 9's benchmark (bench/scale.py) end to end at its smallest: palabre, B1 and B2, each
driven by the Node load generator through W1 and W2, every command accepted and every event
delivered exactly once to every socket that follows its room. It keeps the plumbing (the
servers, the generator, the plan between them, the counting) from rotting unseen."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _missing
from tests.web.node import node

ROOT = Path(__file__).resolve().parents[1]
ROOMS, JURORS, OBSERVERS = 2, 3, 2
W2_JURORS, W2_OBSERVERS = 3, 5
RATE, SECONDS = 3, 1
RUN_SECONDS = 60
STOP_SECONDS = 15


def figures(tmp_path: Path) -> dict[str, Any]:
    """Every server's figures. palabre in one run and B1 and B2 in another, at the same time:
    the counts are exact whatever the load, and the two together stay well under a minute on
    a busy machine."""
    node()
    if not (ROOT / "bench" / "node_modules" / "socket.io-client").is_dir():
        _missing("bench/node_modules is missing: `make bench-install` runs npm ci in bench/")
    sizes = [
        "--w1-rooms", str(ROOMS), "--w1-jurors", str(JURORS), "--w1-observers", str(OBSERVERS),
        "--w2-jurors", str(W2_JURORS), "--w2-observers", str(W2_OBSERVERS),
        "--w1-rate", str(RATE), "--w2-rate", str(RATE), "--seconds", str(SECONDS),
    ]  # fmt: skip
    runs = {}
    for servers in ("palabre", "b1,b2"):
        out = tmp_path / f"{servers}.json"
        command = [sys.executable, "bench/scale.py", *sizes, "--servers", servers]
        runs[out] = subprocess.Popen(
            [*command, "--json-out", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group, so that a run that overstays goes with all it started.
            start_new_session=True,
        )
    results: dict[str, Any] = {}
    try:
        for out, run in runs.items():
            printed, _ = run.communicate(timeout=RUN_SECONDS)
            assert run.returncode == 0, printed
            results.update(json.loads(out.read_text())["results"])
    finally:
        for run in runs.values():
            if run.poll() is None:
                # The run, its server and its generator: the session this test started.
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(STOP_SECONDS)
    return results


@pytest.mark.timeout(RUN_SECONDS + STOP_SECONDS + 15)
def test_every_server_delivers_every_command_exactly_once(tmp_path: Path) -> None:
    results = figures(tmp_path)
    # Each room's followers: its jurors, its observers, its facilitator (W1) and the lead.
    sizes = {
        "w1": (ROOMS * (JURORS + OBSERVERS + 1) + 1, ROOMS, JURORS + OBSERVERS + 2),
        "w2": (W2_JURORS + W2_OBSERVERS + 1, 1, W2_JURORS + W2_OBSERVERS + 1),
    }
    assert sorted(results) == sorted(
        f"{server}/{workload}" for server in ("palabre", "b1", "b2") for workload in sizes
    )
    for name, result in results.items():
        sockets, rooms, followers = sizes[name.split("/")[1]]
        assert result["connect"]["connected"] == sockets, name
        (step,) = result["steps"]
        commands = rooms * RATE * SECONDS
        assert (step["commands"], step["accepted"], step["refused"]) == (commands, commands, {})
        assert step["expected"] == commands * followers, name
        assert (step["delivered"], step["lost"], step["duplicates"]) == (step["expected"], 0, 0)
        # Every other follower's receipt timed, none of them before its emit.
        assert step["fanoutMs"]["count"] == commands * (followers - 1), name
        assert 0 < step["fanoutMs"]["p50"] <= step["fanoutMs"]["p99"], name
        assert step["ackMs"]["count"] == commands, name
        # Read from /proc in clock ticks: a tiny load may not reach one.
        assert step["serverCpuSeconds"] >= 0 and step["generatorCpuSeconds"] > 0, name
