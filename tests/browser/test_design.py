"""The design as a 70-year-old juror on a phone meets it (issue 10): every state of every
role's page free of serious axe-core findings at rest, on hover and on focus, every control a
44 px target, a visible focus ring on everything the keyboard reaches, the hand button readable
even when a mute disables it; and each state photographed into var/screenshots."""

from collections.abc import AsyncIterator
from typing import Any

from playwright.async_api import Browser, ElementHandle, Page, ViewportSize

from facilitation import PLENARY_ROOM
from facilitation.commands import ExtendTurn, MuteParticipant, OpenPoll
from tests.browser.conftest import AXE, DESKTOP, PHONE, describe, person, screenshot, watch
from tests.browser.test_juror_states import AA_CONTRAST
from tests.browser.test_pages import lively_demo
from tests.server.harness import LiveServer

# WCAG 2.5.5: a pointer target at least this many CSS pixels each way.
TARGET_PX = 44
# What a person can click, tap or tab to.
INTERACTIVE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1'])"
)
# Findings that block someone: axe-core's two highest impacts.
BLOCKING = ("serious", "critical")
# Tab presses allowed per page before the walk counts as stuck (the busiest page has ~60 stops).
MAX_TABS = 150


async def demo_in_every_state(server: LiveServer) -> dict[str, str]:
    """The lively demo (Kwame speaks, Sophie waits), with an open poll and a muted juror."""
    tokens = await lively_demo(server)
    runtime = await server.palabre.hub.get("demo")
    assert runtime is not None
    poll = OpenPoll(
        room=PLENARY_ROOM,
        question="Should the council buy empty offices?",
        kind="single",
        options=("Yes", "No", "Not sure yet"),
    )
    for actor, command in (
        # Kwame keeps the floor while the pages are photographed and probed.
        ("fac-tomas", ExtendTurn(room=PLENARY_ROOM, by_ms=20 * 60_000)),
        ("fac-tomas", poll),
        ("fac-tomas", MuteParticipant(room=PLENARY_ROOM, participant="j-george", reason="noise")),
    ):
        outcome = await runtime.submit(command, actor)
        assert outcome.ok, outcome
    return tokens


async def tour(
    browser: Browser, server: LiveServer, tokens: dict[str, str], viewport: ViewportSize
) -> AsyncIterator[tuple[str, Page]]:
    """Every page every role sees, in its telling states, one at a time: (name, page)."""
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    page = await context.new_page()
    for name, path in (
        ("home", "/"),
        ("join-juror", f"/join/{tokens['j-aisha']}"),
        ("join-facilitator", f"/join/{tokens['fac-tomas']}"),
        ("join-lead", f"/join/{tokens['lead']}"),
        ("join-observer", f"/join/{tokens['obs-joanna']}"),
        ("invalid-invite", "/join/not-a-real-invite"),
    ):
        await page.goto(server.url + path)
        yield name, page
    await context.close()
    for name, participant in (
        ("juror", "j-sophie"),
        ("juror-speaking", "j-kwame"),
        ("juror-muted", "j-george"),
        ("facilitator", "fac-tomas"),
        ("observer", "obs-joanna"),
        ("lead", "lead"),
    ):
        context, live = await person(browser, server, tokens[participant], viewport=viewport)
        await live.wait_for_load_state("networkidle")
        yield name, live
        if name == "facilitator":
            await open_menus_and_forms(live)
            yield "facilitator-menus", live
        if name == "lead":
            await live.get_by_role("button", name="Open Plenary").click()
            await live.locator(".hand-button, .controls").first.wait_for()
            yield "lead-in-a-room", live
            await live.get_by_role("button", name="← All rooms").click()
            await live.get_by_role("button", name="Propose a balanced allocation").click()
            await live.get_by_role("heading", name="Proposed breakout round").wait_for()
            yield "lead-round-proposed", live
            # Withdrawn again, so the next tour finds the lead's page as this one did.
            await live.get_by_role("button", name="Withdraw the proposal").click()
            await live.get_by_role("button", name="Propose a balanced allocation").wait_for()
        await context.close()
    context, public = await watch(browser, server, "demo", viewport=viewport)
    yield "watch", public
    await context.close()


