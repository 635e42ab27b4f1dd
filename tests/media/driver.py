"""Voice end to end, run inside the test's network namespace (tests/media/netns.py):

    ip netns exec <namespace> python -m tests.media.driver <results.json> [scenario ...]

palabre's server starts its own Janus here, two headless Chromiums (one whose fake microphone
speaks, one whose microphone is silent) open the real pages, and each scenario writes what it
measured (levels, latencies, refusals, voiced times) to the results file as JSON, which the
tests in tests/media/test_voice_in_browsers.py assert on (tests/media/conftest.py runs one
scenario per namespace). A scenario that fails records its error; any others named still run.
"""

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, async_playwright, expect

from facilitation.metrics import room_fairness
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.media.netns import MEDIA_ADDRESS
from tests.media.pages import Person, first_quiet, mean, onset, peak, quiet_from, wall_ms
from tests.media.speech import make_silence, make_speech
from tests.server.harness import Client, LiveServer, demo_people, settings_for

PLENARY = "plenary"
# A listener's level while everyone is muted is 0.0000; speech through the mix is about 0.05.
HEARD_RMS = 0.01
SILENT_RMS = 0.003
# A quiet stretch this long means the speaker is no longer heard (speech pauses are cut to
# 10 ms in the fake microphone's file).
QUIET_HOLD_MS = 300
# How many times a grant and a turn's end are timed.
REPEATS = 3
# How long a level is measured for a verdict.
LISTEN_SECONDS = 2.0
# The bound on waiting for audio to arrive or stop, well above the 500 ms asserted.
CHANGE_SECONDS = 10.0
# Audio mixed before a change still reaches the listener for a few hundred milliseconds.
IN_FLIGHT_SECONDS = 0.6
# palabre's own Janus answers within a few seconds of the server's start.
VOICE_SECONDS = 15.0
# Janus starts again in a second or two; the pages rejoin as soon as they are told.
RESTART_SECONDS = 20.0


@dataclass
class Stage:
    """What every scenario gets: the server, and a browser per kind of microphone."""

    server: LiveServer
    speaking: Browser
    silent: Browser
    people: list[Person] = field(default_factory=list)

    async def assembly(self, name: str, jurors: int) -> dict[str, str]:
        return await demo_people(self.server.organiser, name, jurors=jurors)

    async def person(self, token: str, name: str, *, speaks: bool) -> Person:
        browser = self.speaking if speaks else self.silent
        someone = await Person.enter(browser, self.server, token, name)
        self.people.append(someone)
        return someone

    async def client(self, token: str) -> Client:
        client = Client(self.server.url)
        await client.connect(token=token)
        return client

    async def janus_muted(self, assembly: str, room: str) -> dict[str, bool]:
        bridge = self.server.palabre.voice.media[0].bridge
        assert bridge is not None
        people = await bridge.list_participants(f"{assembly}/{room}")
        return {p.participant_id.split("/", 1)[1]: p.muted for p in people}

    async def close_people(self) -> None:
        for someone in self.people:
            with contextlib.suppress(Exception):
                await someone.close()
        self.people.clear()


async def listen(listener: Person, seconds: float = LISTEN_SECONDS) -> dict[str, float]:
    """The level the listener receives over the next `seconds` (and how many samples the page
    took meanwhile: a stalled page is no proof of silence)."""
    start = wall_ms()
    await asyncio.sleep(seconds)
    return level(await listener.levels(start), seconds)


def level(samples: list[tuple[float, float]], seconds: float) -> dict[str, float]:
    return {
        "mean_rms": round(mean(samples), 5),
        "peak_rms": round(peak(samples), 5),
        "samples": len(samples),
        "seconds": seconds,
    }


async def settled(listener: Person, since_ms: float, *, to_heard: bool) -> float | None:
    """Wait (bounded) until the listener's audio became heard, or silent, after `since_ms`;
    when it did."""
    deadline = time.monotonic() + CHANGE_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        samples = await listener.levels(since_ms)
        if to_heard:
            found = onset(samples, since_ms, HEARD_RMS)
        else:
            found = quiet_from(samples, since_ms, SILENT_RMS, QUIET_HOLD_MS)
        if found is not None:
            return found
    return None


