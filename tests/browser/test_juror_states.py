"""What a juror must understand at a glance: the hand button readable in every state, time
waited in words, Enter to send, and a vote said to be recorded (issue 10)."""

import re

from playwright.async_api import Browser, Locator, Page, expect

from facilitation import PLENARY_ROOM, Command
from facilitation.commands import (
    CloseRound,
    GrantFloor,
    MuteParticipant,
    OpenPoll,
    OpenRound,
    PoseQuestion,
    StartRound,
    UnmuteParticipant,
    YieldFloor,
)
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, describe, person, screenshot
from tests.server.harness import LiveServer, demo_people

# WCAG 2 AA for text of normal size.
AA_CONTRAST = 4.5

CONTRAST = """(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = ([r, g, b]) => {
    const [lr, lg, lb] = [r, g, b].map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
  };
  const style = getComputedStyle(element);
  const [a, b] = [luminance(rgb(style.color)), luminance(rgb(style.backgroundColor))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


async def decide(server: LiveServer, actor: str, command: Command) -> None:
    """A command of the jury's, decided as `actor` would send it from their page."""
    runtime = await server.palabre.hub.get("jury")
    assert runtime is not None
    outcome = await runtime.submit(command, actor)
    assert outcome.ok, outcome


async def contrast(button: Locator) -> float:
    ratio: float = await button.evaluate(CONTRAST)
    return ratio


async def assert_readable(page: Page, button: Locator, state: str) -> None:
    # Transitions, if any, are over before the colours are read.
    await page.wait_for_timeout(300)
    ratio = await contrast(button)
    assert ratio >= AA_CONTRAST, f"{state}: contrast {ratio:.2f}"
    violations = await axe_violations(page)
    assert not violations, f"{state}: {describe(violations)}"