async def open_menus_and_forms(page: Page) -> None:
    """Every moderation menu open, with the forms inside them, as a facilitator would."""
    await page.evaluate("document.querySelectorAll('details.menu').forEach((d) => (d.open = true))")
    await page.get_by_role("button", name="Remove Aisha Rahman").click()
    await page.get_by_role("button", name="Open a poll").click()


# Hovering or focusing a control changes its styles, not the page's structure: only the rules
# that read colours can find something new then (the rest ran on the page at rest).
STYLE_RULES = ["color-contrast", "link-in-text-block"]


async def axe_on(page: Page, element: ElementHandle | None = None) -> list[dict[str, Any]]:
    """Blocking axe-core findings on the whole page, or the style rules' on one element."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    results = await page.evaluate(
        """async ([element, rules]) => element
          ? await axe.run(element, { runOnly: { type: 'rule', values: rules } })
          : await axe.run(document)""",
        [element, STYLE_RULES],
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


# One of each kind of control not probed yet: a kind is the tag, classes and state, and the
# fill behind it, so the same button on another page or another panel's colour is probed again
# while its copies in one list are not. The picked ones are marked `data-probe`.
MARK_NEW_KINDS = """([selector, seen]) => {
  const known = new Set(seen);
  const fillBehind = (element) => {
    for (let at = element.parentElement; at; at = at.parentElement) {
      const fill = getComputedStyle(at).backgroundColor;
      if (fill !== 'rgba(0, 0, 0, 0)') return fill;
    }
    return 'none';
  };
  const picked = [];
  for (const element of document.querySelectorAll(selector)) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right < 0) continue;
    const kind = [element.tagName, element.className, element.getAttribute('aria-pressed'),
                  element.disabled, element.type, fillBehind(element)].join('|');
    if (known.has(kind)) continue;
    known.add(kind);
    element.dataset.probe = String(picked.length);
    picked.push(kind);
  }
  return picked;
}"""


async def new_kinds_of_control(page: Page, seen: set[str]) -> list[ElementHandle]:
    """Controls of kinds `seen` lacks, one each; their kinds join `seen`."""
    kinds: list[str] = await page.evaluate(MARK_NEW_KINDS, [INTERACTIVE, sorted(seen)])
    seen.update(kinds)
    controls = []
    for index in range(len(kinds)):
        control = await page.query_selector(f'[data-probe="{index}"]')
        assert control is not None
        await control.evaluate("(e) => delete e.dataset.probe")
        controls.append(control)
    return controls


async def label_of(element: ElementHandle) -> str:
    text: str = await element.evaluate(
        "(e) => (e.getAttribute('aria-label') || e.textContent || e.name || e.id || e.tagName)"
        ".trim().slice(0, 40)"
    )
    return text


async def photograph_and_probe(
    browser: Browser, server: LiveServer, size: str, viewport: ViewportSize, *, states: bool
) -> list[str]:
    """Photograph every state of every page at one size and run axe-core on it at rest; with
    `states`, hover and then focus one control of each kind and run axe-core on it again.
    Returns what axe-core found."""
    tokens = await demo_in_every_state(server)
    found: list[str] = []
    visited: list[str] = []
    probed: set[str] = set()
    async for name, page in tour(browser, server, tokens, viewport):
        visited.append(name)
        # From the top, so the phone's pinned line is photographed where it starts.
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, f"{name}-{size}")
        if violations := await axe_on(page):
            found.append(f"{name}-{size} at rest: {describe(violations)}")
        if not states:
            continue
        for control in await new_kinds_of_control(page, probed):
            if not await control.is_visible():
                continue
            label = await label_of(control)
            await control.hover()
            if violations := await axe_on(page, control):
                found.append(f"{name}-{size}: {label!r} hovered: {describe(violations)}")
            await control.focus()
            if violations := await axe_on(page, control):
                found.append(f"{name}-{size}: {label!r} focused: {describe(violations)}")
    assert len(visited) == PAGES_TOURED, visited
    if states:
        assert len(probed) >= 20, f"only {len(probed)} kinds of control were hovered and focused"
    return found


# The pages and states `tour` visits.
PAGES_TOURED = 16


async def test_on_a_desktop_every_page_of_every_role_passes_axe_at_rest_on_hover_and_on_focus(
    browser: Browser, server: LiveServer
) -> None:
    found = await photograph_and_probe(browser, server, "desktop", DESKTOP, states=True)
    assert not found, "\n".join(found)


async def test_on_a_phone_every_page_of_every_role_passes_axe_and_is_photographed(
    browser: Browser, server: LiveServer
) -> None:
    found = await photograph_and_probe(browser, server, "phone", PHONE, states=False)
    assert not found, "\n".join(found)


# The box a person aims at: a radio's or checkbox's whole label when it wraps the box.
TOO_SMALL = """([selector, least]) => {
  const small = [];
  for (const element of document.querySelectorAll(selector)) {
    const style = getComputedStyle(element);
    if (style.visibility === 'hidden') continue;
    if (element.closest('[hidden], details:not([open]) > :not(summary)')) continue;
    const boxed = ['checkbox', 'radio'].includes(element.type);
    const target = boxed ? element.closest('label') ?? element : element;
    const box = target.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;
    if (box.width < least || box.height < least) {
      const label = (element.getAttribute('aria-label') || element.textContent
                     || element.id || element.tagName).trim().slice(0, 40);
      small.push(`${label}: ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""


async def test_every_control_is_at_least_44_by_44_px_on_a_phone(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_in_every_state(server)
    small: list[str] = []
    async for name, page in tour(browser, server, tokens, PHONE):
        found: list[str] = await page.evaluate(TOO_SMALL, [INTERACTIVE, TARGET_PX])
        small.extend(f"{name}: {entry}" for entry in found)
    assert small == []


# Whether the focused element (or the label a radio or checkbox sits in) draws a ring.
FOCUS_RING = """() => {
  const focused = document.activeElement;
  if (!focused || focused === document.body) return null;
  const boxed = ['checkbox', 'radio'].includes(focused.type);
  const ringed = boxed ? focused.closest('label') ?? focused : focused;
  const style = getComputedStyle(ringed);
  const label = (focused.getAttribute('aria-label') || focused.textContent
                 || focused.id || focused.tagName).trim().slice(0, 40);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  return { label, ring };
}"""


async def test_everything_the_keyboard_reaches_shows_a_focus_ring(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_in_every_state(server)
    unringed: list[str] = []
    async for name, page in tour(browser, server, tokens, DESKTOP):
        stops = await page.evaluate(f"document.querySelectorAll(`{INTERACTIVE}`).length")
        await page.evaluate("document.activeElement?.blur()")
        for _ in range(min(MAX_TABS, stops + 2)):
            await page.keyboard.press("Tab")
            focused = await page.evaluate(FOCUS_RING)
            if focused is not None and not focused["ring"]:
                unringed.append(f"{name}: {focused['label']}")
    assert unringed == []


# The contrast a person sees: text and fill as the element's opacity blends them into what is
# behind it (a disabled button drawn at 60% opacity reads fainter than its colours say).
SEEN_CONTRAST = """(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const behind = (node) => {
    for (let at = node.parentElement; at; at = at.parentElement) {
      const fill = getComputedStyle(at).backgroundColor;
      if (!fill.startsWith('rgba') || !fill.endsWith(', 0)')) return rgb(fill);
    }
    return [255, 255, 255];
  };
  let opacity = 1;
  for (let at = element; at; at = at.parentElement) opacity *= Number(getComputedStyle(at).opacity);
  const under = behind(element);
  const blend = (colour) => colour.map((c, i) => opacity * c + (1 - opacity) * under[i]);
  const luminance = ([r, g, b]) => {
    const [lr, lg, lb] = [r, g, b].map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
  };
  const style = getComputedStyle(element);
  const [a, b] = [luminance(blend(rgb(style.color))), luminance(blend(rgb(style.backgroundColor)))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


async def test_the_hand_button_stays_readable_while_a_mute_disables_it(
    browser: Browser, server: LiveServer
) -> None:
    tokens = await demo_in_every_state(server)
    _, page = await person(browser, server, tokens["j-george"])
    button = page.get_by_role("button", name="Raise my hand")
    assert await button.is_disabled()
    for state in ("at rest", "hovered"):
        if state == "hovered":
            await button.hover(force=True)
        await page.wait_for_timeout(300)
        ratio: float = await button.evaluate(SEEN_CONTRAST)
        assert ratio >= AA_CONTRAST, f"disabled, {state}: contrast {ratio:.2f}"