async def timed_change(
    listener: Person, act: Callable[[], Awaitable[Any]], *, to_heard: bool, event: str
) -> dict[str, Any]:
    """Do `act` (a command), then measure when the listener's audio became heard (or silent),
    in milliseconds: from the committed `event`'s own time (`at_ms`, the server's clock when it
    decided the command, before writing it), from the moment the event reached the listener's
    page, and from the moment the command was sent."""
    sent = wall_ms()
    answer = await act()
    acked = wall_ms()
    changed = await settled(listener, sent, to_heard=to_heard)
    found = [
        e
        for e in await listener.received(sent)
        if e["name"] == "event" and e["payload"].get("type") == event
    ]
    decided = found[0]["payload"]["at_ms"] if found else None
    reached = found[0]["at"] if found else None

    def since(start: float | None) -> int | None:
        return None if changed is None or start is None else round(changed - start)

    return {
        "answer": answer,
        "ack_ms": round(acked - sent),
        "event_reached_listener_ms": None if reached is None else round(reached - sent),
        "from_event_ms": since(decided),
        "from_receipt_ms": since(reached),
        "from_command_ms": since(sent),
    }


async def until_janus(stage: Stage, assembly: str, muted: dict[str, bool]) -> None:
    """Wait (bounded) until Janus lists these people of the plenary muted or not, then a
    little more for the audio already in flight."""

    async def reached() -> bool:
        now = await stage.janus_muted(assembly, PLENARY)
        return all(now.get(person) is state for person, state in muted.items())

    await wait_until(reached, f"Janus to show {muted}", CHANGE_SECONDS)
    await asyncio.sleep(IN_FLIGHT_SECONDS)


async def talking_seen(listener: Person, since_ms: float) -> list[str]:
    """Everyone the media server said was talking (`voice_activity`) since `since_ms`."""
    talking = [
        e["payload"]["talking"]
        for e in await listener.received(since_ms)
        if e["name"] == "voice_activity"
    ]
    return sorted({p for names in talking for p in names})


