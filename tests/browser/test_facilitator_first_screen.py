"""A facilitator's first screen answers at a glance, above every control, on a desktop and a
phone, in English and French: who speaks and for how long, who waits (in order, for how long),
who has not spoken yet, what is on the agenda, and how long is left (issue 10)."""

import re

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from facilitation import PLENARY_ROOM
from facilitation.commands import (
    AddAgendaItem,
    AdvanceAgenda,
    GrantFloor,
    RaiseHand,
    Speak,
    YieldFloor,
)
from tests.browser.conftest import DESKTOP, PHONE, person, screenshot
from tests.browser.test_juror_states import decide
from tests.server.harness import LiveServer, demo_people

ROOM = PLENARY_ROOM


async def a_busy_plenary(server: LiveServer) -> dict[str, str]:
    """An agenda item running, j1 has spoken, j2 speaks now, j3 then j4 wait: the tokens."""
    tokens = await demo_people(server.organiser, jurors=4)
    for actor, command in (
        ("f1", AddAgendaItem(room=ROOM, title="Rent caps", duration_ms=15 * 60_000)),
        ("f1", AdvanceAgenda(room=ROOM)),
        ("j1", RaiseHand(room=ROOM)),
        ("f1", GrantFloor(room=ROOM)),
        ("j1", Speak(room=ROOM, text="Rents doubled.")),
        ("j1", YieldFloor(room=ROOM)),
        ("j2", RaiseHand(room=ROOM)),
        ("f1", GrantFloor(room=ROOM)),
        ("j3", RaiseHand(room=ROOM)),
        ("j4", RaiseHand(room=ROOM)),
    ):
        await decide(server, actor, command)
    return tokens


async def french_person(
    browser: Browser, server: LiveServer, token: str, viewport: ViewportSize
) -> tuple[BrowserContext, Page]:
    """A person whose browser asks for French, through their invite link into the room."""
    context = await browser.new_context(viewport=viewport, locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{server.url}/join/{token}")
    await page.get_by_role("button", name="Entrer dans la salle").click()
    await page.wait_for_url(f"{server.url}/live")
    await page.get_by_role("status").filter(has_text="En direct").wait_for()
    return context, page


async def above(page: Page, first: str, then: str) -> bool:
    top = await page.locator(first).first.bounding_box()
    below = await page.locator(then).first.bounding_box()
    assert top is not None and below is not None
    return top["y"] + top["height"] <= below["y"]


async def test_the_facilitators_first_screen_says_who_speaks_who_waits_who_has_not_spoken_the_agenda_and_the_time_left(  # noqa: E501
    browser: Browser, server: LiveServer
) -> None:
    tokens = await a_busy_plenary(server)
    for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context, page = await person(browser, server, tokens["f1"], viewport=viewport)
        glance = page.locator(".glance")
        await expect(glance.locator(".glance-floor")).to_have_text(
            re.compile(r"Juror Number2 · 0:[0-5]\d spoken · 1:[0-5]\d left")
        )
        await expect(glance.locator(".glance-waiting li")).to_have_text(
            [
                re.compile(r"Juror Number3\s*\(waiting less than a minute\)"),
                re.compile(r"Juror Number4\s*\(waiting less than a minute\)"),
            ]
        )
        await expect(glance.locator(".glance-not-spoken")).to_have_text(
            "Juror Number3, Juror Number4"
        )
        await expect(glance.locator(".glance-agenda")).to_have_text(
            re.compile(r"Rent caps · 1[45]:\d\d left")
        )
        # The plenary has no round: no round line to read.
        await expect(glance.locator(".glance-round")).to_have_count(0)
        # Above the controls, and within the first screen even on a phone.
        assert await above(page, ".glance", ".controls")
        assert await above(page, ".glance", ".people")
        box = await glance.bounding_box()
        assert box is not None and box["y"] + box["height"] <= viewport["height"], box
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{size}: {width} px wide"
        await screenshot(page, f"facilitator-first-screen-{size}")
        await context.close()

    # In French, the same lines in French.
    context, page = await french_person(browser, server, tokens["f1"], PHONE)
    glance = page.locator(".glance")
    labels = ["Parole", "En attente", "Pas encore de prise de parole", "À l\u2019ordre du jour"]
    await expect(glance.locator("dt")).to_have_text(labels)
    await expect(glance.locator(".glance-agenda")).to_have_text(
        re.compile(r"Rent caps · reste 1[45]:\d\d")
    )
    await context.close()
