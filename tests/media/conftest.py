"""The end-to-end voice runs: for each scenario, a network namespace made for it, the driver
(tests/media/driver.py) run once inside it, the namespace removed; and the figures measured
shown at the end of the test output whatever the outcome."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server.voice.janus_process import janus_binary
from tests.browser.conftest import AXE, CHROMIUM
from tests.conftest import _missing
from tests.media.netns import NamespaceUnavailable, addresses, media_namespace, why_unavailable
from tests.media.speech import missing_tools

ROOT = Path(__file__).resolve().parents[2]
# A scenario takes 15 to 50 s here (a loaded machine doubles it); a hang ends well before the
# test's own timeout.
DRIVER_SECONDS = 150
# The test's own timeout covers the run above (made in the first test that needs it).
TIMEOUT_SECONDS = DRIVER_SECONDS + 30
FIGURES: pytest.StashKey[dict[str, Any]] = pytest.StashKey()


def _why_not_here() -> str | None:
    reason = why_unavailable()
    if reason is not None:
        return reason
    if janus_binary() is None:
        return "Janus is not installed (`apt-get install janus`): no `janus` on the PATH"
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)"
    if not AXE.exists():
        return "web/node_modules is missing: run `make install`"
    tools = missing_tools()
    if tools:
        return f"{', '.join(tools)} not installed (Debian packages espeak-ng, sox)"
    return None


def _drive(namespace: str, out: Path, name: str) -> subprocess.CompletedProcess[str]:
    """The driver inside the namespace, in a process group of its own, killed whole on a hang
    (so that nothing of it keeps the namespace alive)."""
    command = ["ip", "netns", "exec", namespace, sys.executable, "-m", "tests.media.driver"]
    process = subprocess.Popen(
        [*command, str(out), name],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=DRIVER_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n(the driver was killed after {DRIVER_SECONDS} s)"
    return subprocess.CompletedProcess(process.args, process.returncode, output, None)


class MediaRuns:
    """Each scenario's results, its driver run once in a namespace made for it (and removed
    after it), on the first test that asks."""

    def __init__(self, folder: Path, figures: dict[str, Any]) -> None:
        self.folder = folder
        self.figures = figures

    def scenario(self, name: str) -> dict[str, Any]:
        """One scenario's results; the test fails with the driver's error when it had one."""
        if name not in self.figures:
            self.figures[name] = self._run(name)
        found = self.figures[name]
        if "error" in found:
            pytest.fail(f"{name} failed in the driver:\n{found['error']}", pytrace=False)
        return dict(found)

    def _run(self, name: str) -> dict[str, Any]:
        out = self.folder / f"{name}.json"
        try:
            with media_namespace() as namespace:
                inside = addresses(namespace)
                done = _drive(namespace, out, name)
        except NamespaceUnavailable as problem:
            _missing(str(problem))
        results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        found: dict[str, Any] = results.get(name) or {
            "error": f"the driver gave no results (exit {done.returncode}):\n{done.stdout[-4000:]}"
        }
        found["namespace"] = {"name": namespace, "addresses": inside}
        return found


@pytest.fixture(scope="session")
def media(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> MediaRuns:
    reason = _why_not_here()
    if reason is not None:
        _missing(reason)
    figures: dict[str, Any] = request.config.stash.setdefault(FIGURES, {})
    return MediaRuns(tmp_path_factory.mktemp("media"), figures)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(FIGURES, None)
    if results is None:
        return
    terminalreporter.section("voice end to end: what the listeners measured")
    for line in summary_lines(results):
        terminalreporter.write_line(line)


def _level(figures: dict[str, Any] | None) -> str:
    if not figures:
        return "-"
    return f"RMS {figures['mean_rms']:.4f} (peak {figures['peak_rms']:.3f})"


def _ms(figures: dict[str, Any] | None, key: str) -> str:
    value = None if figures is None else figures.get(key)
    return "-" if value is None else f"{value} ms"


def _series(runs: list[dict[str, Any]] | None, key: str) -> str:
    values = [run.get(key) for run in runs or []]
    return "/".join("-" if value is None else str(value) for value in values) + " ms"


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The figures worth reading, one per line (a scenario that failed says so)."""
    lines = [
        f"{name}: namespace {found['namespace']['name']} "
        f"({', '.join(found['namespace']['addresses'])})"
        for name, found in results.items()
        if "namespace" in found
    ]
    floor = results.get("floor", {})
    if "error" not in floor and floor:
        lines += [
            f"everyone muted: {_level(floor.get('everyone_muted'))}",
            f"floor holder heard: {_level(floor.get('floor_holder'))}",
            *(
                f"{label}: {_series(floor.get(key), 'from_receipt_ms')} from the event's "
                f"arrival on the listener's page (median asserted under 500 ms), "
                f"{_series(floor.get(key), 'from_event_ms')} from the event's time, "
                f"{_series(floor.get(key), 'from_command_ms')} from sending the command "
                f"(acked after {_series(floor.get(key), 'ack_ms')})"
                for label, key in (
                    ("floor_granted -> heard", "grant"),
                    ("turn_ended -> silence", "turn_end"),
                )
            ),
            f"the listener's jitter buffer: {floor.get('listener_receiving')}",
            f"participant_muted -> silence: {_ms(floor.get('mute'), 'from_receipt_ms')} from the "
            f"event's arrival, {_ms(floor.get('mute'), 'from_event_ms')} from its time",
            f"juror without the floor, page forcing its track on: "
            f"{_level(floor.get('rogue', {}).get('listener'))}",
            f"the same juror with the floor: {_level(floor.get('rogue_with_the_floor'))}",
            f"juror muted by a facilitator: {_level(floor.get('muted_juror', {}).get('listener'))}",
        ]
    moderated = results.get("moderated", {})
    if "error" not in moderated and moderated:
        lines += [
            f"facilitator heard: {_level(moderated.get('facilitator'))}",
            *(
                f"open floor, {label}: {_level(moderated.get('open_floor', {}).get(key))}"
                for label, key in (("j2 alone", "j2_alone"), ("j1 alone", "j1_alone"))
            ),
            f"open floor, both: {_level(moderated.get('open_floor', {}).get('both'))}",
        ]
    rounds = results.get("rounds", {})
    if "error" not in rounds and rounds:
        for phase in ("room_two_speaks", "room_one_speaks", "plenary_after_recall"):
            heard = rounds.get(phase, {})
            lines.append(
                f"breakout, {phase.replace('_', ' ')}: room one listener "
                f"{_level(heard.get('room_one_listener'))}, room two listener "
                f"{_level(heard.get('room_two_listener'))}"
            )
    talk = results.get("speaking_time", {})
    if "error" not in talk and talk:
        lines.append(
            f"speaking time: talked {talk.get('talked_seconds')} s, floor {talk.get('floor_ms')} "
            f"ms, voiced in the log {talk.get('log_voiced_ms')} ms, in the fairness figures "
            f"{talk.get('fairness_voiced_ms')} ms (voiced Gini {talk.get('fairness_voiced_gini')})"
        )
    watched = results.get("observer", {})
    if "error" not in watched and watched:
        lines.append(
            f"observer through the stream: {_level(watched.get('floor_holder'))}; "
            f"floor_granted -> heard {_ms(watched.get('grant'), 'from_receipt_ms')}, "
            f"turn_ended -> silence {_ms(watched.get('turn_end'), 'from_receipt_ms')} "
            f"from the event's arrival ({_ms(watched.get('grant'), 'from_event_ms')}, "
            f"{_ms(watched.get('turn_end'), 'from_event_ms')} from its time); "
            f"jitter buffer {watched.get('listener_receiving')}"
        )
    restart = results.get("restart", {})
    if "error" not in restart and restart:
        lines.append(
            f"Janus killed: the floor holder heard again after "
            f"{_ms(restart, 'heard_again_after_ms')}; {_level(restart.get('after'))}"
        )
    for name, found in results.items():
        if isinstance(found, dict) and "error" in found:
            lines.append(f"{name}: FAILED in the driver (see the test)")
        elif isinstance(found, dict) and "wall_seconds" in found:
            lines.append(f"{name}: {found['wall_seconds']} s")
    return lines
