"""A whole room run in real browsers: a facilitator, three jurors and an observer."""

from playwright.async_api import Browser, Page, expect

from facilitation.commands import SetRoomRules
from tests.browser.conftest import fail_on_page_errors, person, watch
from tests.server.harness import LiveServer, demo_people

# The shortest turn the rules allow, so the test sees a real deadline pass.
TURN_MS = 10_000
DEADLINE_WAIT_MS = TURN_MS + 10_000


async def post(page: Page, opener: str, text: str) -> None:
    await page.get_by_role("button", name=opener).first.click()
    await page.get_by_label(opener).last.fill(text)
    await page.get_by_role("button", name="Post", exact=True).click()


async def test_a_facilitator_and_three_jurors_run_a_whole_room_and_an_observer_follows(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "room", jurors=3, pseudonymous=True)
    runtime = await server.palabre.hub.get("room")
    assert runtime is not None
    rules = SetRoomRules(room="plenary", turn_limit_ms=TURN_MS, warning_ms=5_000)
    assert (await runtime.submit(rules, "f1")).ok
    errors: list[str] = []
    _, facilitator = await person(browser, server, tokens["f1"])
    jurors = [(await person(browser, server, tokens[f"j{n}"]))[1] for n in (1, 2, 3)]
    _, observer = await watch(browser, server, "room")
    everyone = [facilitator, *jurors, observer]
    for page in everyone:
        fail_on_page_errors(page, errors)
    first, second, third = jurors

    # Hands up, and each juror sees their place in line.
    await first.get_by_role("button", name="Raise my hand").click()
    await expect(first.get_by_text("You are next")).to_be_visible()
    await second.get_by_role("button", name="Raise my hand").click()
    await expect(second.get_by_text("You are number 2 in line")).to_be_visible()
    await expect(observer.locator(".queue-list li")).to_have_count(2)
    await expect(observer.locator(".queue-list")).to_contain_text("Juror 1")

    # The floor, the live transcript, and the deadline ending the turn by itself.
    await facilitator.get_by_role("button", name="Give the floor to the next").click()
    await expect(first.locator(".floor-speaker")).to_have_text("You have the floor.")
    for page in (facilitator, second, third):
        await expect(page.locator(".floor-speaker")).to_have_text("Juror Number1 has the floor.")
    await expect(observer.locator(".floor-speaker")).to_have_text("Juror 1 has the floor.")
    await first.get_by_label("What you say").fill("Rents rose by a third in five years.")
    await first.get_by_role("button", name="Send").click()
    for page in everyone:
        await expect(page.locator(".statements")).to_contain_text("Rents rose by a third")
    for page in everyone:
        await expect(page.locator(".floor-speaker")).to_have_text(
            "The floor is free.", timeout=DEADLINE_WAIT_MS
        )

    # The argument map: a question, a position, arguments for and against, an endorsement.
    await post(facilitator, "Pose a question", "Should the city cap rents?")
    await post(first, "Add a position", "Cap rents at inflation")
    await post(second, "Add an argument for", "Families can plan ahead")
    await post(third, "Add an argument against", "Landlords stop maintaining flats")
    for page in everyone:
        await expect(page.locator(".side-against")).to_contain_text("Landlords stop")
    # Nobody is offered to endorse their own post (the core refuses it: `own_post`).
    await expect(
        second.locator(".side-for .argument").first.get_by_role("button", name="Endorse")
    ).to_have_count(0)
    argument_for = first.locator(".side-for .argument").first
    await argument_for.get_by_role("button", name="Endorse").click()
    await expect(second.locator(".side-for .endorsements").first).to_have_text("Endorsements: 1")

    # A poll: open, two votes, closed, results for all.
    await facilitator.get_by_role("button", name="Open a poll").click()
    await facilitator.get_by_label("Question").fill("Cap rents?")
    await facilitator.get_by_label("Options, one per line").fill("Yes\nNo")
    await facilitator.get_by_role("button", name="Open the poll").click()
    for juror, choice in ((first, "Yes"), (second, "No")):
        await juror.get_by_label(choice, exact=True).check()
        await juror.get_by_role("button", name="Vote", exact=True).click()
    await expect(facilitator.locator(".poll").first).to_contain_text("Voters: 2")
    await facilitator.get_by_role("button", name="Close the poll").click()
    for page in everyone:
        await expect(page.locator(".poll .results").first).to_be_visible()

    # A hidden post keeps its reason on the record; the observer never sees its text.
    against = facilitator.locator(".side-against .argument").first
    # Moderation sits behind one menu per post.
    await expect(against.get_by_role("button", name="Hide")).to_be_hidden()
    await against.locator("summary").filter(has_text="Moderate").click()
    await against.get_by_role("button", name="Hide").click()
    await against.get_by_label("Reason (kept on the record)").fill("Off topic")
    await against.get_by_role("button", name="Hide").click()
    for page in (*jurors, observer):
        await expect(page.locator(".side-against")).to_contain_text(
            "Hidden by a facilitator: Off topic"
        )
        await expect(page.locator(".side-against")).not_to_contain_text("Landlords stop")
    await expect(observer.get_by_text("Juror Number")).to_have_count(0)
    assert errors == []


async def test_html_or_script_in_a_post_shows_as_plain_text_everywhere(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "xss", jurors=2)
    errors: list[str] = []
    _, facilitator = await person(browser, server, tokens["f1"])
    _, juror = await person(browser, server, tokens["j1"])
    _, observer = await watch(browser, server, "xss")
    for page in (facilitator, juror, observer):
        fail_on_page_errors(page, errors)
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold</b>'
    await post(facilitator, "Pose a question", hostile)
    await post(juror, "Add a position", hostile)
    for page in (facilitator, juror, observer):
        await expect(page.locator(".question h4").first).to_contain_text(hostile)
        await expect(page.locator(".position-text").first).to_contain_text(hostile)
        assert await page.locator(".map img, .map script, .map b").count() == 0
    assert errors == []


async def test_the_observer_page_is_read_only(browser: Browser, server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, "readonly", jurors=2)
    _, facilitator = await person(browser, server, tokens["f1"])
    await post(facilitator, "Pose a question", "Should the city cap rents?")
    _, observer = await watch(browser, server, "readonly")
    await expect(observer.locator(".question h4")).to_contain_text("Should the city cap rents?")
    assert (
        await observer.locator("main button, main input, main textarea, main select").count() == 0
    )
