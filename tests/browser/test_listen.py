"""An observer listening to a room on the page: the play button, the state in plain words, the
stop button, the room picker, a media server restart and a room's close; in English and
French, by keyboard, at phone size, axe-clean. Against the real server and a real Janus: the
page's Chromium takes Janus's offer and its answer is accepted.

No media flows: ICE cannot succeed on loopback (Janus offers no loopback candidates). So that
no connectivity check is ever sent anywhere, `StreamWire` takes the candidates out of the offer
before the page sees it and keeps the page's own candidates from Janus (it acks them itself);
every other message goes to the real server and back untouched."""

import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from facilitation.commands import CloseRound, OpenRound, StartRound
from server.voice.janus_process import OwnJanus
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, describe, screenshot
from tests.browser.socketwire import EMIT, SOCKET, rewrite_reply
from tests.browser.test_pages import lively_demo
from tests.server.harness import LiveServer
from tests.voice.voiced import janus_settings, serving_voice, until_true

pytestmark = pytest.mark.voice

LISTEN = "Listen to this room"
STOP = "Stop listening"
NOT_LISTENING = "Not listening"
LISTENING = "Listening to Plenary live"
CANDIDATE_LINE = re.compile(r"^a=(candidate|end-of-candidates).*\r?\n", re.MULTILINE)
GRACE_SECONDS = 0.3


