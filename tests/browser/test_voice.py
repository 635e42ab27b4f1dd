"""The voice on the pages: the state line, the microphone check, the facilitator's open floor,
who speaks now; with voice off on the server (as today) and with the server's voice messages
played into the page's socket by a stand-in (`VoiceWire`), as docs/protocol.md describes them."""

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    WebSocketRoute,
    expect,
)

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    DESKTOP,
    PHONE,
    axe_violations,
    describe,
    person,
    screenshot,
)
from tests.browser.socketwire import SOCKET, rewrite_reply
from tests.browser.test_pages import ROOM, lively_demo
from tests.server.harness import LiveServer, serving, settings_for

VOICE_OFF = "Voice is off on this server"
CHECK = "Check my microphone and join the voice"
# The smallest thing a thumb should have to hit.
TOUCH_TARGET_PX = 44
OPEN_FLOOR_SWITCH = "Open floor: every juror may speak without raising a hand"
# A socket.io ack travelling as an engine.io message: "43", the ack id, the JSON arguments.
# A voice message from the page: "42", the ack id, then ["voice_...", {...}].
VOICE_EMIT = re.compile(r'^42(\d+)(\["voice_.*\])$', re.DOTALL)
# The media server's side of the offer/answer, in a blank page: no local description is set,
# so it gathers no candidates and no connectivity check is ever sent.
ANSWER_OFFER = """async (offer) => {
  const pc = new RTCPeerConnection({ iceServers: [] });
  await pc.setRemoteDescription(offer);
  const answer = await pc.createAnswer();
  pc.close();
  return { type: answer.type, sdp: answer.sdp };
}"""
# How long the level meter is watched, and how often it is read.
METER_READS = 20
METER_READ_EVERY_MS = 150


