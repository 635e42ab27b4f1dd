"""The assemblies live in this process, each started on first use from the store, and the news
that concerns them all: commits for the subscribers, withdrawn invites."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from facilitation import SYSTEM_ACTOR, Assembly, Refusal, decide
from facilitation.commands import CreateAssembly
from server.ballots import ballot_key
from server.runtime import (
    DEFAULT_WAIT_SECONDS,
    UNAVAILABLE,
    AssemblyRuntime,
    Commit,
    OnCommit,
    Outcome,
    Unavailable,
    state_from_log,
)
from server.scheduler import Clock
from server.store import AssemblyExists, Store

log = logging.getLogger("palabre.hub")
T = TypeVar("T")

# Told that an invite was withdrawn (and whether this process withdrew it), to show its users out.
OnRevoke = Callable[[str, bool], Awaitable[None]]


class Hub:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        snapshot_every_events: int,
        recent_per_stream: int,
        ballot_secret: str,
        schedule: bool = True,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
    ) -> None:
        self.store = store
        # Set when several processes share the assemblies (the Redis bus is on).
        self.shared = False
        self._clock = clock
        # False for a tool that only writes or reads (the CLI): it must not fire deadlines.
        self._schedule = schedule
        self._wait_seconds = wait_seconds
        self._snapshot_every = snapshot_every_events
        self._recent_per_stream = recent_per_stream
        # The server's secret, from which each assembly's ballot key is derived (never stored).
        self._ballot_secret = ballot_secret
        self._runtimes: dict[str, AssemblyRuntime] = {}
        self._starting = asyncio.Lock()
        self._on_commit: list[OnCommit] = []
        self._on_revoke: list[OnRevoke] = []

    def subscribe(self, on_commit: OnCommit) -> None:
        """Be told of every commit of every live assembly, in order, right after it."""
        self._on_commit.append(on_commit)

    def on_revoke(self, listener: OnRevoke) -> None:
        self._on_revoke.append(listener)

    def _committed(self, commit: Commit) -> None:
        for subscriber in self._on_commit:
            try:
                subscriber(commit)
            except Exception:
                # One subscriber's bug must not keep the news from the others.
                log.exception("a commit subscriber failed for assembly %s", commit.runtime.id)

    async def revoked(self, invite_id: str, *, local: bool = True) -> None:
        """An invite was withdrawn (here, or by another process): everyone using it leaves."""
        for listener in self._on_revoke:
            try:
                await listener(invite_id, local)
            except Exception:
                log.exception("a revocation listener failed for invite %s", invite_id)

    async def get(self, assembly_id: str) -> AssemblyRuntime | None:
        """The live assembly, started on first use; None when the store has no such assembly."""
        runtime = self._runtimes.get(assembly_id)
        if runtime is not None:
            return runtime
        async with self._starting:
            runtime = self._runtimes.get(assembly_id)
            if runtime is not None:
                return runtime
            try:
                return await asyncio.wait_for(self._start(assembly_id), self._wait_seconds)
            except Exception as problem:
                log.exception("could not start assembly %s", assembly_id)
                raise Unavailable(f"assembly {assembly_id} cannot be loaded now") from problem

    async def _start(self, assembly_id: str) -> AssemblyRuntime | None:
        if assembly_id not in await self.store.assembly_ids():
            return None
        runtime = AssemblyRuntime(
            assembly_id,
            self.store,
            clock=self._clock,
            on_commit=self._committed,
            ballot_key=ballot_key(self._ballot_secret, assembly_id),
            snapshot_every_events=self._snapshot_every,
            recent_per_stream=self._recent_per_stream,
            shared=self.shared,
            schedule=self._schedule,
            wait_seconds=self._wait_seconds,
        )
        await runtime.start()
        self._runtimes[assembly_id] = runtime
        return runtime

    async def look(self, assembly_id: str, look: Callable[[Assembly], T]) -> T | None:
        """`look` at the committed state of an assembly, None when there is no such assembly.

        A live assembly answers between commits; any other is read from the store without
        starting it (no writer, no deadlines), as a read-only tool must.
        """
        runtime = self._runtimes.get(assembly_id)
        if runtime is not None:
            return await runtime.read(look)
        try:
            async with asyncio.timeout(self._wait_seconds):
                if assembly_id not in await self.store.assembly_ids():
                    return None
                state, _ = await state_from_log(self.store, assembly_id)
        except Exception as problem:
            raise Unavailable(f"assembly {assembly_id} cannot be read now") from problem
        return look(state)

    def live_runtime(self, assembly_id: str) -> AssemblyRuntime | None:
        return self._runtimes.get(assembly_id)

    def live(self) -> list[AssemblyRuntime]:
        return list(self._runtimes.values())

    async def create(
        self, assembly_id: str, title: str, *, public: bool, pseudonymous: bool
    ) -> Outcome:
        """Register the assembly and its creation, its first event, in one transaction: a
        failure leaves nothing half made."""
        command = CreateAssembly(title=title, public=public, pseudonymous=pseudonymous)
        try:
            events = decide(Assembly(), command, SYSTEM_ACTOR, self._clock())
        except Refusal as refusal:
            return Outcome(False, error=refusal.code.value, detail=refusal.detail)
        try:
            await self.store.create_assembly(assembly_id, events)
        except AssemblyExists:
            return Outcome(False, error="assembly_exists", detail=assembly_id)
        except Exception:
            log.exception("could not create assembly %s", assembly_id)
            return Outcome(False, error=UNAVAILABLE, detail="nothing was created: try again")
        await self.get(assembly_id)
        return Outcome(True, seq=events[-1].seq)

    async def start_all(self) -> None:
        """Start every stored assembly, so their deadlines fire after a restart."""
        for assembly_id in await self.store.assembly_ids():
            await self.get(assembly_id)

    async def stop(self) -> None:
        for runtime in list(self._runtimes.values()):
            await runtime.stop()
        self._runtimes.clear()