class StreamWire:
    """Sits on the observer page's socket: offers reach the page without candidates, the
    page's `voice_ice` never reaches Janus; everything else passes through unchanged."""

    def __init__(self) -> None:
        self.sent_by_page: list[str] = []
        self.offers: list[str] = []

    async def attach(self, context: BrowserContext) -> None:
        await context.route_web_socket(SOCKET, self.route)

    def route(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def upward(message: str | bytes) -> None:
            self.sent_by_page.append(str(message))
            emitted = EMIT.match(message) if isinstance(message, str) else None
            if emitted is not None and json.loads(emitted[2])[0] == "voice_ice":
                page_side.send(f"43{emitted[1]}{json.dumps([{'ok': True}])}")
                return
            server_side.send(message)

        page_side.on_message(upward)
        server_side.on_message(lambda message: page_side.send(self.without_candidates(message)))

    def without_candidates(self, message: str | bytes) -> str | bytes:
        def strip(reply: dict[str, Any]) -> bool:
            if not isinstance(reply.get("offer"), dict):
                return False
            reply["offer"]["sdp"] = CANDIDATE_LINE.sub("", reply["offer"]["sdp"])
            self.offers.append(reply["offer"]["sdp"])
            return True

        return rewrite_reply(message, strip)

    def sent(self, event: str) -> int:
        return sum(f'["{event}"' in message for message in self.sent_by_page)


@pytest.fixture
async def voice_server(
    sqlite_url: str, tmp_path: Path, janus: OwnJanus
) -> AsyncIterator[LiveServer]:
    async with serving_voice(janus_settings(sqlite_url, tmp_path / "data", [janus])) as live:
        live.palabre.voice.listening.grace_seconds = GRACE_SECONDS
        yield live


async def observer_page(
    browser: Browser,
    server: LiveServer,
    token: str,
    wire: StreamWire,
    *,
    viewport: Any = DESKTOP,
    locale: str = "en-GB",
    live_text: str = "Live",
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport=viewport, locale=locale)
    await wire.attach(context)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{server.url}/join/{token}")
    await page.locator("#enter").click()
    await page.wait_for_url(f"{server.url}/live")
    await page.get_by_role("status").filter(has_text=live_text).first.wait_for()
    assert not errors, errors
    return context, page


def listeners(server: LiveServer) -> int:
    return sum(len(stream.listeners) for stream in server.palabre.voice.listening.streams.values())


def answered(server: LiveServer) -> int:
    listening = server.palabre.voice.listening
    return sum(
        1
        for stream in listening.streams.values()
        for sid in stream.listeners
        if (listener := listening.listening(sid)) is not None and listener.answered
    )


async def assert_fits_and_is_clean(page: Page, name: str, phone: bool) -> None:
    violations = await axe_violations(page)
    assert not violations, f"{name}: {describe(violations)}"
    if phone:
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: {width} px wide"


async def test_the_play_button_listens_through_janus_and_the_stop_button_stops(
    browser: Browser, voice_server: LiveServer
) -> None:
    tokens = await lively_demo(voice_server)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        wire = StreamWire()
        context, page = await observer_page(
            browser, voice_server, tokens["obs-joanna"], wire, viewport=viewport
        )
        bar = page.get_by_role("region", name="The room's sound")
        state = bar.locator(".voice-state")
        await expect(state).to_have_text(NOT_LISTENING)
        await expect(bar).to_be_in_viewport()
        await screenshot(page, f"listen-ready-{size}")
        await assert_fits_and_is_clean(page, f"ready, {size}", size == "phone")
        play = bar.get_by_role("button", name=LISTEN)
        box = await play.bounding_box()
        assert box is not None and box["height"] >= 44, box
        await play.click()
        await expect(state).to_have_text(LISTENING)
        # The real Chromium took Janus's offer, and Janus took its answer.
        assert wire.offers and "m=audio" in wire.offers[-1]
        await until_true(lambda: answered(voice_server) == 1, "the answer accepted")
        assert wire.sent("voice_listen_answer") == 1
        await screenshot(page, f"listen-listening-{size}")
        await assert_fits_and_is_clean(page, f"listening, {size}", size == "phone")
        await bar.get_by_role("button", name=STOP).click()
        await expect(state).to_have_text(NOT_LISTENING)
        await until_true(lambda: listeners(voice_server) == 0, "the listening ended")
        await until_true(lambda: not voice_server.palabre.voice.listening.streams, "stream removed")
        await context.close()


async def test_the_play_button_works_from_the_keyboard_and_speaks_french(
    browser: Browser, voice_server: LiveServer
) -> None:
    tokens = await lively_demo(voice_server)
    wire = StreamWire()
    context, page = await observer_page(
        browser,
        voice_server,
        tokens["obs-joanna"],
        wire,
        viewport=PHONE,
        locale="fr-FR",
        live_text="En direct",
    )
    bar = page.get_by_role("region", name="Le son de la salle")
    state = bar.locator(".voice-state")
    await expect(state).to_have_text("Vous n'écoutez pas")
    play = bar.get_by_role("button", name="Écouter cette salle")
    await play.focus()
    await page.keyboard.press("Enter")
    await expect(state).to_have_text("Vous écoutez Plénière en direct")
    await until_true(lambda: answered(voice_server) == 1, "the answer accepted")
    stop = bar.get_by_role("button", name="Arrêter l'écoute")
    await stop.focus()
    await page.keyboard.press("Space")
    await expect(state).to_have_text("Vous n'écoutez pas")
    await screenshot(page, "listen-french-phone")
    await assert_fits_and_is_clean(page, "french, phone", True)
    await context.close()


async def test_a_janus_restart_makes_the_page_listen_again_by_itself_and_say_so(
    browser: Browser, voice_server: LiveServer, janus: OwnJanus
) -> None:
    tokens = await lively_demo(voice_server)
    wire = StreamWire()
    context, page = await observer_page(
        browser, voice_server, tokens["obs-joanna"], wire, viewport=PHONE
    )
    bar = page.get_by_role("region", name="The room's sound")
    state = bar.locator(".voice-state")
    await bar.get_by_role("button", name=LISTEN).click()
    await expect(state).to_have_text(LISTENING)
    assert janus.pid is not None
    os.kill(janus.pid, signal.SIGKILL)
    await expect(state).to_have_text(
        "The voice server stopped: the sound comes back by itself when it returns."
    )
    await screenshot(page, "listen-voice-server-stopped-phone")
    await assert_fits_and_is_clean(page, "voice server stopped", True)
    await janus.restart()
    await expect(bar.locator(".voice-note")).to_have_text("Listening again.", timeout=15_000)
    await expect(state).to_have_text(LISTENING)
    assert wire.sent("voice_listen") == 2 and wire.sent("voice_listen_answer") == 2
    await until_true(lambda: answered(voice_server) == 1, "the answer accepted again")
    await screenshot(page, "listen-again-phone")
    await context.close()


async def test_the_room_picker_switches_the_stream_and_a_closed_room_says_its_sound_ended(
    browser: Browser, voice_server: LiveServer
) -> None:
    tokens = await lively_demo(voice_server)
    runtime = await voice_server.palabre.hub.get("demo")
    assert runtime is not None
    for command in (OpenRound(room_count=2), StartRound()):
        outcome = await runtime.submit(command, "lead")
        assert outcome.ok, outcome
    wire = StreamWire()
    context, page = await observer_page(
        browser, voice_server, tokens["obs-joanna"], wire, viewport=PHONE
    )
    bar = page.get_by_role("region", name="The room's sound")
    state = bar.locator(".voice-state")
    await bar.get_by_role("button", name=LISTEN).click()
    await expect(state).to_have_text(LISTENING)
    picker = page.get_by_label("Watch")
    breakout = await picker.locator("option").nth(1).get_attribute("value")
    assert breakout is not None
    await picker.select_option(breakout)
    await page.wait_for_url(re.compile(r".*room="))
    # The page reloaded on the other room and listens to it without another click.
    await expect(state).to_contain_text("Listening to")
    await expect(state).not_to_contain_text("Plenary")
    await until_true(
        lambda: set(voice_server.palabre.voice.listening.streams) == {("demo", breakout)},
        "the stream switched",
    )
    await screenshot(page, "listen-breakout-phone")
    await assert_fits_and_is_clean(page, "breakout, phone", True)
    outcome = await runtime.submit(CloseRound(), "lead")
    assert outcome.ok, outcome
    await expect(state).to_have_text("This room has closed: its sound has ended.")
    await expect(bar.get_by_role("button", name=LISTEN)).to_have_count(0)
    await screenshot(page, "listen-room-closed-phone")
    await assert_fits_and_is_clean(page, "room closed, phone", True)
    # Back to the plenary in one tap, still listening.
    await bar.get_by_role("link", name="Go to the plenary").click()
    await page.wait_for_url(re.compile(r".*room=plenary"))
    await expect(state).to_have_text(LISTENING)
    await context.close()


async def test_on_a_server_without_voice_the_observer_page_says_voice_is_off(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    wire = StreamWire()
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, page = await observer_page(
            browser, server, tokens["obs-joanna"], wire, viewport=viewport
        )
        bar = page.get_by_role("region", name="The room's sound")
        await expect(bar.locator(".voice-state")).to_have_text("Voice is off on this server")
        await expect(bar.get_by_role("button")).to_have_count(0)
        await screenshot(page, f"listen-voice-off-{size}")
        await assert_fits_and_is_clean(page, f"voice off, {size}", size == "phone")
        await context.close()
