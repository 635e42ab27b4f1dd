"""People on the real pages with a fake microphone, and what their pages measure: the level of
the room's audio they receive, the socket events they receive, and what the server answers
messages sent on their own socket (tests/media/probe.js does the watching in the page)."""

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import DESKTOP
from tests.server.harness import LiveServer

PROBE = Path(__file__).with_name("probe.js")
CHECK = "Check my microphone and join the voice"
# A peer connection between processes of one machine connects in well under a second.
CONNECT_SECONDS = 15.0
POLL_SECONDS = 0.05

Samples = list[tuple[float, float]]
RECEIVE_DELAYS = """async () => {
  const pc = __probe.peers.filter((p) => p.connectionState === "connected").at(-1);
  const found = { jitter_buffer_ms: null, target_ms: null };
  if (!pc) return found;
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp" || s.kind !== "audio" || !s.jitterBufferEmittedCount) return;
    found.jitter_buffer_ms = Math.round((s.jitterBufferDelay / s.jitterBufferEmittedCount) * 1000);
    found.target_ms = Math.round((s.jitterBufferTargetDelay / s.jitterBufferEmittedCount) * 1000);
  });
  return found;
}"""


def wall_ms() -> float:
    """Now, on the clock the pages' probe uses (wall-clock milliseconds)."""
    return time.time() * 1000


@dataclass
class Person:
    """Someone on the live page, in a browser context of their own."""

    name: str
    context: BrowserContext
    page: Page

    @classmethod
    async def enter(cls, browser: Browser, server: LiveServer, token: str, name: str) -> "Person":
        context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
        await context.add_init_script(path=str(PROBE))
        page = await context.new_page()
        await page.goto(f"{server.url}/join/{token}")
        await page.get_by_role("button", name="Enter the room").click()
        await page.wait_for_url(f"{server.url}/live")
        await page.get_by_role("status").filter(has_text="Live").wait_for()
        return cls(name, context, page)

    async def join_voice(self) -> None:
        """The microphone check, "Join the voice", and the peer connection up."""
        await self.page.get_by_role("button", name=CHECK).click()
        dialog = self.page.get_by_role("dialog", name="Check your microphone")
        await dialog.get_by_role("button", name="Join the voice", exact=True).click()
        await expect(self.page.get_by_role("button", name="Leave the voice")).to_be_visible()
        await self.connected()

    async def connected(self) -> None:
        """Wait until the page's latest peer connection is connected."""
        deadline = time.monotonic() + CONNECT_SECONDS
        while True:
            states = await self.page.evaluate("__probe.peerStates()")
            if states and states[-1]["connection"] == "connected":
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: the peer connection is {states}")
            await asyncio.sleep(POLL_SECONDS)

    async def levels(self, since_ms: float, until_ms: float | None = None) -> Samples:
        found = await self.page.evaluate("(from) => __probe.levelsSince(from)", since_ms)
        return [(at, rms) for at, rms in found if until_ms is None or at <= until_ms]

    async def tracks(self, since_ms: float) -> list[float]:
        """When the page's connections got their audio track, since `since_ms`."""
        found: list[float] = await self.page.evaluate(
            "(from) => __probe.tracksSince(from)", since_ms
        )
        return found

    async def received(self, since_ms: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self.page.evaluate(
            "(from) => __probe.receivedSince(from)", since_ms
        )
        return found

    async def emit(self, event: str, data: Any) -> dict[str, Any]:
        """Send a message on the page's own socket, as its scripts could; the server's ack."""
        answer: dict[str, Any] = await self.page.evaluate(
            "([name, data]) => __probe.emit(name, data)", [event, data]
        )
        return answer

    async def receive_delays(self) -> dict[str, float | None]:
        """The page's receiving side as WebRTC reports it: the jitter buffer's mean delay
        and its current target, in milliseconds."""
        found: dict[str, float | None] = await self.page.evaluate(RECEIVE_DELAYS)
        return found

    async def force_microphone_on(self) -> int:
        forced: int = await self.page.evaluate("__probe.forceMicrophoneOn()")
        return forced

    async def close(self) -> None:
        await self.context.close()


def mean(samples: Samples) -> float:
    return sum(rms for _, rms in samples) / len(samples) if samples else 0.0


def peak(samples: Samples) -> float:
    return max((rms for _, rms in samples), default=0.0)


def onset(samples: Samples, after_ms: float, threshold: float) -> float | None:
    """When the level first reached `threshold` after `after_ms`."""
    return next((at for at, rms in samples if at >= after_ms and rms >= threshold), None)


def quiet_from(samples: Samples, after_ms: float, threshold: float, hold_ms: float) -> float | None:
    """When the level fell below `threshold` (not before `after_ms`) to stay there until the
    last sample, `hold_ms` or more: a gap in the audio of a loaded machine, which the sound
    comes back after, is not silence."""
    start: float | None = None
    for at, rms in reversed(samples):
        if rms >= threshold:
            break
        start = at
    if start is None or samples[-1][0] - start < hold_ms:
        return None
    return max(start, after_ms)


def first_quiet(
    samples: Samples, after_ms: float, threshold: float, hold_ms: float
) -> float | None:
    """The start of the first stretch after `after_ms` below `threshold` for `hold_ms` or more
    (a gap the sound may come back after)."""
    start: float | None = None
    for at, rms in samples:
        if at < after_ms:
            continue
        if rms >= threshold:
            start = None
            continue
        if start is None:
            start = at
        if at - start >= hold_ms:
            return start
    return None
