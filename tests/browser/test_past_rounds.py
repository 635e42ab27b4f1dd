"""A whole breakout round as a juror lives it (the round's time, who is here, the plenary's
question, the recall's warning, "back in the plenary"), and afterwards what the room produced,
still there, read-only, for the lead, a facilitator and an observer (issue 10)."""

import re
from collections.abc import Callable
from typing import TypeVar

from playwright.async_api import Browser, Page, expect

from facilitation import PLENARY_ROOM, Assembly
from facilitation.commands import (
    ClosePoll,
    GrantFloor,
    HidePost,
    OpenPoll,
    PoseQuestion,
    PostArgument,
    Vote,
)
from tests.browser.conftest import PHONE, axe_violations, describe, person, screenshot, watch
from tests.browser.test_juror_states import decide
from tests.server.harness import LiveServer, demo_people

T = TypeVar("T")
QUESTION = "Should rents be capped?"
POSITION = "Cap them at inflation."
SAID = "Rents ate my savings."


async def read(server: LiveServer, look: Callable[[Assembly], T]) -> T:
    """One look at the jury's committed state (ids the pages do not show: rooms, posts)."""
    runtime = await server.palabre.hub.get("jury")
    assert runtime is not None
    return await runtime.read(look)


async def show_past_room(page: Page, room_label: str) -> None:
    """Through the page's picker of past rounds, open one room of the first round."""
    await page.get_by_label("Room of a past round").select_option(label=f"Round 1 · {room_label}")
    await page.get_by_role("button", name="Show what it produced").click()
    await expect(page.locator(".past-room .room-name")).to_contain_text(room_label)


async def shows_what_the_room_produced(page: Page, room_label: str) -> None:
    past = page.locator(".past-room")
    await expect(past.locator(".room-name")).to_contain_text("closed")
    await expect(past.locator(".map")).to_contain_text(QUESTION)
    await expect(past.locator(".map")).to_contain_text(POSITION)
    await expect(past.locator(".speaking-record")).to_contain_text("Juror Number1")
    await expect(past.locator(".speaking-record")).to_contain_text("turns: 1")
    await expect(past.locator(".transcript")).to_contain_text(SAID)
    await expect(past.locator(".polls")).to_contain_text("Meet again?")
    await expect(past.locator(".polls .total").first).to_have_text("1")
    await expect(past.locator(".moderation-record")).to_contain_text("Lea hid a post: Off topic.")
    # Read-only: nothing in it sends anything.
    for name in ("Raise my hand", "Add a position", "Post", "Vote", "Give the floor to the next"):
        await expect(past.get_by_role("button", name=name, exact=True)).to_have_count(0)


async def test_a_full_breakout_round_seen_by_a_juror_and_the_past_round_still_viewable_by_the_lead_and_an_observer(  # noqa: E501
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, jurors=4)
    await decide(server, "lead", PoseQuestion(room=PLENARY_ROOM, text=QUESTION))
    _, lead = await person(browser, server, tokens["lead"])
    _, juror = await person(browser, server, tokens["j1"])
    await lead.get_by_label("Number of rooms").fill("2")
    await lead.get_by_role("button", name="Propose a balanced allocation").click()
    await lead.get_by_role("button", name="Start the round").click()

    # The juror, in their breakout room: the round's time, who is here and who facilitates,
    # and the question the plenary was discussing.
    await expect(juror.locator(".room-name")).to_have_text(re.compile(r"Room \d"))
    room_label = await juror.locator(".room-name").inner_text()
    room = await read(server, lambda state: state.participants["j1"].room)
    assert room is not None
    await expect(juror.locator(".round-line")).to_have_text(
        re.compile(r"Breakout round: 1?\d:\d\d left\.")
    )
    people = juror.locator(".people-here")
    await expect(people).to_contain_text("Juror Number1 (you) online")
    await expect(people).to_contain_text(re.compile(r"Facilitated by (Fatou|Farid)"))
    await expect(juror.locator(".map")).to_contain_text(QUESTION)
    # A facilitator's first screen gives the round's time left too.
    _, facilitator = await person(browser, server, tokens["f1"])
    await expect(facilitator.locator(".glance-round")).to_have_text(re.compile(r"1?\d:\d\d left"))

    # The room works: a turn, a position, a poll, and a post hidden by the lead.
    await juror.get_by_role("button", name="Raise my hand").click()
    await decide(server, "lead", GrantFloor(room=room))
    await juror.get_by_label("What you say").fill(SAID)
    await juror.get_by_role("button", name="Send").click()
    await expect(juror.locator(".statements")).to_contain_text(SAID)
    await juror.get_by_role("button", name="Yield the floor").click()
    await juror.get_by_role("button", name="Add a position").click()
    await juror.get_by_label("Add a position").fill(POSITION)
    await juror.get_by_role("button", name="Post", exact=True).click()
    await expect(juror.locator(".map")).to_contain_text(POSITION)

    def position_of(state: Assembly) -> str:
        return next(n.id for n in state.rooms[room].nodes.values() if n.text == POSITION)

    position = await read(server, position_of)
    await decide(
        server,
        "j1",
        PostArgument(room=room, position_id=position, stance="for", text="Landlords are rich."),
    )
    argument = await read(
        server, lambda s: next(n.id for n in s.rooms[room].nodes.values() if n.kind == "argument")
    )
    await decide(server, "lead", HidePost(room=room, node_id=argument, reason="Off topic."))
    poll = OpenPoll(room=room, question="Meet again?", kind="single", options=("yes", "no"))
    await decide(server, "lead", poll)
    poll_id = await read(server, lambda s: next(iter(s.rooms[room].polls)))
    await decide(server, "j1", Vote(room=room, poll_id=poll_id, choices=(0,)))
    await decide(server, "lead", ClosePoll(room=room, poll_id=poll_id))

    # The recall, a minute ahead, then now: the juror is warned, then told where they are.
    await lead.get_by_role("button", name="Recall everyone in one minute").click()
    await expect(juror.locator(".round-line.recall")).to_have_text(
        re.compile(r"Everyone goes back to the plenary in [01]:\d\d: finish your point\.")
    )
    await expect(facilitator.locator(".glance-round")).to_have_text(
        re.compile(r"recall in [01]:\d\d")
    )
    await lead.get_by_role("button", name="Recall now").click()
    await lead.get_by_role("button", name="Yes, recall now").click()
    await expect(juror.locator(".room-name")).to_have_text("Plenary")
    await expect(juror.locator(".notice.moved")).to_contain_text("You are back in the plenary.")
    # Jurors live in the present: no past rounds on their page.
    await expect(juror.locator(".past-rounds")).to_have_count(0)

    # The lead reads the room's record, and comes back to the live rooms.
    await show_past_room(lead, room_label)
    await shows_what_the_room_produced(lead, room_label)
    await screenshot(lead, "lead-past-room-desktop")
    violations = await axe_violations(lead)
    assert not violations, describe(violations)
    await lead.get_by_role("button", name="← Back to the live rooms").click()
    await expect(lead.get_by_role("heading", name="All rooms")).to_be_visible()

    # So does a facilitator, and an observer on a phone, with nothing pushing the page sideways.
    await show_past_room(facilitator, room_label)
    await shows_what_the_room_produced(facilitator, room_label)
    _, observer = await watch(browser, server, "jury", viewport=PHONE)
    await show_past_room(observer, room_label)
    await shows_what_the_room_produced(observer, room_label)
    assert await observer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(observer, "observer-past-room-phone")
