"""A state restored from its snapshot goes on exactly as the state that was never saved."""

import json

from facilitation import PLENARY_ROOM, Assembly, Command, execute, replay
from facilitation.codec import decode_state, encode_state
from facilitation.commands import ExtendTurn, GrantFloor, LinkTurn, PoseQuestion, RaiseHand
from facilitation.events import QuestionPosed
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


def restarted(state: Assembly) -> Assembly:
    """The state as a restart finds it: saved as JSON text and read back."""
    return decode_state(json.loads(json.dumps(encode_state(state))))


def run_both(world: World, restored: Assembly, actor: str, command: Command) -> None:
    """The same command on the live state and on the restored one: they must agree."""
    assert execute(restored, command, actor, world.now_ms) == world.run(actor, command)


def test_a_turn_restored_mid_way_stays_one_turn_when_linked_and_extended() -> None:
    world = assembly()
    question = only(world.run("f1", PoseQuestion(room=P, text="Cap rents?")), QuestionPosed)
    world.run("j1", RaiseHand(room=P))
    world.run("f1", GrantFloor(room=P))
    restored = restarted(world.state)

    run_both(world, restored, "j1", LinkTurn(room=P, node_id=question.node_id))
    run_both(world, restored, "f1", ExtendTurn(room=P, by_ms=30_000))

    assert restored == world.state == replay(world.log)
    assert restarted(restored) == world.state
    floor = restored.rooms[P].floor
    assert floor is not None and floor.nodes == [question.node_id]
    # A second link is a no-op on the restored state too: it knows the turn is linked.
    assert execute(restored, LinkTurn(room=P, node_id=question.node_id), "j1", world.now_ms) == []
