"""Pages name everyone they show, though a `sync` no longer carries the whole roster: someone met
after the snapshot (back from a breakout room the page did not follow) is asked for with
`roster`, and a person moved into a room comes with their name."""

import re

from playwright.async_api import Browser, expect

from facilitation import ASSEMBLY_STREAM
from tests.browser.conftest import person, watch
from tests.server.harness import LiveServer, acked, connected, demo_people


async def test_an_observer_names_the_jurors_back_from_a_round_it_did_not_follow(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "back", jurors=4)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["j1"]) as juror,
    ):
        assert (await lead.send("open_round", room_count=2))["ok"]
        await acked(lead, "start_round")
        # Watching the plenary while everyone is away: its snapshot names nobody of the round.
        _, observer = await watch(browser, server, "back")
        await expect(observer.locator(".room-name")).to_have_text("Plenary")

        closed = await acked(lead, "close_round")
        await juror.wait_seq(ASSEMBLY_STREAM, closed)
        await acked(juror, "raise_hand", room="plenary")
        await expect(observer.locator(".queue-list .who")).to_have_text(["Juror Number1"])
        await acked(lead, "grant_floor", room="plenary")
        await acked(juror, "speak", room="plenary", text="Back from our room.")
        await expect(observer.locator(".statements")).to_contain_text("Juror Number1")
        await expect(observer.locator(".floor-speaker")).to_contain_text("Juror Number1")


async def test_a_juror_sees_the_name_of_someone_moved_into_their_room(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_people(server.organiser, "moves", jurors=4)
    async with connected(server.url, token=tokens["lead"]) as lead:
        assert (await lead.send("open_round", room_count=2))["ok"]
        started = await acked(lead, "start_round")
        await lead.wait_seq(ASSEMBLY_STREAM, started)
        (event,) = [e for e in lead.applied[ASSEMBLY_STREAM] if e["seq"] == started]
        first, second = event["rooms"]
        host, newcomer = first["jurors"][0], second["jurors"][0]
        _, page = await person(browser, server, tokens[host])
        await expect(page.locator(".room-name")).to_have_text(re.compile(r"Room \d"))

        await acked(lead, "move_participant", participant=newcomer, to_room=first["room_id"])
        async with connected(server.url, token=tokens[newcomer]) as moved:
            await acked(moved, "raise_hand")
            await expect(page.locator(".queue-list .who")).to_have_text(
                [f"Juror Number{newcomer[1:]}"]
            )
