"""The lead's fairness view, live in real browsers: a room's alarm fires when the room crosses
the threshold the lead set, and not before; the lead's private note reaches that room's
facilitator and no one else."""

import time

from playwright.async_api import Browser, BrowserContext, expect

from tests.browser.conftest import fail_on_page_errors, person, screenshot
from tests.server.harness import LiveServer, demo_people

MINUTE_MS = 60_000
NOTE = "Two jurors have waited long: please give them the floor."


async def test_the_alarm_fires_when_a_room_crosses_the_threshold_and_not_before(
    browser: Browser, server: LiveServer
) -> None:
    started_ms = int(time.time() * 1000)
    tokens = await demo_people(server.organiser, "alarms", jurors=3)

    async def own_clock(context: BrowserContext) -> None:
        # The page's clock is the test's: it jumps ahead without the room waiting 15 minutes.
        await context.clock.install(time=started_ms / 1000)

    errors: list[str] = []
    lead_context, lead = await person(browser, server, tokens["lead"], prepare=own_clock)
    fail_on_page_errors(lead, errors)
    card = lead.locator(".room-card[data-room='plenary']")
    await expect(card).to_contain_text("Have spoken: 0 of 3")
    await expect(card).not_to_contain_text("have not spoken after")

    # The lead sets the threshold: 15 minutes; the log records it.
    await lead.get_by_role("button", name="Alarm thresholds").click()
    await lead.get_by_label("Jurors who have not spoken after (minutes)").fill("15")
    await lead.get_by_role("button", name="Set the thresholds").click()
    runtime = await server.palabre.hub.get("alarms")
    assert runtime is not None
    limits = await runtime.read(lambda state: state.alarms.unspoken_after_ms)
    assert limits == 15 * MINUTE_MS

    opened_ms = await runtime.read(lambda state: state.rooms["plenary"].opened_at_ms)
    assert opened_ms is not None
    await lead_context.clock.set_system_time((opened_ms + 14 * MINUTE_MS) / 1000)
    await lead.wait_for_timeout(2_500)  # the card's clock ticks every second
    # Its other alarm (nobody facilitating it is online) shows; this one does not, yet.
    await expect(card.locator(".alarms")).to_contain_text("no facilitator online")
    await expect(card).not_to_contain_text("have not spoken after")

    await lead_context.clock.set_system_time((opened_ms + 16 * MINUTE_MS) / 1000)
    await expect(card.locator(".alarms")).to_contain_text("3 of 3 have not spoken after 16 min")
    await screenshot(lead, "lead-fairness-alarm")
    assert errors == []


async def test_the_leads_private_note_reaches_only_that_rooms_facilitator(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "notes", jurors=2)
    errors: list[str] = []
    _, lead = await person(browser, server, tokens["lead"])
    _, facilitator = await person(browser, server, tokens["f1"])
    _, juror = await person(browser, server, tokens["j1"])
    for page in (lead, facilitator, juror):
        fail_on_page_errors(page, errors)
    card = lead.locator(".room-card[data-room='plenary']")
    await card.get_by_role("button", name="Note to the facilitator").click()
    await card.get_by_label("Private note to the facilitator of").fill(NOTE)
    await card.get_by_role("button", name="Send the note").click()
    notes = facilitator.locator(".lead-notes")
    await expect(notes).to_contain_text(NOTE)
    await expect(notes).to_contain_text("Lea")
    # The juror's page got the event (the seq moves on) but never its words.
    await expect(juror.locator(".lead-notes")).to_have_count(0)
    assert NOTE not in await juror.content()
    runtime = await server.palabre.hub.get("notes")
    assert runtime is not None
    kept = await runtime.read(lambda state: [n.text for n in state.rooms["plenary"].notes])
    assert kept == [NOTE]
    await screenshot(facilitator, "facilitator-lead-note")
    assert errors == []
