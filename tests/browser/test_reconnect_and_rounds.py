"""A juror's connection drops and comes back; the lead sends everyone to breakout rooms and back."""

import re

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import person, screenshot, watch
from tests.server.harness import LiveServer, demo_people


async def view_of(page: Page) -> tuple[list[str], list[str], str]:
    """What a juror sees of the room: the queue, the transcript, the floor."""
    queue = await page.locator(".queue-list .who").all_inner_texts()
    transcript = await page.locator(".statements .said").all_inner_texts()
    floor = await page.locator(".floor-speaker").inner_text()
    return queue, transcript, floor


async def test_a_juror_offline_for_a_few_seconds_catches_up_with_nothing_lost_or_doubled(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "drop", jurors=3)
    _, facilitator = await person(browser, server, tokens["f1"])
    away_context, away = await person(browser, server, tokens["j2"])
    _, speaker = await person(browser, server, tokens["j1"])
    _, steady = await person(browser, server, tokens["j3"])

    await away_context.set_offline(True)
    await expect(away.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible()
    await speaker.get_by_role("button", name="Raise my hand").click()
    await steady.get_by_role("button", name="Raise my hand").click()
    await facilitator.get_by_role("button", name="Give the floor to the next").click()
    for line in ("First point.", "Second point."):
        await speaker.get_by_label("What you say").fill(line)
        await speaker.get_by_role("button", name="Send").click()
        await expect(steady.locator(".statements")).to_contain_text(line)
    await away.wait_for_timeout(2_000)
    await away_context.set_offline(False)

    await expect(away.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=15_000)
    await expect(away.locator(".statements .said")).to_have_count(2)
    # The facilitator never left: the juror who did now sees exactly what they see.
    assert await view_of(away) == await view_of(facilitator)
    assert await away.locator(".statements .said").all_inner_texts() == [
        "First point.",
        "Second point.",
    ]


async def test_the_lead_opens_a_breakout_round_jurors_move_and_the_lead_recalls_everyone(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "rounds", jurors=4)
    _, lead = await person(browser, server, tokens["lead"])
    jurors = [(await person(browser, server, tokens[f"j{n}"]))[1] for n in (1, 2, 3, 4)]
    for page in jurors:
        await expect(page.locator(".room-name")).to_have_text("Plenary")

    await lead.get_by_label("Number of rooms").fill("2")
    await lead.get_by_role("button", name="Propose a balanced allocation").click()
    await expect(lead.get_by_role("heading", name="Proposed breakout round")).to_be_visible()
    await expect(lead.locator(".round .room-card")).to_have_count(2)
    # Each juror of the allocation: the name, whether they are online, their attributes apart.
    first = lead.locator(".allocation li").first
    await expect(first.locator(".who")).to_have_text(re.compile(r"Juror Number\d"))
    await expect(first.locator(".presence")).to_have_text("online")
    await expect(first.locator(".attributes")).to_have_text("30-44")
    await lead.get_by_role("button", name="Start the round").click()
    await expect(lead.get_by_role("heading", name="Breakout round running")).to_be_visible()

    rooms = set()
    for page in jurors:
        await expect(page.locator(".room-name")).to_have_text(re.compile(r"Room \d"))
        rooms.add(await page.locator(".room-name").inner_text())
    assert rooms == {"Room 1", "Room 2"}
    await expect(lead.locator(".room-card h3")).to_have_count(3)

    # An observer chooses which room to watch once the round runs.
    _, observer = await watch(browser, server, "rounds")
    await observer.get_by_label("Watch").select_option(label="Room 2")
    await expect(observer.locator(".room-name")).to_have_text("Room 2")

    # Everyone in a breakout room sees the round's time left.
    for page in jurors:
        await expect(page.locator(".round-line")).to_have_text(
            re.compile(r"Breakout round: \d+:\d\d left\.")
        )

    # A broadcast reaches every room; a newer one replaces it; each person may dismiss it.
    for text in ("Ten minutes left.", "Five minutes left."):
        await lead.get_by_label("Message").fill(text)
        await lead.get_by_role("button", name="Broadcast", exact=True).click()
        for page in jurors:
            await expect(page.locator(".announcement")).to_contain_text(text)
    await expect(jurors[0].locator(".announcement")).not_to_contain_text("Ten minutes")
    await jurors[1].locator(".announcement").get_by_role("button", name="Dismiss").click()
    await expect(jurors[1].locator(".announcement")).to_have_count(0)
    await expect(jurors[0].locator(".announcement")).to_have_count(1)

    # The recall is announced a minute ahead: every room sees it count down.
    await lead.get_by_role("button", name="Recall everyone in one minute").click()
    for page in jurors:
        await expect(page.locator(".round-line.recall")).to_have_text(
            re.compile(r"Everyone goes back to the plenary in [01]:\d\d: finish your point\.")
        )
    await expect(lead.locator(".round .recall-time")).to_have_text(
        re.compile(r"Everyone comes back in [01]:\d\d\.")
    )
    await screenshot(jurors[0], "juror-recall-warning-desktop")
    # The lead brings it forward, and is asked first.
    await lead.get_by_role("button", name="Recall now").click()
    await expect(lead.get_by_role("group")).to_contain_text("Recall everyone now?")
    await lead.get_by_role("button", name="Yes, recall now").click()
    for page in jurors:
        await expect(page.locator(".room-name")).to_have_text("Plenary")
        await expect(page.locator(".notice.moved")).to_have_text(
            re.compile("You are back in the plenary.")
        )
    await expect(lead.get_by_role("heading", name="Breakout round")).to_be_visible()
    # The round's announcement ended with it.
    await expect(jurors[0].locator(".announcement")).to_have_count(0)
    await jurors[0].locator(".notice.moved").get_by_role("button", name="OK").click()
    await expect(jurors[0].locator(".notice.moved")).to_have_count(0)


async def test_a_juror_whose_invite_is_withdrawn_is_told_so_at_once(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "withdrawn", jurors=2)
    _, juror = await person(browser, server, tokens["j1"])
    links = {link.participant: link for link in await server.organiser.links("withdrawn")}

    assert await server.organiser.revoke(links["j1"].invite_id)

    await expect(
        juror.get_by_role("heading", name="This link does not open a room")
    ).to_be_visible()
    await expect(juror.locator(".card")).to_contain_text("withdrawn")