def ok(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer.get("ok"), answer
    return answer


# --- scenarios ------------------------------------------------------------------------------


async def floor(stage: Stage) -> dict[str, Any]:
    """The floor is the microphone: the floor holder heard, the latencies of a grant and of a
    turn's end, a juror without the floor silent whatever their page tries, a muted juror
    silent. (Three pages: on a loaded machine, fewer pages keep the audio smooth.)"""
    tokens = await stage.assembly("floor", jurors=3)
    chair = await stage.client(tokens["f2"])
    listener = await stage.person(tokens["j3"], "listener", speaks=False)
    speaker = await stage.person(tokens["j1"], "speaker", speaks=True)
    rogue = await stage.person(tokens["j2"], "rogue", speaks=True)
    for someone in (listener, speaker, rogue):
        await someone.join_voice()
    result: dict[str, Any] = {"audio_context": await listener.page.evaluate("__probe.audioState()")}
    result["everyone_muted"] = await listen(listener)

    async def grant(who: str) -> dict[str, Any]:
        return await chair.send("grant_floor", room=PLENARY, participant=who)

    async def revoke() -> dict[str, Any]:
        return await chair.send("revoke_floor", room=PLENARY)

    # 1 and 9: the floor holder is heard, within how long; and silent again after the turn.
    # Each change timed REPEATS times: a loaded machine shows in some of them.
    grants, ends = [], []
    for _ in range(REPEATS):
        grants.append(
            await timed_change(listener, lambda: grant("j1"), to_heard=True, event="floor_granted")
        )
        result.setdefault("floor_holder", await listen(listener))
        ends.append(await timed_change(listener, revoke, to_heard=False, event="turn_ended"))
        result.setdefault("after_turn", await listen(listener, 1.0))
    result["grant"], result["turn_end"] = grants, ends
    result["listener_receiving"] = await listener.receive_delays()

    # 2: a juror without the floor whose page turns its microphone on and tries every message.
    result["forced_tracks"] = await rogue.force_microphone_on()
    offer = await rogue.page.evaluate("__probe.localOffer()")
    attempts: dict[str, dict[str, Any]] = {}
    start = wall_ms()
    for name, event, data in (
        ("unmute_self", "voice_mute_self", {"muted": False}),
        ("join_again", "voice_join", {"offer": offer}),
        ("join_again_naming_the_room", "voice_join", {"offer": offer, "room": PLENARY}),
        ("join_with_a_bad_offer", "voice_join", {"offer": {"type": "offer", "sdp": "v=0\r\nx"}}),
        ("ice_junk", "voice_ice", {"candidate": {"candidate": "junk", "sdpMid": "0"}}),
        ("ice_for_a_handle", "voice_ice", {"candidate": None, "handle": 1}),
        ("ice_not_an_object", "voice_ice", ["candidate"]),
        ("grant_myself_the_floor", "grant_floor", {"room": PLENARY, "participant": "j2"}),
        ("open_the_floor", "set_room_rules", {"room": PLENARY, "open_floor": True}),
        (
            "unmute_myself",
            "unmute_participant",
            {"room": PLENARY, "participant": "j2"},
        ),
        ("yield_a_floor_not_mine", "yield_floor", {"room": PLENARY}),
        ("unmute_self_again", "voice_mute_self", {"muted": False}),
    ):
        attempts[name] = await rogue.emit(event, data)
    await asyncio.sleep(LISTEN_SECONDS)
    samples = await listener.levels(start)
    result["rogue"] = {
        "attempts": {name: answer.get("error", "ok") for name, answer in attempts.items()},
        "listener": level(samples, (wall_ms() - start) / 1000),
        "janus_muted": (await stage.janus_muted("floor", PLENARY)).get("j2"),
    }
    # The same juror given the floor is heard: their microphone does reach the room.
    granted = wall_ms()
    ok(await grant("j2"))
    await settled(listener, granted, to_heard=True)
    result["rogue_with_the_floor"] = await listen(listener)

    # 3: muted by a facilitator (the turn ends with it), the juror stays silent.
    result["mute"] = await timed_change(
        listener,
        lambda: chair.send("mute_participant", room=PLENARY, participant="j2"),
        to_heard=False,
        event="participant_muted",
    )
    start = wall_ms()
    tries = {
        "grant_floor_to_the_muted": (await grant("j2")).get("error", "ok"),
        "raise_hand": (await rogue.emit("raise_hand", {"room": PLENARY})).get("error", "ok"),
        "unmute_self": (await rogue.emit("voice_mute_self", {"muted": False})).get("error", "ok"),
    }
    await rogue.force_microphone_on()
    await asyncio.sleep(LISTEN_SECONDS)
    samples = await listener.levels(start)
    result["muted_juror"] = {
        "attempts": tries,
        "listener": level(samples, (wall_ms() - start) / 1000),
        "janus_muted": (await stage.janus_muted("floor", PLENARY)).get("j2"),
    }

    await chair.drop()
    return result


async def moderated(stage: Stage) -> dict[str, Any]:
    """The facilitator heard once they turn their microphone on; the open floor, switched on
    their page, lets two jurors be heard."""
    tokens = await stage.assembly("open", jurors=3)
    listener = await stage.person(tokens["j3"], "listener", speaks=False)
    speaker = await stage.person(tokens["j1"], "speaker", speaks=True)
    second = await stage.person(tokens["j2"], "second speaker", speaks=True)
    facilitator = await stage.person(tokens["f1"], "facilitator", speaks=True)
    for someone in (listener, speaker, second, facilitator):
        await someone.join_voice()
    result: dict[str, Any] = {"everyone_muted": await listen(listener)}

    # 4: the facilitator, who joins muted by their own choice, turns their microphone on.
    clicked = wall_ms()
    await facilitator.page.get_by_role("button", name="My microphone is off").click()
    await expect(facilitator.page.locator(".voice-state")).to_have_text(
        "You run this room: your microphone is live"
    )
    await settled(listener, clicked, to_heard=True)
    result["facilitator"] = await listen(listener)
    clicked = wall_ms()
    await facilitator.page.get_by_role("button", name="Turn my microphone off").click()
    await expect(
        facilitator.page.get_by_role("button", name="My microphone is off")
    ).to_be_visible()
    await settled(listener, clicked, to_heard=False)
    result["facilitator_off"] = await listen(listener, 1.0)

    # 5: the open floor, switched on the facilitator's page: each of two jurors is heard
    # (the other muting themselves), then both.
    await facilitator.page.get_by_label(
        "Open floor: every juror may speak without raising a hand"
    ).click()
    for someone in (speaker, second):
        await expect(someone.page.locator(".voice-state")).to_have_text("Open floor: speak freely")
    open_floor: dict[str, Any] = {}
    opened = wall_ms()
    await speaker.page.get_by_role("button", name="Turn my microphone off").click()
    await until_janus(stage, "open", {"j1": True, "j2": False})
    open_floor["j2_alone"] = await listen(listener)
    await second.page.get_by_role("button", name="Turn my microphone off").click()
    await speaker.page.get_by_role("button", name="My microphone is off").click()
    await until_janus(stage, "open", {"j1": False, "j2": True})
    open_floor["j1_alone"] = await listen(listener)
    await second.page.get_by_role("button", name="My microphone is off").click()
    await until_janus(stage, "open", {"j1": False, "j2": False})
    open_floor["both"] = await listen(listener)
    open_floor["talking_seen"] = await talking_seen(listener, opened)
    open_floor["janus_muted"] = await stage.janus_muted("open", PLENARY)
    result["open_floor"] = open_floor
    return result


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def peer_connections(someone: Person) -> int:
    count: int = await someone.page.evaluate("__probe.peers.length")
    return count


async def rounds(stage: Stage) -> dict[str, Any]:
    """A breakout round moves each person's audio to their room (no new connection): room one
    does not hear room two; the recall brings everyone back to the plenary, heard there."""
    tokens = await stage.assembly("rounds", jurors=4)
    lead = await stage.client(tokens["lead"])
    one_speaker = await stage.person(tokens["j1"], "room one speaker", speaks=True)
    one_listener = await stage.person(tokens["j2"], "room one listener", speaks=False)
    two_speaker = await stage.person(tokens["j3"], "room two speaker", speaks=True)
    two_listener = await stage.person(tokens["j4"], "room two listener", speaks=False)
    everyone = (one_speaker, one_listener, two_speaker, two_listener)
    for someone in everyone:
        await someone.join_voice()
    proposed = ok(await lead.send("open_round", room_count=2))
    await lead.wait_seq("assembly", proposed["seq"])
    (round_proposed,) = [e for e in lead.applied["assembly"] if e["type"] == "round_proposed"]
    one, two = (room["room_id"] for room in round_proposed["rooms"])
    seats = {"j1": one, "j2": one, "j3": two, "j4": two}
    for juror, room in seats.items():
        answer = await lead.send("adjust_allocation", participant=juror, to_room=room)
        assert answer["ok"] or answer["error"] == "already_in_room", answer
    ok(await lead.send("start_round"))

    async def seated() -> bool:
        first = await stage.janus_muted("rounds", one) if await has_room(one) else {}
        second = await stage.janus_muted("rounds", two) if await has_room(two) else {}
        return set(first) == {"j1", "j2"} and set(second) == {"j3", "j4"}

    async def has_room(room: str) -> bool:
        bridge = stage.server.palabre.voice.media[0].bridge
        return bridge is not None and f"rounds/{room}" in bridge.rooms

    await wait_until(seated, "the audio moved to the breakout rooms", CHANGE_SECONDS)
    result: dict[str, Any] = {}

    async def both_listen() -> dict[str, Any]:
        one, two = await asyncio.gather(listen(one_listener), listen(two_listener))
        return {"room_one_listener": one, "room_two_listener": two}

    start = wall_ms()
    ok(await lead.send("grant_floor", room=two, participant="j3"))
    await settled(two_listener, start, to_heard=True)
    result["room_two_speaks"] = await both_listen()
    start = wall_ms()
    ok(await lead.send("grant_floor", room=one, participant="j1"))
    ok(await lead.send("revoke_floor", room=two))
    await settled(one_listener, start, to_heard=True)
    await settled(two_listener, start, to_heard=False)
    result["room_one_speaks"] = await both_listen()
    ok(await lead.send("close_round"))

    async def recalled() -> bool:
        return set(await stage.janus_muted("rounds", PLENARY)) == set(seats)

    await wait_until(recalled, "the audio back in the plenary", CHANGE_SECONDS)
    start = wall_ms()
    await settled(one_listener, start, to_heard=False)
    await settled(two_listener, start, to_heard=False)
    result["recalled_everyone_muted"] = await both_listen()
    start = wall_ms()
    ok(await lead.send("grant_floor", room=PLENARY, participant="j3"))
    await settled(one_listener, start, to_heard=True)
    await settled(two_listener, start, to_heard=True)
    result["plenary_after_recall"] = await both_listen()
    result["peer_connections"] = {s.name: await peer_connections(s) for s in everyone}
    await lead.drop()
    return result


async def speaking_time(stage: Stage) -> dict[str, Any]:
    """One juror talks for 20 s, another for 5 s (each holding the floor, their microphone
    playing continuous speech): the voiced time in the log and in the fairness figures."""
    tokens = await stage.assembly("talk", jurors=2)
    chair = await stage.client(tokens["f2"])
    talkers = {"j1": 20.0, "j2": 5.0}
    for juror in talkers:
        await (await stage.person(tokens[juror], juror, speaks=True)).join_voice()
    # A listener whose page keeps who the media server says is talking, and when.
    listener = await stage.person(tokens["f1"], "facilitator", speaks=False)
    await listener.join_voice()
    began = wall_ms()
    floor_ms: dict[str, int] = {}
    for juror, seconds in talkers.items():
        ok(await chair.send("grant_floor", room=PLENARY, participant=juror))
        await asyncio.sleep(seconds)
        ok(await chair.send("revoke_floor", room=PLENARY))

    def recorded() -> dict[str, int]:
        total: dict[str, int] = {}
        for event in chair.applied.get(PLENARY, []):
            if event["type"] == "voice_recorded":
                for person, ms in event["voiced_ms"].items():
                    total[person] = total.get(person, 0) + ms
            if event["type"] == "turn_ended":
                floor_ms[event["speaker"]] = event["duration_ms"]
        return total

    async def both_recorded() -> bool:
        return set(recorded()) == set(talkers) and set(floor_ms) == set(talkers)

    # The server records each turn's voiced time at its end.
    await wait_until(both_recorded, "voice_recorded for both jurors", CHANGE_SECONDS)
    runtime = await stage.server.palabre.hub.get("talk")
    assert runtime is not None
    fairness = await runtime.read(lambda state: room_fairness(state, PLENARY, int(wall_ms())))
    snapshot = await stage.client(tokens["lead"])
    stats = snapshot.snapshots[PLENARY]["stats"]
    await snapshot.drop()
    await chair.drop()
    return {
        "talking_intervals_ms": talking_intervals(await listener.received(began)),
        "talked_seconds": talkers,
        "floor_ms": floor_ms,
        "log_voiced_ms": recorded(),
        "snapshot_voiced_ms": {p: stats[p]["voiced_ms"] for p in talkers if p in stats},
        "fairness_voiced_ms": {s.participant: s.voiced_ms for s in fairness.speakers},
        "fairness_voiced_gini": round(fairness.voiced_gini, 3),
        "fairness_gini": round(fairness.gini, 3),
    }


def talking_intervals(received: list[dict[str, Any]]) -> dict[str, list[list[int]]]:
    """Each person's stretches of talk (start, length in ms) from the `voice_activity` events,
    relative to the first event."""
    changes = [e for e in received if e["name"] == "voice_activity"]
    if not changes:
        return {}
    first = changes[0]["at"]
    since: dict[str, float] = {}
    stretches: dict[str, list[list[int]]] = {}
    for change in changes:
        now = set(change["payload"]["talking"])
        for person in now - set(since):
            since[person] = change["at"]
        for person in set(since) - now:
            start = since.pop(person)
            stretches.setdefault(person, []).append(
                [round(start - first), round(change["at"] - start)]
            )
    return stretches


async def observer(stage: Stage) -> dict[str, Any]:
    """An observer presses "Listen to this room" and hears the floor holder through the room's
    stream (the mix forwarded to a Streaming mountpoint), not by joining the mix."""
    tokens = await stage.assembly("watched", jurors=2)
    chair = await stage.client(tokens["f2"])
    speaker = await stage.person(tokens["j1"], "speaker", speaks=True)
    await speaker.join_voice()
    watcher = await stage.person(tokens["obs"], "observer", speaks=False)
    bar = watcher.page.get_by_role("region", name="The room's sound")
    await bar.get_by_role("button", name="Listen to this room").click()
    await expect(bar.locator(".voice-state")).to_have_text("Listening to Plenary live")
    await watcher.connected()
    result: dict[str, Any] = {"nobody_speaks": await listen(watcher)}
    result["grant"] = await timed_change(
        watcher,
        lambda: chair.send("grant_floor", room=PLENARY, participant="j1"),
        to_heard=True,
        event="floor_granted",
    )
    result["floor_holder"] = await listen(watcher)
    result["turn_end"] = await timed_change(
        watcher,
        lambda: chair.send("revoke_floor", room=PLENARY),
        to_heard=False,
        event="turn_ended",
    )
    result["after_turn"] = await listen(watcher, 1.0)
    result["listener_receiving"] = await watcher.receive_delays()
    offer = await watcher.page.evaluate("__probe.localOffer()")
    result["observer_joins_the_mix"] = (await watcher.emit("voice_join", {"offer": offer})).get(
        "error", "ok"
    )
    result["janus_mix"] = sorted(await stage.janus_muted("watched", PLENARY))
    await chair.drop()
    return result


async def restart(stage: Stage) -> dict[str, Any]:
    """palabre's own Janus killed: palabre starts it again, the pages are told to rejoin and do
    it by themselves, and the floor holder is heard again."""
    tokens = await stage.assembly("restart", jurors=2)
    chair = await stage.client(tokens["f2"])
    speaker = await stage.person(tokens["j1"], "speaker", speaks=True)
    listener = await stage.person(tokens["j2"], "listener", speaks=False)
    for someone in (speaker, listener):
        await someone.join_voice()
    start = wall_ms()
    ok(await chair.send("grant_floor", room=PLENARY, participant="j1"))
    await settled(listener, start, to_heard=True)
    result: dict[str, Any] = {"before": await listen(listener)}
    own = stage.server.palabre.voice.media[0].own
    assert own is not None and own.pid is not None
    result["janus_pid_before"] = own.pid
    killed = wall_ms()
    os.kill(own.pid, signal.SIGKILL)
    for someone in (speaker, listener):
        await expect(someone.page.locator(".voice-note")).to_have_text(
            "Your microphone is reconnected.", timeout=RESTART_SECONDS * 1000
        )
    for someone in (speaker, listener):
        await someone.connected()
    deadline = time.monotonic() + CHANGE_SECONDS
    back: float | None = None
    while back is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        samples = await listener.levels(killed)
        quiet = first_quiet(samples, killed, SILENT_RMS, QUIET_HOLD_MS)
        # A Janus back in a few hundred milliseconds may leave no quiet stretch (the old
        # connection's loss concealment fills the gap): then heard again means heard on the
        # connection the rejoin made.
        tracks = await listener.tracks(killed)
        since = quiet if quiet is not None else (tracks[-1] if tracks else None)
        if since is not None:
            back = onset(samples, since, HEARD_RMS)
    result["heard_again_after_ms"] = None if back is None else round(back - killed)
    result["janus_pid_after"] = own.pid
    result["rejoins"] = {
        s.name: [e["payload"] for e in await s.received(killed) if e["name"] == "voice_rejoin"]
        for s in (speaker, listener)
    }
    result["peer_connections"] = {s.name: await peer_connections(s) for s in (speaker, listener)}
    result["after"] = await listen(listener)
    await chair.drop()
    return result


SCENARIOS: dict[str, Callable[[Stage], Awaitable[dict[str, Any]]]] = {
    "floor": floor,
    "moderated": moderated,
    "rounds": rounds,
    "speaking_time": speaking_time,
    # Before the restart, which every scenario after it would have to survive as well.
    "observer": observer,
    "restart": restart,
}


async def run(out: Path, names: list[str]) -> None:
    results: dict[str, Any] = {"media_address": MEDIA_ADDRESS}
    with tempfile.TemporaryDirectory(prefix="palabre-media-") as folder:
        base = Path(folder)
        speech, silence = make_speech(base), make_silence(base)
        settings = settings_for(
            f"sqlite+aiosqlite:///{base / 'palabre.sqlite3'}",
            base / "data",
            # palabre's own Janus, started here, inside the namespace; candidates only there.
            janus_urls=None,
            janus_ice_enforce_list=MEDIA_ADDRESS,
        )
        server = LiveServer(settings)
        await server.start()
        try:
            deadline = time.monotonic() + VOICE_SECONDS
            while not server.palabre.voice.available:
                assert time.monotonic() < deadline, "voice never became available"
                await asyncio.sleep(0.05)
            async with async_playwright() as playwright:

                async def chromium(wav: Path) -> Browser:
                    return await playwright.chromium.launch(
                        executable_path=CHROMIUM,
                        args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={wav}"],
                        headless=True,
                    )

                stage = Stage(server, await chromium(speech), await chromium(silence))
                for name in names:
                    began = time.monotonic()
                    try:
                        results[name] = await SCENARIOS[name](stage)
                    except Exception:
                        results[name] = {"error": traceback.format_exc()}
                    finally:
                        await stage.close_people()
                    results[name]["wall_seconds"] = round(time.monotonic() - began, 1)
                    out.write_text(json.dumps(results, indent=1))
        finally:
            await server.stop()
    out.write_text(json.dumps(results, indent=1))


def main() -> None:
    out = Path(sys.argv[1])
    names = sys.argv[2:] or list(SCENARIOS)
    asyncio.run(run(out, names))


if __name__ == "__main__":
    main()