async def test_the_hand_button_is_readable_at_rest_on_hover_on_focus_and_pressed(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    _, juror = await person(browser, server, tokens["j1"])
    for name in ("Raise my hand", "Lower my hand"):
        button = juror.get_by_role("button", name=name)
        await assert_readable(juror, button, f"{name} at rest")
        await button.hover()
        await assert_readable(juror, button, f"{name} hovered")
        await button.focus()
        await assert_readable(juror, button, f"{name} focused")
        box = await button.bounding_box()
        assert box is not None
        await juror.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await juror.mouse.down()
        await assert_readable(juror, button, f"{name} pressed")
        await juror.mouse.up()


async def test_the_queue_says_time_waited_and_enter_sends_a_statement(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    _, waiting = await person(browser, server, tokens["j2"])
    await waiting.get_by_role("button", name="Raise my hand").click()
    await expect(waiting.locator(".queue-list .waited")).to_have_text("waiting less than a minute")
    await decide(server, "f1", GrantFloor(room=PLENARY_ROOM, participant="j2"))
    box = waiting.get_by_label(re.compile("What you say"))
    await expect(waiting.locator("#speak-keys")).to_have_text(
        "Enter sends; Shift+Enter starts a new line."
    )
    await box.fill("First line")
    await box.press("Shift+Enter")
    await box.type("second line")
    await box.press("Enter")
    await expect(waiting.locator(".statements")).to_contain_text("First line\nsecond line")
    await expect(box).to_have_value("")


async def test_a_juror_is_told_their_vote_is_recorded_and_a_secret_ballot_is_secret(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    for question, secret in (("Open question?", False), ("Secret question?", True)):
        ballot = OpenPoll(
            room=PLENARY_ROOM,
            question=question,
            kind="single",
            options=("Yes", "No"),
            secret=secret,
        )
        await decide(server, "f1", ballot)
    _, juror = await person(browser, server, tokens["j1"])
    for question, secret in (("Open question?", False), ("Secret question?", True)):
        poll = juror.locator("fieldset.poll").filter(has_text=question)
        await poll.get_by_label("Yes").check()
        await poll.get_by_role("button", name="Vote").click()
        said = poll.locator(".vote-recorded")
        await expect(said).to_contain_text("Your vote is recorded.")
        if secret:
            await expect(said).to_contain_text("nobody, facilitators included, can see")
        else:
            await expect(said).not_to_contain_text("secret")
        await expect(poll.get_by_role("button", name="Change my vote")).to_be_visible()


async def test_fairness_says_who_has_not_spoken_before_any_figure(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=4)
    _, facilitator = await person(browser, server, tokens["f1"])
    panel = facilitator.locator(".fairness")
    await expect(panel.locator(".fairness-summary")).to_have_text("4 of 4 have not spoken yet.")
    await expect(panel).not_to_contain_text("Gini")
    for juror in ("j1", "j2"):
        await decide(server, "f1", GrantFloor(room=PLENARY_ROOM, participant=juror))
        await decide(server, juror, YieldFloor(room=PLENARY_ROOM))
    await expect(panel.locator(".fairness-summary")).to_have_text("2 of 4 have not spoken yet.")
    await expect(panel).not_to_contain_text("Gini")
    await decide(server, "f1", GrantFloor(room=PLENARY_ROOM, participant="j3"))
    await decide(server, "j3", YieldFloor(room=PLENARY_ROOM))
    await expect(panel.locator(".fairness-summary")).to_have_text("1 of 4 have not spoken yet.")
    await expect(panel).to_contain_text("Inequality of speaking time (Gini)")


async def test_a_muted_juror_sees_it_at_once_and_it_clears_when_unmuted(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    _, juror = await person(browser, server, tokens["j1"])
    mute = MuteParticipant(room=PLENARY_ROOM, participant="j1", reason="Let others speak.")
    await decide(server, "f1", mute)
    state = juror.locator(".muted-state")
    await expect(state).to_contain_text("A facilitator muted you in this room.")
    await expect(juror.get_by_role("button", name="Raise my hand")).to_be_disabled()
    await assert_readable(juror, state, "muted")
    unmute = UnmuteParticipant(room=PLENARY_ROOM, participant="j1")
    await decide(server, "f1", unmute)
    await expect(state).to_have_count(0)
    await expect(juror.get_by_role("button", name="Raise my hand")).to_be_enabled()


async def test_on_a_phone_one_compact_line_stays_pinned_while_the_juror_holds_the_floor(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    await decide(server, "f1", GrantFloor(room=PLENARY_ROOM, participant="j1"))
    _, juror = await person(browser, server, tokens["j1"], viewport=PHONE)
    pinned = juror.locator(".pinned")
    await expect(pinned).to_contain_text("Floor: you")
    await juror.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    await juror.wait_for_timeout(300)
    box = await pinned.bounding_box()
    assert box is not None
    # In view at the top, and no more than a fifth of the screen.
    assert abs(box["y"]) < 1, box
    assert box["height"] <= 0.2 * PHONE["height"], box
    stuck = await juror.evaluate(
        "[...document.querySelectorAll('body *')].filter((e) => "
        "getComputedStyle(e).position === 'sticky' && e.getBoundingClientRect().height > 0)"
        ".map((e) => e.className)"
    )
    assert stuck == ["pinned"], stuck
    await screenshot(juror, "juror-floor-scrolled-phone")

    # On a desktop nothing is pinned: the floor card is in view anyway.
    await juror.set_viewport_size(DESKTOP)
    await expect(pinned).to_have_count(0)


async def test_on_a_desktop_the_argument_map_gets_most_of_the_width(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    for who in ("j1", "f1"):
        _, page = await person(browser, server, tokens[who])
        room = await page.locator(".room-grid").bounding_box()
        map_column = await page.locator(".map-column").bounding_box()
        assert room is not None and map_column is not None
        assert map_column["width"] >= 0.55 * room["width"], (who, map_column, room)
        assert await page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        await screenshot(page, f"{who}-map-width-desktop")


async def test_a_muted_juror_sees_the_reason_cannot_post_and_it_clears_when_the_lead_unmutes_or_the_round_ends(  # noqa: E501
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    await decide(server, "lead", PoseQuestion(room=PLENARY_ROOM, text="Should rents be capped?"))
    await decide(server, "lead", OpenRound(room_count=1))
    await decide(server, "lead", StartRound())
    runtime = await server.palabre.hub.get("jury")
    assert runtime is not None
    room = await runtime.read(lambda state: state.participants["j1"].room)
    assert room is not None
    facilitator = await runtime.read(lambda state: min(state.rooms[room].facilitators))
    _, juror = await person(browser, server, tokens["j1"])
    await expect(juror.locator(".room-name")).to_have_text("Room 1")
    hand = juror.get_by_role("button", name="Raise my hand")
    add_position = juror.get_by_role("button", name="Add a position")
    await expect(add_position).to_be_enabled()

    # Muted by the room's facilitator: said at once, with the reason; what it forbids is off.
    mute = MuteParticipant(room=room, participant="j1", reason="Let others speak first.")
    await decide(server, facilitator, mute)
    state = juror.locator(".muted-state")
    await expect(state).to_contain_text("A facilitator muted you in this room.")
    await expect(state).to_contain_text("Reason: Let others speak first.")
    await expect(hand).to_be_disabled()
    await expect(add_position).to_be_disabled()
    # A page opened later says it too: the room's snapshot carries the reason.
    await juror.reload()
    await juror.get_by_role("status").filter(has_text="Live").wait_for()
    await expect(state).to_contain_text("Reason: Let others speak first.")
    await expect(add_position).to_be_disabled()

    # The lead, from the lead's own page over every room, unmutes: it clears at once.
    await decide(server, "lead", UnmuteParticipant(room=room, participant="j1"))
    await expect(state).to_have_count(0)
    await expect(hand).to_be_enabled()
    await expect(add_position).to_be_enabled()

    # Muted again, then the round ends: in the plenary, where nobody muted them, nothing stays.
    await decide(server, facilitator, mute)
    await expect(state).to_contain_text("Reason: Let others speak first.")
    await decide(server, "lead", CloseRound())
    await expect(juror.locator(".room-name")).to_have_text("Plenary")
    await expect(state).to_have_count(0)
    await expect(hand).to_be_enabled()
