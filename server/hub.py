"""The assemblies live in this process, each started on first use from the store."""

import asyncio

from facilitation import SYSTEM_ACTOR, Assembly, Refusal, decide
from facilitation.commands import CreateAssembly
from server.ballots import ballot_key
from server.runtime import AssemblyRuntime, Broadcast, Outcome, Publish
from server.scheduler import Clock
from server.store import AssemblyExists, Store


class Hub:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        publish: Publish,
        snapshot_every_events: int,
        recent_per_stream: int,
        ballot_secret: str,
    ) -> None:
        self.store = store
        # Set when several processes share the assembly (the Redis bus).
        self.broadcast: Broadcast | None = None
        self._clock = clock
        self._publish = publish
        self._snapshot_every = snapshot_every_events
        self._recent_per_stream = recent_per_stream
        # The server's secret, from which each assembly's ballot key is derived (never stored).
        self._ballot_secret = ballot_secret
        self._runtimes: dict[str, AssemblyRuntime] = {}
        self._starting = asyncio.Lock()

    async def get(self, assembly_id: str) -> AssemblyRuntime | None:
        """The live assembly, started on first use; None when the store has no such assembly."""
        runtime = self._runtimes.get(assembly_id)
        if runtime is not None:
            return runtime
        async with self._starting:
            runtime = self._runtimes.get(assembly_id)
            if runtime is not None:
                return runtime
            if assembly_id not in await self.store.assembly_ids():
                return None
            runtime = AssemblyRuntime(
                assembly_id,
                self.store,
                clock=self._clock,
                publish=self._publish,
                snapshot_every_events=self._snapshot_every,
                recent_per_stream=self._recent_per_stream,
                broadcast=self.broadcast,
                ballot_key=ballot_key(self._ballot_secret, assembly_id),
            )
            await runtime.start()
            self._runtimes[assembly_id] = runtime
            return runtime

    def live_runtime(self, assembly_id: str) -> AssemblyRuntime | None:
        return self._runtimes.get(assembly_id)

    def live(self) -> list[AssemblyRuntime]:
        return list(self._runtimes.values())

    async def create(
        self, assembly_id: str, title: str, *, public: bool, pseudonymous: bool
    ) -> Outcome:
        """Register the assembly and record its creation as its first event."""
        command = CreateAssembly(title=title, public=public, pseudonymous=pseudonymous)
        try:
            # Check the command on an empty assembly first: a refused one registers nothing.
            decide(Assembly(), command, SYSTEM_ACTOR, self._clock())
        except Refusal as refusal:
            return Outcome(False, error=refusal.code.value, detail=refusal.detail)
        try:
            await self.store.create_assembly(assembly_id)
        except AssemblyExists:
            return Outcome(False, error="assembly_exists", detail=assembly_id)
        runtime = await self.get(assembly_id)
        assert runtime is not None
        return await runtime.submit(command, SYSTEM_ACTOR)

    async def start_all(self) -> None:
        """Start every stored assembly, so their deadlines fire after a restart."""
        for assembly_id in await self.store.assembly_ids():
            await self.get(assembly_id)

    async def stop(self) -> None:
        for runtime in list(self._runtimes.values()):
            await runtime.stop()
        self._runtimes.clear()
