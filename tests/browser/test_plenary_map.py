"""Reporting back in the browser: a facilitator proposes what a room carries and a juror
objects; after the recall the lead sees why two positions were proposed as one and merges them,
and a juror in the plenary sees the merged position with each room's wording."""

from typing import Any

from playwright.async_api import Browser, expect

from facilitation import PLENARY_ROOM, Command
from facilitation import commands as cmd
from facilitation.state import Assembly
from server.runtime import AssemblyRuntime
from tests.browser.conftest import axe_violations, describe, person, screenshot
from tests.server.harness import LiveServer, demo_people

BUSES = "Make public buses free for every resident"
BUSES_AGAIN = "Public buses should be free for all residents"
LIBRARY = "Open the library on Sundays"
CLEANER_AIR = "Cleaner air downtown"


async def submit(runtime: AssemblyRuntime, actor: str, command: Command) -> None:
    outcome = await runtime.submit(command, actor)
    assert outcome.ok, outcome


def seating(state: Assembly) -> dict[str, Any]:
    current = state.current_round()
    assert current is not None
    return {
        room.room_id: {
            "jurors": sorted(state.rooms[room.room_id].jurors),
            "facilitators": sorted(state.rooms[room.room_id].facilitators),
            "question": next(
                n.id for n in state.rooms[room.room_id].nodes.values() if n.kind == "question"
            ),
        }
        for room in current.rooms
    }


async def test_the_lead_confirms_a_merge_and_a_juror_sees_each_rooms_wording(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "synthesis", jurors=4)
    runtime = await server.palabre.hub.get("synthesis")
    assert runtime is not None
    await submit(runtime, "lead", cmd.PoseQuestion(room=PLENARY_ROOM, text="What to fund?"))
    await submit(runtime, "lead", cmd.OpenRound(room_count=2, seed=5))
    await submit(runtime, "lead", cmd.StartRound())
    rooms = await runtime.read(seating)
    first, second = sorted(rooms)
    for room, texts in ((first, [BUSES]), (second, [BUSES_AGAIN, LIBRARY])):
        for text in texts:
            await submit(
                runtime,
                rooms[room]["jurors"][0],
                cmd.PostPosition(room=room, question_id=rooms[room]["question"], text=text),
            )
    buses = await runtime.read(
        lambda s: next(n.id for n in s.rooms[first].nodes.values() if n.text == BUSES)
    )
    await submit(
        runtime,
        rooms[first]["jurors"][0],
        cmd.PostArgument(room=first, position_id=buses, stance="for", text=CLEANER_AIR),
    )

    # The facilitator of the first room proposes to carry its position.
    _, facilitator = await person(browser, server, tokens[rooms[first]["facilitators"][0]])
    carry = facilitator.locator(".carry")
    await carry.get_by_label(BUSES).check()
    await carry.get_by_label(f"For: {CLEANER_AIR}").check()
    await carry.get_by_role("button", name="Propose to carry these").click()

    # One of the room's jurors sees the proposal and objects before the recall.
    _, member = await person(browser, server, tokens[rooms[first]["jurors"][1]])
    await expect(member.locator(".carry .carried")).to_contain_text(BUSES)
    await member.get_by_label("Why do you object? (kept on the record)").fill("Add the library")
    await member.get_by_role("button", name="I object to this proposal").click()
    await expect(facilitator.locator(".carry .objections")).to_contain_text("Add the library")
    await expect(member.get_by_role("button", name="I object to this proposal")).to_have_count(0)
    await screenshot(member, "carry-objection")

    _, lead = await person(browser, server, tokens["lead"])
    await submit(runtime, "lead", cmd.CloseRound())

    # The server proposes the merge: the lead sees both wordings and the shared words.
    proposal = lead.locator(".merge-proposals .proposal")
    await expect(proposal).to_have_count(1, timeout=15_000)
    await expect(proposal).to_contain_text(BUSES)
    await expect(proposal).to_contain_text(BUSES_AGAIN)
    await expect(proposal.locator(".why")).to_contain_text("buses")
    # Nothing is merged before the lead says so: three positions stand on the map.
    await expect(lead.locator(".plenary-map .map-group")).to_have_count(3)
    await screenshot(lead, "lead-merge-proposal")
    await proposal.get_by_role("button", name="Merge them").click()
    await expect(lead.locator(".merge-proposals .proposal")).to_have_count(0)
    await expect(lead.locator(".plenary-map .map-group")).to_have_count(2)
    await screenshot(lead, "lead-merged-map")

    # A juror back in the plenary: the merged position names both rooms, each wording a click
    # away; the library, raised by one room only, stands on its own.
    await expect(member.locator(".room-name")).to_have_text("Plenary")
    merged = member.locator(".plenary-map .map-group").filter(has_text=BUSES)
    await expect(merged.locator(".raised-by")).to_contain_text("Room 1, round 1; Room 2, round 1")
    await expect(merged.locator(".side-for")).to_contain_text(CLEANER_AIR)
    await merged.get_by_text("Each room's wording (2)").click()
    await expect(merged.locator(".wording")).to_have_count(2)
    await expect(merged.locator(".wordings")).to_contain_text(BUSES_AGAIN)
    alone = member.locator(".plenary-map .map-group").filter(has_text=LIBRARY)
    await expect(alone).to_contain_text("Raised by one room only")
    await expect(member.locator(".plenary-map")).to_contain_text("Add the library")
    await screenshot(member, "juror-merged-map")
    violations = await axe_violations(member)
    assert not violations, describe(violations)
