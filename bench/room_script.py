"""The script of a lively breakout room, as the live benchmarks play it: hands, turns with
statements, a question with a position, arguments and endorsements, a poll everyone votes in.

How a command reaches the server (and what happens when it does not) is the subclass's.
"""

import abc
import asyncio
import random
from typing import Any, Generic, TypeVar

# Events whose id (a post's node, a poll) later steps of a room's script refer to.
ID_FIELDS = {
    "question_posed": "node_id",
    "position_posted": "node_id",
    "argument_posted": "node_id",
    "poll_opened": "poll_id",
}
# Which figures each command's ack latency is reported under.
COMMAND_GROUPS = {
    "raise_hand": "floor",
    "lower_hand": "floor",
    "grant_floor": "floor",
    "speak": "floor",
    "yield_floor": "floor",
    "pose_question": "posts",
    "post_position": "posts",
    "post_argument": "posts",
    "endorse": "posts",
    "open_poll": "polls",
    "vote": "polls",
    "close_poll": "polls",
}
GROUPS = ("floor", "posts", "polls")
STATEMENTS = (
    "I think we should look at the costs first, and at who pays them in the end.",
    "Rents have doubled in ten years here; wages have not.",
    "Briefly: the evidence we heard this morning points the other way.",
    "I agree with the last speaker, but only if it is enforced.",
)

Person = TypeVar("Person")


class CreatedIds:
    """The id each post or poll got, from its event, as soon as any client received it."""

    def __init__(self) -> None:
        # (room, seq) -> the id of the post or poll that event created.
        self.ids: dict[tuple[str, int], str] = {}
        self._waiting: dict[tuple[str, int], list[asyncio.Future[str]]] = {}

    def arrived(self, payload: dict[str, Any]) -> None:
        id_field = ID_FIELDS.get(payload["type"])
        key = (payload["room"], payload["seq"])
        if id_field is None or key in self.ids:
            return
        self.ids[key] = payload[id_field]
        for waiter in self._waiting.pop(key, []):
            if not waiter.done():
                waiter.set_result(payload[id_field])

    async def wait(self, room: str, seq: int, timeout: float) -> str | None:
        """The id created by event `seq` of `room`; None if no client received it in time."""
        key = (room, seq)
        if key in self.ids:
            return self.ids[key]
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return None


class RoomScript(abc.ABC, Generic[Person]):
    """One room's cycles, one step after another, as its people would take them. A cycle with
    n jurors is 24 + n commands."""

    def __init__(self, room_id: str, chair: Person, jurors: list[Person], pace_ms: int) -> None:
        self.room_id = room_id
        self.chair = chair
        self.jurors = jurors
        self.pace = pace_ms / 1000
        # Paced rooms drift apart, as real ones do, instead of voting all at the same moment.
        self.draw = random.Random(room_id)

    @abc.abstractmethod
    async def send(self, person: Person, command: str, **fields: Any) -> int | None:
        """Send one command to this room and wait for its ack; its event's seq, or None."""

    @abc.abstractmethod
    async def created(self, person: Person, command: str, **fields: Any) -> str | None:
        """Send a command that creates a post or a poll; the new id, or None."""

    def stopping(self) -> bool:
        """Whether to stop at the end of the current part of a cycle (the floor free by then)."""
        return False

    async def pause(self) -> None:
        if self.pace:
            await asyncio.sleep(self.pace * self.draw.uniform(0.5, 1.5))

    async def cycle(self, cycle: int) -> None:
        jurors, chair = self.jurors, self.chair
        a, b, c, d = (jurors[(cycle + offset) % len(jurors)] for offset in range(4))
        await self.turns(chair, a, b, c, cycle)
        if self.stopping():
            return
        await self.argue(chair, a, b, c, d, cycle)
        if self.stopping():
            return
        await self.poll(chair, cycle)

    async def turns(self, chair: Person, a: Person, b: Person, c: Person, cycle: int) -> None:
        """Three hands up; the first two get the floor in turn and speak; the third gives up."""
        for juror in (a, b, c):
            await self.send(juror, "raise_hand")
        await self.send(chair, "grant_floor")
        await self.send(a, "speak", text=STATEMENTS[cycle % len(STATEMENTS)])
        await self.send(a, "speak", text=STATEMENTS[(cycle + 1) % len(STATEMENTS)])
        await self.send(a, "yield_floor")
        await self.send(chair, "grant_floor")
        await self.send(b, "speak", text=STATEMENTS[(cycle + 2) % len(STATEMENTS)])
        await self.send(b, "yield_floor")
        await self.send(c, "lower_hand")

    async def argue(
        self, chair: Person, a: Person, b: Person, c: Person, d: Person, cycle: int
    ) -> None:
        """A question, a position on it, an argument each way, two endorsements."""
        question = await self.created(chair, "pose_question", text=f"Question {cycle}: who pays?")
        if question is None:
            return
        position = await self.created(
            b, "post_position", question_id=question, text="Landlords should carry part of it."
        )
        if position is None:
            return
        argument = await self.created(
            c, "post_argument", position_id=position, stance="for", text="It keeps families."
        )
        await self.send(
            d,
            "post_argument",
            position_id=position,
            stance="against",
            text="Rents would rise elsewhere.",
        )
        await self.send(a, "endorse", node_id=position)
        if argument is not None:
            await self.send(d, "endorse", node_id=argument)

    async def poll(self, chair: Person, cycle: int) -> None:
        """A poll, every juror of the room voting at once, then its close."""
        poll = await self.created(
            chair, "open_poll", question="Agree?", kind="single", options=["Yes", "No", "Unsure"]
        )
        if poll is None:
            return
        await asyncio.gather(
            *(
                self.send(juror, "vote", poll_id=poll, choices=[(cycle + n) % 3])
                for n, juror in enumerate(self.jurors)
            )
        )
        await self.send(chair, "close_poll", poll_id=poll)
