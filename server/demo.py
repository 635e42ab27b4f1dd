"""The demo assembly: a citizens' jury on local housing, already under way, so that the first
look at every page (juror, facilitator, lead, observer) shows something to work with.

`ensure_demo` is idempotent and finishes a half-made demo: it creates what is missing (the
assembly, any of its people, the opening of the plenary) and leaves what is there alone.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from facilitation import PLENARY_ROOM, Assembly, Command, Role
from facilitation.commands import AddAgendaItem, PoseQuestion, PostArgument, PostPosition
from server.organiser import IssuedLink, Organiser, Person
from server.runtime import AssemblyRuntime

DEMO_ID = "demo"
DEMO_TITLE = "Citizens' jury on local housing"

LEAD = Person("lead", "Helen Marsh", Role.LEAD)
FACILITATORS = [
    Person("fac-tomas", "Tomás Reyes", Role.FACILITATOR),
    Person("fac-priya", "Priya Natarajan", Role.FACILITATOR),
]
# A jury drawn by sortition is balanced on a few attributes; these are the ones the breakout
# allocation spreads across rooms.
JURORS = [
    Person(pid, name, Role.JUROR, {"age band": age, "gender": gender, "region": region})
    for pid, name, age, gender, region in [
        ("j-margaret", "Margaret Doyle", "65+", "woman", "north"),
        ("j-kwame", "Kwame Mensah", "30-44", "man", "centre"),
        ("j-sophie", "Sophie Laurent", "18-29", "woman", "south"),
        ("j-daniel", "Daniel Kowalski", "45-64", "man", "north"),
        ("j-aisha", "Aisha Rahman", "30-44", "woman", "centre"),
        ("j-george", "George Whitfield", "65+", "man", "south"),
        ("j-sam", "Sam Okoro", "18-29", "non-binary", "north"),
        ("j-rosa", "Rosa Martínez", "45-64", "woman", "south"),
    ]
]
OBSERVER = Person("obs-joanna", "Joanna Pike", Role.OBSERVER)
PEOPLE = [LEAD, *FACILITATORS, *JURORS, OBSERVER]

QUESTION = "How should our town meet its need for affordable homes over the next ten years?"
BUILD_UP = "Build upward in the town centre: more flats close to transport, shops and work."
REUSE = "Convert empty offices and long-empty homes before building anything new."
FOR_BUILD_UP = (
    "Most of us cannot drive everywhere. Homes near the station and the bus routes keep "
    "rents and travel costs down, and bring life back to the high street in the evening."
)
AGAINST_BUILD_UP = (
    "Tall blocks change the character of the old centre, and nobody has said who pays for "
    "the extra school places and GP surgeries these flats would need."
)
AGENDA_TITLE = "Where should new homes go? Open discussion"
AGENDA_MINUTES = 40


class DemoFailed(RuntimeError):
    """The demo could not be set up; the message says which step the core refused."""


@dataclass(frozen=True)
class DemoLinks:
    """One invite link for each kind of person, to open the demo from each side."""

    juror: IssuedLink
    facilitator: IssuedLink
    lead: IssuedLink
    observer: IssuedLink


async def ensure_demo(organiser: Organiser) -> DemoLinks:
    """Create whatever of the demo assembly is missing, then return a link for each role."""
    outcome = await organiser.create_assembly(DEMO_ID, DEMO_TITLE, public=True, pseudonymous=False)
    if not outcome.ok and outcome.error != "assembly_exists":
        raise DemoFailed(f"creating the assembly: {outcome.error} {outcome.detail}".strip())
    runtime = await organiser.hub.get(DEMO_ID)
    if runtime is None:
        raise DemoFailed(f"the assembly {DEMO_ID!r} is not in the store")
    present = await runtime.read(lambda state: set(state.participants))
    missing = [person for person in PEOPLE if person.id not in present]
    if missing:
        result = await organiser.add_people(DEMO_ID, missing)
        if result.refused:
            who, code, detail = result.refused[0]
            raise DemoFailed(f"adding {who}: {code} {detail}".strip())
    if not await runtime.read(_plenary_started):
        await _open_plenary(runtime)
    return await _links(organiser)


def _plenary_started(state: Assembly) -> bool:
    return bool(state.rooms[PLENARY_ROOM].nodes)


async def _open_plenary(runtime: AssemblyRuntime) -> None:
    """The lead poses the question; jurors answer with two positions, an argument for one and
    an argument against it; the lead puts the question on the agenda."""
    facilitator, margaret, kwame, sophie, george = (
        FACILITATORS[0].id,
        JURORS[0].id,
        JURORS[1].id,
        JURORS[2].id,
        JURORS[5].id,
    )
    await _run(runtime, LEAD.id, PoseQuestion(room=PLENARY_ROOM, text=QUESTION))
    question = await _node(runtime, "question", QUESTION)
    await _run(runtime, kwame, PostPosition(room=PLENARY_ROOM, question_id=question, text=BUILD_UP))
    await _run(runtime, margaret, PostPosition(room=PLENARY_ROOM, question_id=question, text=REUSE))
    build_up = await _node(runtime, "position", BUILD_UP)
    await _run(
        runtime,
        sophie,
        PostArgument(room=PLENARY_ROOM, position_id=build_up, stance="for", text=FOR_BUILD_UP),
    )
    await _run(
        runtime,
        george,
        PostArgument(
            room=PLENARY_ROOM, position_id=build_up, stance="against", text=AGAINST_BUILD_UP
        ),
    )
    await _run(
        runtime,
        facilitator,
        AddAgendaItem(
            room=PLENARY_ROOM,
            title=AGENDA_TITLE,
            duration_ms=AGENDA_MINUTES * 60_000,
            question_id=question,
        ),
    )


async def _run(runtime: AssemblyRuntime, actor: str, command: Command) -> None:
    outcome = await runtime.submit(command, actor)
    if not outcome.ok:
        raise DemoFailed(f"{command.name} by {actor}: {outcome.error} {outcome.detail}".strip())


async def _node(runtime: AssemblyRuntime, kind: str, text: str) -> str:
    # Found by its text rather than guessed from a seq: how the core names nodes is its own.
    def find(state: Assembly) -> str | None:
        nodes = state.rooms[PLENARY_ROOM].nodes.values()
        return next((n.id for n in nodes if n.kind == kind and n.text == text), None)

    node_id = await runtime.read(find)
    if node_id is None:
        raise DemoFailed(f"the {kind} just posted is not in the plenary")
    return node_id


async def _links(organiser: Organiser) -> DemoLinks:
    """A live link for the first person of each role, issuing a new one where the organiser
    revoked it or it expired."""
    live = {link.participant: link for link in await organiser.links(DEMO_ID)}

    async def link_for(person: Person) -> IssuedLink:
        existing = live.get(person.id)
        if existing is not None:
            return existing
        invites = organiser.invites
        invite, token = await invites.issue(DEMO_ID, person.id, person.role, now=datetime.now(UTC))
        return IssuedLink(
            invite.id,
            person.id,
            person.name,
            person.role.value,
            invites.link(token),
            invite.expires_at,
        )

    return DemoLinks(
        juror=await link_for(JURORS[0]),
        facilitator=await link_for(FACILITATORS[0]),
        lead=await link_for(LEAD),
        observer=await link_for(OBSERVER),
    )