class VoiceWire:
    """Sits on a page's socket and speaks the server's half of the voice protocol that this
    server does not speak yet: it adds `voice: {available: true}` to the sync reply, and sends
    the page `voice` and `voice_activity` events. Everything else passes through untouched:
    `voice_join` reaches the real server, which answers `unknown_command`; unless `answerer`
    is given, a blank page whose RTCPeerConnection answers the offer as the media server
    would (it gathers no candidates and sends nothing, so no media leaves the browser)."""

    def __init__(self, answerer: Page | None = None) -> None:
        self.sockets: list[WebSocketRoute] = []
        self.sent_by_page: list[str] = []
        self.answerer = answerer
        self.replies: set[asyncio.Task[None]] = set()
        # Seconds a join waits for its answer, as a media server that is coming back would.
        self.join_delay_s = 0.0

    async def attach(self, context: BrowserContext) -> None:
        await context.route_web_socket(SOCKET, self.route)

    def route(self, page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()

        def upward(message: str | bytes) -> None:
            self.sent_by_page.append(str(message))
            voice = VOICE_EMIT.match(message) if isinstance(message, str) else None
            if voice is None or self.answerer is None:
                server_side.send(message)
                return
            reply = asyncio.create_task(self.answer(page_side, int(voice[1]), voice[2]))
            self.replies.add(reply)
            reply.add_done_callback(self.replies.discard)

        page_side.on_message(upward)
        server_side.on_message(lambda message: page_side.send(offer_voice(message)))
        self.sockets.append(page_side)

    async def answer(self, page_side: WebSocketRoute, ack_id: int, emitted: str) -> None:
        """The relay's acks: an SDP answer for a join, a yes for the rest."""
        event, data = json.loads(emitted)
        reply: dict[str, Any] = {"ok": True}
        if event == "voice_join":
            assert self.answerer is not None
            await asyncio.sleep(self.join_delay_s)
            answer = await self.answerer.evaluate(ANSWER_OFFER, data["offer"])
            reply = {"ok": True, "answer": answer, "room": ROOM, "muted": True}
        elif event == "voice_mute_self":
            reply = {"ok": True, "muted": data["muted"]}
        page_side.send(f"43{ack_id}{json.dumps([reply])}")
        if event == "voice_join":
            self.push("voice", voice_state("no_floor", muted=True))
        elif event == "voice_leave":
            self.push("voice", {**voice_state("no_floor", muted=True), "joined": False})

    def push(self, event: str, data: dict[str, Any]) -> None:
        for socket in self.sockets:
            socket.send("42" + json.dumps([event, data]))


def offer_voice(message: str | bytes) -> str | bytes:
    """The sync reply with `you.voice.available` true; any other message as it was."""

    def available(reply: dict[str, Any]) -> bool:
        if not isinstance(reply.get("you"), dict):
            return False
        reply["you"]["voice"] = {**reply["you"].get("voice", {}), "available": True}
        return True

    return rewrite_reply(message, available)


def voice_state(why: str, *, muted: bool, room: str = ROOM) -> dict[str, Any]:
    return {"available": True, "joined": True, "room": room, "muted": muted, "why": why}


async def assert_axe_clean(page: Page, name: str) -> None:
    violations = await axe_violations(page)
    assert not violations, f"{name}: {describe(violations)}"


async def assert_no_sideways_scroll(page: Page, viewport: ViewportSize = PHONE) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


async def test_with_voice_off_every_page_says_so_and_offers_no_microphone(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        for name, participant in (("juror", "j-aisha"), ("facilitator", "fac-tomas")):
            context, page = await person(browser, server, tokens[participant], viewport=viewport)
            bar = page.get_by_role("region", name="Your voice")
            await expect(bar).to_contain_text(VOICE_OFF)
            await expect(bar).to_contain_text("Typing works as usual.")
            await expect(page.get_by_role("button", name=CHECK)).to_have_count(0)
            await expect(bar).to_be_in_viewport()
            await screenshot(page, f"voice-off-{name}-{size}")
            await assert_axe_clean(page, f"voice-off-{name}-{size}")
            await assert_no_sideways_scroll(page, viewport)
            await context.close()
        context, lead = await person(browser, server, tokens["lead"], viewport=viewport)
        await expect(lead.get_by_text(VOICE_OFF)).to_be_visible()
        await context.close()


async def test_the_juror_state_line_follows_the_floor_and_the_facilitators_open_floor_switch(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    _, facilitator = await person(browser, server, tokens["fac-tomas"])
    _, juror = await person(browser, server, tokens["j-aisha"], viewport=PHONE)
    state = juror.locator(".voice-state")
    await expect(state).to_have_text("Raise your hand to speak")

    open_floor = facilitator.get_by_label(OPEN_FLOOR_SWITCH)
    # The box shows the room's rule: it ticks when the change is committed, not on the click.
    await open_floor.click()
    await expect(open_floor).to_be_checked()
    await expect(state).to_have_text("Open floor: speak freely")
    # With the floor open, a juror types without waiting for a turn.
    await juror.get_by_label("What you say").fill("Small flats are the ones missing.")
    await juror.get_by_role("button", name="Send").click()
    await expect(facilitator.locator(".statements")).to_contain_text("Small flats are the ones")
    await screenshot(juror, "voice-open-floor-juror-phone")
    await assert_axe_clean(juror, "open floor, juror")
    await assert_no_sideways_scroll(juror)

    await open_floor.click()
    await expect(open_floor).not_to_be_checked()
    await expect(state).to_have_text("Raise your hand to speak")
    await juror.get_by_role("button", name="Raise my hand").click()
    # Kwame speaks and Sophie waits before Aisha: two turns on, the floor is hers.
    await facilitator.get_by_role("button", name="Next speaker").click()
    await expect(juror.locator(".floor-speaker")).to_have_text("Sophie Laurent has the floor.")
    await expect(state).to_have_text("Your hand is up: wait for your turn")
    await facilitator.get_by_role("button", name="Next speaker").click()
    await expect(state).to_have_text("You have the floor: type what you say below")
    await screenshot(juror, "voice-off-floor-juror-phone")
    await assert_axe_clean(juror, "floor, juror")


async def test_the_microphone_check_shows_a_moving_level_and_a_voiceless_server_turns_voice_off(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    wire = VoiceWire()
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context, juror = await person(
            browser, server, tokens["j-aisha"], viewport=viewport, prepare=wire.attach
        )
        await expect(juror.get_by_role("button", name=CHECK)).to_be_visible()
        await expect(juror.get_by_text(VOICE_OFF)).to_have_count(0)
        await juror.get_by_role("button", name=CHECK).click()
        dialog = juror.get_by_role("dialog", name="Check your microphone")
        await expect(dialog).to_be_visible()
        if size == "desktop":
            # Keyboard: Escape closes the check and gives the focus back; Enter opens it again.
            await juror.keyboard.press("Escape")
            await expect(dialog).to_have_count(0)
            await expect(juror.get_by_role("button", name=CHECK)).to_be_focused()
            await juror.keyboard.press("Enter")
            await expect(dialog).to_be_visible()
        meter = dialog.get_by_label("Microphone level")
        await expect(meter).to_be_visible()
        # Chromium's fake microphone beeps: the level moves between silence and sound.
        levels = set()
        for _ in range(METER_READS):
            levels.add(round(float(await meter.evaluate("m => m.value")), 3))
            await juror.wait_for_timeout(METER_READ_EVERY_MS)
        assert len(levels) >= 3 and max(levels) > 0.01, levels
        assert await dialog.get_by_label("Microphone", exact=True).locator("option").count() >= 1
        await screenshot(juror, f"voice-mic-check-{size}")
        await assert_axe_clean(juror, f"microphone check, {size}")
        if size == "phone":
            await assert_no_sideways_scroll(juror)
        # This server has no voice yet: it answers the join `unknown_command`, and the page
        # says voice is off rather than an error.
        await dialog.get_by_role("button", name="Join the voice").click()
        await expect(dialog).to_have_count(0)
        await expect(juror.locator(".voice-bar")).to_contain_text(VOICE_OFF)
        assert any('"voice_join"' in message for message in wire.sent_by_page)
        offer = next(m for m in wire.sent_by_page if '"voice_join"' in m)
        assert "m=audio" in offer, "the join carries an SDP offer with the microphone"
        await context.close()


async def test_a_refused_microphone_is_explained_and_typing_still_works(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    wire = VoiceWire()
    # A browser that asks the person instead of saying yes by itself: headless, nobody answers,
    # and the request is refused as a person's "Block" would refuse it.
    asking = [flag for flag in CHROMIUM_FLAGS if flag != "--use-fake-ui-for-media-stream"]
    refusing = await browser.browser_type.launch(
        executable_path=CHROMIUM, args=asking, headless=True
    )
    try:
        await see_the_refusal_explained(refusing, server, tokens["j-aisha"], wire)
    finally:
        await refusing.close()


async def see_the_refusal_explained(
    browser: Browser, server: LiveServer, token: str, wire: VoiceWire
) -> None:
    _, juror = await person(browser, server, token, viewport=PHONE, prepare=wire.attach)
    await juror.get_by_role("button", name=CHECK).click()
    dialog = juror.get_by_role("dialog", name="Check your microphone")
    await expect(dialog).to_contain_text("Your browser did not let palabre use your microphone.")
    await expect(dialog).to_contain_text("choose Allow for the microphone")
    await expect(dialog).to_contain_text("You can still take part by typing")
    await screenshot(juror, "voice-mic-refused-phone")
    await assert_axe_clean(juror, "microphone refused")
    await dialog.get_by_role("button", name="Close").click()
    await expect(juror.get_by_role("button", name=CHECK)).to_be_focused()
    await juror.get_by_role("button", name="Raise my hand").click()
    await expect(juror.get_by_role("button", name="Lower my hand")).to_be_visible()


async def test_the_server_voice_state_shows_as_plain_words_and_the_switch_only_silences(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    juror_wire, facilitator_wire, lead_wire = VoiceWire(), VoiceWire(), VoiceWire()
    _, juror = await person(
        browser, server, tokens["j-aisha"], viewport=PHONE, prepare=juror_wire.attach
    )
    _, facilitator = await person(
        browser, server, tokens["fac-tomas"], prepare=facilitator_wire.attach
    )
    _, lead = await person(browser, server, tokens["lead"], prepare=lead_wire.attach)
    state = juror.locator(".voice-state")

    juror_wire.push("voice", voice_state("no_floor", muted=True))
    await expect(state).to_have_text("Muted: raise your hand to speak")
    switch = juror.get_by_role("button", name="Turn my microphone off")
    await expect(switch).to_be_enabled()
    for target in (switch, juror.get_by_role("button", name="Leave the voice")):
        box = await target.bounding_box()
        assert box is not None and box["height"] >= TOUCH_TARGET_PX, box

    juror_wire.push("voice", voice_state("floor", muted=False))
    await expect(state).to_have_text("You have the floor: your microphone is live")
    await expect(juror.locator(".voice-bar.live")).to_be_visible()
    talking = {"room": ROOM, "talking": ["j-kwame"]}
    for wire in (juror_wire, facilitator_wire, lead_wire):
        wire.push("voice_activity", talking)
    await expect(juror.locator(".speaking-now")).to_have_text("Speaking now: Kwame Mensah")
    await screenshot(juror, "voice-floor-live-phone")
    await assert_axe_clean(juror, "floor, live")

    # Silencing oneself always works (here the page's track goes off; the server has no voice
    # to tell), and without the floor the switch cannot turn the microphone back on.
    juror_wire.push("voice", voice_state("no_floor", muted=True))
    await juror.get_by_role("button", name="Turn my microphone off").click()
    off = juror.get_by_role("button", name="My microphone is off")
    await expect(off).to_have_attribute("aria-pressed", "true")
    await expect(off).to_be_disabled()
    assert any('"voice_mute_self"' in message for message in juror_wire.sent_by_page)

    juror_wire.push("voice", voice_state("muted", muted=True))
    await expect(state).to_have_text("A facilitator muted you")

    kwame = facilitator.locator(".people li").filter(has_text="Kwame Mensah")
    await expect(kwame.locator(".speaking-mark")).to_have_text("speaking")
    await expect(facilitator.locator(".speaking-now")).to_contain_text("Kwame Mensah")
    await screenshot(facilitator, "voice-facilitator-desktop")
    await assert_axe_clean(facilitator, "facilitator with voice activity")
    plenary = lead.locator(".room-card").filter(has_text="Plenary")
    await expect(plenary).to_contain_text("Voice on · speaking now: Kwame Mensah")
    await screenshot(lead, "voice-lead-desktop")
    await assert_axe_clean(lead, "lead with voice activity")


async def test_a_media_server_restart_makes_the_page_rejoin_by_itself_and_say_so(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    answerer = await browser.new_page()
    wire = VoiceWire(answerer)
    _, juror = await person(browser, server, tokens["j-aisha"], prepare=wire.attach)
    await juror.get_by_role("button", name=CHECK).click()
    await juror.get_by_role("button", name="Join the voice", exact=True).click()
    state = juror.locator(".voice-state")
    await expect(state).to_have_text("Muted: raise your hand to speak")
    await expect(juror.get_by_role("button", name="Turn my microphone off")).to_be_enabled()
    # The candidates found before the answer follow it, and the last says there are no more.
    await until(juror, lambda: any('"candidate":null' in m for m in wire.sent_by_page))
    joins = [m for m in wire.sent_by_page if '"voice_join"' in m]
    assert len(joins) == 1 and "m=audio" in joins[0]

    wire.join_delay_s = 1.5
    wire.push("voice_rejoin", {"reason": "media_server_restarted"})
    await expect(juror.locator(".voice-note")).to_have_text(
        "The voice server restarted: reconnecting your microphone…"
    )
    await expect(juror.locator(".voice-note")).to_have_text("Your microphone is reconnected.")
    assert sum('"voice_join"' in m for m in wire.sent_by_page) == 2
    await expect(state).to_have_text("Muted: raise your hand to speak")

    await juror.get_by_role("button", name="Leave the voice").click()
    await expect(juror.get_by_role("button", name=CHECK)).to_be_visible()
    assert any('"voice_leave"' in m for m in wire.sent_by_page)


# Keeps the configuration of every RTCPeerConnection the page makes.
RECORD_PEER_CONFIGS = """(() => {
  const Original = window.RTCPeerConnection;
  window.peerConfigs = [];
  window.RTCPeerConnection = function (config) {
    window.peerConfigs.push(JSON.parse(JSON.stringify(config ?? {})));
    return new Original(config);
  };
  window.RTCPeerConnection.prototype = Original.prototype;
})()"""
# A STUN server on this machine's loopback, where nothing answers: the page may send it a
# binding request, which goes nowhere else.
LOOPBACK_STUN = {"urls": "stun:127.0.0.1:9"}


async def test_a_page_whose_connection_came_back_joins_the_voice_again_with_the_ice_servers(
    browser: Browser, sqlite_url: str, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, tmp_path, ice_servers=[LOOPBACK_STUN])
    async with serving(settings) as server:
        tokens = await lively_demo(server)
        answerer = await browser.new_page()
        wire = VoiceWire(answerer)

        async def prepare(context: BrowserContext) -> None:
            await wire.attach(context)
            await context.add_init_script(RECORD_PEER_CONFIGS)

        _, juror = await person(browser, server, tokens["j-aisha"], prepare=prepare)
        await juror.get_by_role("button", name=CHECK).click()
        await juror.get_by_role("button", name="Join the voice", exact=True).click()
        state = juror.locator(".voice-state")
        await expect(state).to_have_text("Muted: raise your hand to speak")
        configs = await juror.evaluate("window.peerConfigs")
        assert [c["iceServers"] for c in configs] == [[{"urls": [LOOPBACK_STUN["urls"]]}]]

        # The socket drops (a phone between networks); the server lets its audio go. Once the
        # page is back and synced, it joins the voice again by itself and says so.
        wire.join_delay_s = 1.5
        await wire.sockets[0].close()
        await expect(juror.locator(".voice-note")).to_have_text(
            "Your connection came back: reconnecting your microphone…"
        )
        await expect(juror.locator(".voice-note")).to_have_text("Your microphone is reconnected.")
        await expect(state).to_have_text("Muted: raise your hand to speak")
        assert sum('"voice_join"' in m for m in wire.sent_by_page) == 2
        configs = await juror.evaluate("window.peerConfigs")
        assert len(configs) == 2 and configs[1]["iceServers"] == configs[0]["iceServers"]


async def until(page: Page, condition: Callable[[], bool], tries: int = 50) -> None:
    """Wait, at most `tries` tenths of a second, for a condition the page's traffic meets."""
    for _ in range(tries):
        if condition():
            return
        await page.wait_for_timeout(100)
    raise AssertionError("the page never sent what was expected")
