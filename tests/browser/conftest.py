"""Real pages in a real browser: Debian's Chromium driven by Playwright against a live server."""

import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.server.harness import LiveServer, demo_people, settings_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PALABRE_CHROMIUM", "/usr/bin/chromium")
# Flags this machine needs: no sandbox as root, no GPU, and no calls home on a closed network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    # A fake microphone (a beep) and an automatic yes to its permission, for the voice pages;
    # a test that wants a refusal denies the permission in its own context.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    # A page's peer connection names its host candidates by their addresses instead of
    # registering mDNS names, which would announce them on the machine's network: test
    # traffic stays on loopback.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# The README points here: every page at desktop and phone size, for a person to look at.
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _unavailable(reason: str) -> None:
    if os.environ.get("PALABRE_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)")
    if not AXE.exists():
        _unavailable("web/node_modules is missing: run `make install`")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def server(sqlite_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    live = LiveServer(settings_for(sqlite_url, tmp_path))
    await live.start()
    try:
        yield live
    finally:
        await live.stop()


@pytest.fixture
async def tokens(server: LiveServer) -> dict[str, str]:
    return await demo_people(server.organiser, "jury", jurors=3)


async def person(
    browser: Browser,
    server: LiveServer,
    token: str,
    *,
    viewport: ViewportSize = DESKTOP,
    prepare: Callable[[BrowserContext], Awaitable[None]] | None = None,
) -> tuple[BrowserContext, Page]:
    """A person in their own browser context, through their invite link into the room;
    `prepare` readies the context first (permissions, a stand-in for part of the socket)."""
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    if prepare is not None:
        await prepare(context)
    page = await context.new_page()
    await page.goto(f"{server.url}/join/{token}")
    await page.get_by_role("button", name="Enter the room").click()
    await page.wait_for_url(f"{server.url}/live")
    await page.get_by_role("status").filter(has_text="Live").wait_for()
    return context, page


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations axe-core finds on the page as it is."""
    # Evaluated through the devtools protocol, so the page's strict CSP does not block it.
    await page.evaluate(AXE.read_text())
    results = await page.evaluate("async () => await axe.run(document)")
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(
        [
            {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in violations
        ],
        indent=1,
    )


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def clean_screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)


async def watch(
    browser: Browser, server: LiveServer, assembly: str, *, viewport: ViewportSize = DESKTOP
) -> tuple[BrowserContext, Page]:
    """An anonymous observer of a public assembly, on the read-only page."""
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{server.url}/watch/{assembly}")
    await page.get_by_role("status").filter(has_text="Live").wait_for()
    return context, page


def fail_on_page_errors(page: Page, errors: list[str]) -> None:
    """Collect script errors and dialogs: a post must never run code in anyone's page."""
    page.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
