"""The assembly itself: creating it once and building its roster."""

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode, Role
from facilitation.commands import AddParticipant, CreateAssembly
from facilitation.events import ParticipantAdded
from facilitation.limits import MAX_ATTRIBUTES, MAX_LABEL_CHARS
from tests.core.builders import World, assembly, only


def add(
    participant: str,
    role: Role = Role.JUROR,
    *,
    name: str = "Ada",
    attributes: dict[str, str] | None = None,
) -> AddParticipant:
    return AddParticipant(
        participant=participant, display_name=name, role=role, attributes=attributes
    )


def test_a_created_assembly_has_a_plenary_room_and_its_title() -> None:
    world = World()

    world.run(SYSTEM_ACTOR, CreateAssembly(title="  Bridge jury  ", pseudonymous=True))

    assert world.state.created
    assert (world.state.title, world.state.public, world.state.pseudonymous) == (
        "Bridge jury",
        True,
        True,
    )
    assert world.state.rooms[PLENARY_ROOM].name == "Plenary"


def test_nothing_happens_before_the_assembly_exists() -> None:
    world = World()

    assert world.refuse(SYSTEM_ACTOR, add("j1")) == ErrorCode.NO_ASSEMBLY


def test_an_assembly_is_created_once() -> None:
    world = assembly()

    assert world.refuse(SYSTEM_ACTOR, CreateAssembly(title="Again")) == ErrorCode.ASSEMBLY_EXISTS


def test_an_assembly_needs_a_short_title() -> None:
    world = World()

    assert world.refuse(SYSTEM_ACTOR, CreateAssembly(title=" ")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse(SYSTEM_ACTOR, CreateAssembly(title="x" * (MAX_LABEL_CHARS + 1)))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_jurors_and_facilitators_start_in_the_plenary_with_a_pseudonym() -> None:
    world = assembly(jurors=2, facilitators=1)

    events = world.run("lead", add("j3", name=" Grace ", attributes={"district": "north"}))

    added = only(events, ParticipantAdded)
    assert (added.display_name, added.pseudonym, added.attributes) == (
        "Grace",
        "Juror 3",
        {"district": "north"},
    )
    plenary = world.state.rooms[PLENARY_ROOM]
    assert plenary.jurors == {"j1", "j2", "j3"}
    assert plenary.facilitators == {"f1"}
    assert world.state.participants["j3"].room == PLENARY_ROOM
    assert world.state.participants["obs"].room is None
    assert world.state.participants["lead"].room is None


def test_only_the_organiser_appoints_a_lead() -> None:
    world = assembly()

    assert world.refuse("lead", add("lead2", Role.LEAD)) == ErrorCode.FORBIDDEN
    world.run(SYSTEM_ACTOR, add("lead2", Role.LEAD))


def test_a_participant_id_is_a_short_plain_name() -> None:
    world = assembly()

    assert world.refuse("lead", add("")) == ErrorCode.INVALID_PARTICIPANT
    assert world.refuse("lead", add("ada lovelace")) == ErrorCode.INVALID_PARTICIPANT
    assert world.refuse("lead", add("x" * 65)) == ErrorCode.INVALID_PARTICIPANT
    assert world.refuse("lead", add(SYSTEM_ACTOR)) == ErrorCode.INVALID_PARTICIPANT
    assert world.refuse(SYSTEM_ACTOR, add("bot", Role.SYSTEM)) == ErrorCode.INVALID_PARTICIPANT


def test_attributes_are_a_few_named_labels() -> None:
    world = assembly()
    too_many = {f"a{n}": "x" for n in range(MAX_ATTRIBUTES + 1)}

    assert world.refuse("lead", add("j9", attributes=too_many)) == ErrorCode.INVALID_PARTICIPANT
    assert world.refuse("lead", add("j9", attributes={" ": "x"})) == ErrorCode.INVALID_PARTICIPANT
    assert (
        world.refuse("lead", add("j9", attributes={"age": "x" * (MAX_LABEL_CHARS + 1)}))
        == ErrorCode.INVALID_PARTICIPANT
    )


def test_a_participant_is_added_once() -> None:
    world = assembly()

    assert world.refuse("lead", add("j1")) == ErrorCode.PARTICIPANT_EXISTS


def test_a_participant_needs_a_short_display_name() -> None:
    world = assembly()

    assert world.refuse("lead", add("j9", name="  ")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("lead", add("j9", name="x" * (MAX_LABEL_CHARS + 1))) == ErrorCode.TEXT_TOO_LONG
    )
