"""The browser modules' own unit tests, run by Node.js's test runner (`node --test`)."""

import pytest

from tests.web.node import HERE, run_node


@pytest.mark.parametrize(
    "suite", ["streams.test.mjs", "state.test.mjs", "voice.test.mjs", "fairness.test.mjs"]
)
def test_node_suite_passes(suite: str) -> None:
    done = run_node("--test", HERE / suite)
    assert done.returncode == 0, f"node --test {suite} failed:\n{done.stdout}\n{done.stderr}"
    assert "# fail 0" in done.stdout, done.stdout
