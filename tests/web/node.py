"""Running the browser's modules under Node.js from pytest."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
# The modules use what Node.js 20 has (and Chromium has had for years).
MIN_NODE_MAJOR = 20


def node() -> str:
    """The `node` executable; skips (fails in CI, where PALABRE_REQUIRE_SERVICES=1) without it."""
    found = shutil.which("node")
    problem = None
    if found is None:
        problem = "node is not on PATH: the browser-side tests need Node.js 20 or later"
    else:
        version = subprocess.run(
            [found, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < MIN_NODE_MAJOR:
            problem = f"node {version} is too old: the browser-side tests need Node.js 20"
    if problem is not None:
        if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    assert found is not None
    return found


def run_node(*args: str | Path, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """Run node from the repository root; the output is kept for the failure message."""
    return subprocess.run(
        [node(), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
