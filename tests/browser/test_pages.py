"""Every page usable by keyboard and on a phone, in French and English, for every role (axe-core,
targets, focus and the screenshots in var/screenshots: test_design.py)."""

from playwright.async_api import Browser, Page, ViewportSize, expect

from facilitation.commands import GrantFloor, NextSpeaker, RaiseHand, SetRoomRules, Speak
from server.demo import ensure_demo
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    person,
)
from tests.server.harness import LiveServer, token_of

ROOM = "plenary"


async def lively_demo(server: LiveServer) -> dict[str, str]:
    """The demo assembly with someone speaking and someone waiting: token by participant."""
    await ensure_demo(server.organiser)
    runtime = await server.palabre.hub.get("demo")
    assert runtime is not None
    for actor, command in (
        ("j-kwame", RaiseHand(room=ROOM)),
        ("j-sophie", RaiseHand(room=ROOM)),
        ("fac-tomas", GrantFloor(room=ROOM)),
        ("j-kwame", Speak(room=ROOM, text="Our rents rose by a third in five years.")),
    ):
        assert (await runtime.submit(command, actor)).ok
    links = await server.organiser.links("demo")
    return {link.participant or "observer-link": token_of(link) for link in links}


async def test_on_a_phone_the_hand_the_floor_and_the_time_left_show_without_sideways_scroll(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    _, page = await person(browser, server, tokens["j-aisha"], viewport=PHONE)
    for element in (
        page.get_by_role("button", name="Raise my hand"),
        page.locator(".floor-speaker"),
        page.locator(".time-left"),
    ):
        await expect(element).to_be_in_viewport()
        box = await element.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    widest = await page.evaluate("document.documentElement.scrollWidth")
    assert widest <= PHONE["width"]


async def tab_to(page: Page, label: str) -> None:
    """Move the focus with Tab alone until it reaches the button named `label`."""
    for _ in range(60):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement?.textContent?.trim() ?? ''")
        if focused == label:
            return
    raise AssertionError(f"Tab never reached {label!r}")


async def test_a_juror_and_a_facilitator_run_a_turn_with_the_keyboard_alone(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    _, juror = await person(browser, server, tokens["j-aisha"])
    _, facilitator = await person(browser, server, tokens["fac-priya"])
    await tab_to(juror, "Raise my hand")
    await juror.keyboard.press("Enter")
    await expect(juror.get_by_role("button", name="Lower my hand")).to_be_visible()
    await tab_to(facilitator, "Next speaker")
    await facilitator.keyboard.press("Enter")
    await expect(facilitator.locator(".floor-speaker")).to_have_text(
        "Sophie Laurent has the floor."
    )


async def test_live_regions_announce_the_floor_and_the_time_running_out(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    runtime = await server.palabre.hub.get("demo")
    assert runtime is not None
    rules = SetRoomRules(room=ROOM, turn_limit_ms=10_000, warning_ms=6_000)
    assert (await runtime.submit(rules, "fac-tomas")).ok
    _, juror = await person(browser, server, tokens["j-aisha"])
    await expect(juror.locator("#announcer")).to_have_attribute("aria-live", "polite")
    await expect(juror.locator("#alerter")).to_have_attribute("aria-live", "assertive")
    # Kwame speaks; the next turn goes to Sophie, who waits in line.
    assert (await runtime.submit(NextSpeaker(room=ROOM), "fac-tomas")).ok
    await expect(juror.locator("#announcer")).to_have_text("Sophie Laurent has the floor.")
    await expect(juror.locator("#alerter")).to_contain_text("Time is running out", timeout=10_000)


async def test_french_is_one_click_away_and_remembered(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = await context.new_page()
    await page.goto(f"{server.url}/join/{tokens['j-aisha']}")
    await page.get_by_role("link", name="Français").click()
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue, Aisha Rahman")
    await page.get_by_role("button", name="Entrer dans la salle").click()
    await expect(page.get_by_role("button", name="Lever la main")).to_be_visible()
    await expect(page.locator(".floor-speaker")).to_have_text("Kwame Mensah a la parole.")
    said_at = await page.locator(".statements time").first.inner_text()
    assert "AM" not in said_at and "PM" not in said_at, "French shows times on a 24-hour clock"


async def test_each_role_is_welcomed_by_a_join_page_that_speaks_to_it(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    context = await browser.new_context(viewport=DESKTOP, locale="en-GB")
    page = await context.new_page()
    for participant, says, never in (
        ("j-aisha", "Raise your hand to speak", "You facilitate"),
        ("fac-tomas", "You facilitate", "Raise your hand to speak"),
        ("lead", "You lead the assembly", "Raise your hand to speak"),
        ("obs-joanna", "as an observer", "Raise your hand to speak"),
    ):
        await page.goto(f"{server.url}/join/{tokens[participant]}")
        await expect(page.locator(".join")).to_contain_text(says)
        await expect(page.locator(".join")).not_to_contain_text(never)
    await context.close()


async def test_no_page_scrolls_sideways_at_1280_1024_or_390_px_for_any_role(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await lively_demo(server)
    wide: list[str] = []
    for width in (1280, 1024, 390):
        viewport: ViewportSize = {"width": width, "height": 900 if width > 390 else 844}
        for name, participant in (
            ("juror", "j-sophie"),
            ("facilitator", "fac-tomas"),
            ("lead", "lead"),
            ("observer", "obs-joanna"),
        ):
            context, page = await person(browser, server, tokens[participant], viewport=viewport)
            scroll = await page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                wide.append(f"{name} at {width} px: {scroll} px wide")
            await context.close()
    assert wide == []
