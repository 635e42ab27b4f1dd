"""What a soak measures as it runs (commands and their acks, kills, memory samples, CPU) and how
it prints them with the end's checks."""

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.live import (
    ServerProcess,
    latency_header,
    latency_row,
    machine_cpu_seconds,
    percentile,
)
from bench.room_script import COMMAND_GROUPS, GROUPS
from bench.soak_check import DETAILS_SHOWN, Verdict
from bench.soak_client import SoakClient, Tally, Unanswered

# A command whose sender is still not connected after this (its process killed, and no other
# taking it back) is counted unanswered, unsent.
READY_SECONDS = 60.0


@dataclass
class Workload:
    """Every command the rooms sent and what became of it."""

    sent: int = 0
    acked: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    # Acked commands whose event reached no client within the timeout.
    eventless: int = 0
    ack_seconds: dict[str, list[float]] = field(default_factory=dict)

    async def send(self, client: SoakClient, command: str, fields: dict[str, Any]) -> int | None:
        """Send a command from `client` (once it is connected); its event's seq, or None."""
        self.sent += 1
        if not await client.until_ready(READY_SECONDS):
            self.unanswered[f"not connected within {READY_SECONDS:g} s"] += 1
            return None
        started = time.perf_counter()
        try:
            ack = await client.call(command, fields)
        except Unanswered as problem:
            self.unanswered[str(problem)] += 1
            return None
        self.ack_seconds.setdefault(command, []).append(time.perf_counter() - started)
        if not isinstance(ack, dict) or not ack.get("ok"):
            error = ack.get("error") if isinstance(ack, dict) else repr(ack)
            self.refused[f"{command}: {error}"] += 1
            return None
        self.acked += 1
        return int(ack["seq"])


@dataclass(frozen=True)
class Kill:
    at_seconds: float
    process: str
    pid_killed: int
    rss_kib: int
    clients_on_it: int
    pid_started: int
    restart_seconds: float

    def __str__(self) -> str:
        return (
            f"  {self.at_seconds:6.0f} s  killed {self.process} (pid {self.pid_killed}, "
            f"{self.rss_kib / 1024:,.0f} MiB, {self.clients_on_it} clients on it); restarted "
            f"as pid {self.pid_started} in {self.restart_seconds:.1f} s"
        )


@dataclass(frozen=True)
class Sample:
    at_seconds: float
    process: str
    start: int
    started_at_seconds: float
    rss_kib: int
    # Events committed so far (as far as the lead, who follows every stream, has applied).
    events: int
    clients: int


@dataclass
class Timeline:
    """The soak's clock: memory samples and kills, in order, from the workload's start."""

    began: float
    kills: list[Kill] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    # Process name -> when its current start began, in seconds from the workload's start.
    started_at: dict[str, float] = field(default_factory=dict)

    def now(self) -> float:
        return time.perf_counter() - self.began

    def sample(self, servers: Sequence[ServerProcess], clients: Sequence[SoakClient]) -> None:
        """The resident memory of each live process; `clients[0]` is the lead."""
        events = sum(clients[0].last.values())
        for server in servers:
            on_it = sum(1 for c in clients if c.server is server and c.ready.is_set())
            if server.alive():
                with contextlib.suppress(OSError):
                    self.samples.append(
                        Sample(
                            self.now(),
                            server.name,
                            server.starts,
                            self.started_at.get(server.name, 0.0),
                            server.rss_kib(),
                            events,
                            on_it,
                        )
                    )


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far by the servers (every start of each), by this process (the
    clients) and by the whole machine."""

    servers: float
    generator: float
    machine: float

    @staticmethod
    def now(servers: Sequence[ServerProcess]) -> "Usage":
        used = 0.0
        for server in servers:
            used += server.cpu_of_earlier_starts
            with contextlib.suppress(OSError, AssertionError):
                used += server.cpu_seconds()
        return Usage(used, time.process_time(), machine_cpu_seconds())

    def since(self, earlier: "Usage") -> "Usage":
        return Usage(
            self.servers - earlier.servers,
            self.generator - earlier.generator,
            self.machine - earlier.machine,
        )


# --- Printing ---------------------------------------------------------------------------------


def print_workload(workload: Workload, seconds: float, cut: int, floors: Counter[str]) -> None:
    refused = sum(workload.refused.values())
    unanswered = sum(workload.unanswered.values())
    print(
        f"commands: {workload.sent:,} sent in {seconds:.0f} s ({workload.sent / seconds:.1f}/s), "
        f"{workload.acked:,} acked, {refused:,} refused, {unanswered:,} unanswered"
        + (f"; {cut} rooms cut at the end" if cut else "")
    )
    for reason, count in workload.refused.most_common(DETAILS_SHOWN):
        print(f"  refused    {reason} x {count}")
    for reason, count in workload.unanswered.most_common():
        print(f"  unanswered ({reason}) x {count}")
    if workload.eventless:
        print(f"  acked, but no client received the event in time: {workload.eventless}")
    print(f"  at the end, the chairs' revoke_floor: {dict(floors)}")
    print(latency_header("ack latency (ms), from send to ack at the sender:"))
    grouped: dict[str, list[float]] = {group: [] for group in GROUPS}
    for command, values in workload.ack_seconds.items():
        grouped[COMMAND_GROUPS[command]].extend(values)
    for group in GROUPS:
        print(latency_row(group, grouped[group]))
    print(latency_row("all", [s for values in grouped.values() for s in values]))


def print_delivery(tally: Tally, committed: int, clients: int) -> None:
    print(
        f"events: {committed:,} in the log; delivered live to the {clients} clients "
        f"{tally.live_events:,} times, and {tally.sync_events:,} in sync replies"
    )
    print(
        f"  duplicates: {len(tally.duplicates)}; gaps: {len(tally.gaps)}; "
        f"out of order but filled within the gap delay: {tally.out_of_order}; "
        f"already held when received (snapshot or sync reply, dropped as the protocol says): "
        f"{tally.overlaps:,}"
    )
    for line in [*tally.duplicates[:DETAILS_SHOWN], *map(str, tally.gaps[:DETAILS_SHOWN])]:
        print(f"    {line}")
    back = sorted(tally.reconnect_seconds)
    shown = (
        f" (from the drop to synced again: p50 {percentile(back, 0.5):.1f} s, p99 "
        f"{percentile(back, 0.99):.1f} s, max {back[-1]:.1f} s)"
        if back
        else ""
    )
    print(
        f"reconnects: {tally.reconnects:,}{shown}; streams resumed with the events missed: "
        f"{tally.resumed_streams:,}, with a fresh snapshot: {tally.snapshot_streams:,}; "
        f"clients lost: {len(tally.lost)}"
    )
    for line in tally.lost[:DETAILS_SHOWN]:
        print(f"    {line}")


def memory_growth(
    timeline: Timeline, warm_up_seconds: float
) -> list[tuple[str, int, Sample, Sample]]:
    """For each start of each process with two samples after its warm-up: first and last."""
    windows: dict[tuple[str, int], list[Sample]] = {}
    for sample in timeline.samples:
        if sample.at_seconds - sample.started_at_seconds >= warm_up_seconds:
            windows.setdefault((sample.process, sample.start), []).append(sample)
    return [
        (process, start, samples[0], samples[-1])
        for (process, start), samples in sorted(windows.items())
        if len(samples) >= 2
    ]


def print_memory(timeline: Timeline, warm_up_seconds: float, max_growth_mib: float) -> bool:
    """The samples, and each start's growth after warm-up; whether it stayed within bounds."""
    print(
        "server memory (VmRSS, MiB) at every sample, after the n-th start (#n) of each process, "
        "and its clients:"
    )
    names = sorted({s.process for s in timeline.samples})
    by_time: dict[float, dict[str, Sample]] = {}
    for sample in timeline.samples:
        by_time.setdefault(round(sample.at_seconds), {})[sample.process] = sample
    print(f"  {'s':>6}{'events':>9}" + "".join(f"{name:>20}" for name in names))
    for at, row in sorted(by_time.items()):
        events = next(iter(row.values())).events
        cells = "".join(
            f"{f'#{row[n].start} {row[n].rss_kib / 1024:,.0f} ({row[n].clients})':>20}"
            if n in row
            else f"{'-':>20}"
            for n in names
        )
        print(f"  {at:>6}{events:>9,}{cells}")
    flat = True
    growths = memory_growth(timeline, warm_up_seconds)
    print(
        f"  growth after a {warm_up_seconds:g} s warm-up, first to last sample of each start "
        f"(allowed: {max_growth_mib:g} MiB):"
    )
    for process, start, first, last in growths:
        grown = (last.rss_kib - first.rss_kib) / 1024
        events = last.events - first.events
        per_event = (last.rss_kib - first.rss_kib) / events if events else 0.0
        over = grown > max_growth_mib
        flat = flat and not over
        print(
            f"    {process} #{start}: {first.rss_kib / 1024:,.0f} -> {last.rss_kib / 1024:,.0f} "
            f"MiB over {last.at_seconds - first.at_seconds:.0f} s = {grown:+.1f} MiB "
            f"({events:,} events committed meanwhile, {per_event:+.2f} KiB an event)"
            + ("  <-- TOO MUCH" if over else "")
        )
    if not growths:
        print("    (no start lived long enough after its warm-up for two samples)")
    return flat


def print_usage(servers: Sequence[ServerProcess], usage: Usage, seconds: float) -> None:
    others = max(0.0, usage.machine - usage.servers - usage.generator)
    print(
        f"CPU over the workload, in cores busy: the {len(servers)} servers "
        f"{usage.servers / seconds:.2f}, the clients {usage.generator / seconds:.2f}, the rest "
        f"of the machine {others / seconds:.2f} (PostgreSQL, Redis, other programs), of "
        f"{os.cpu_count()}"
    )


def print_server_logs(servers: Sequence[ServerProcess]) -> None:
    """What the processes logged, by level, and their most frequent messages above info."""
    levels: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    for server in servers:
        for path in server.log_paths():
            with contextlib.suppress(OSError):
                for line in path.read_text(errors="replace").splitlines():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        levels["not JSON"] += 1
                        messages[f"{server.name}: {line[:120]}"] += 1
                        continue
                    level = entry.get("level", "?")
                    levels[level] += 1
                    if level not in ("debug", "info"):
                        messages[f"{server.name} {level}: {entry.get('message', '')[:120]}"] += 1
    print(f"server logs, lines by level: {dict(levels.most_common())}")
    for message, count in messages.most_common(DETAILS_SHOWN):
        print(f"    {count:>6} x {message}")


def print_checks(verdict: Verdict, log_problems: list[str]) -> None:
    print("checks at the end:")
    for problem in log_problems:
        print(f"  log: {problem}")
    by_check = Counter(m.check for m in verdict.mismatches)
    for check, compared in sorted(verdict.compared.items()):
        wrong = {(m.who, m.stream) for m in verdict.mismatches if m.check == check}
        print(
            f"  {check}: {compared:,} stream views compared, {len(wrong):,} differ "
            f"({by_check[check]:,} differences)"
        )
    for problem in verdict.problems[:DETAILS_SHOWN]:
        print(f"  {problem}")
    streams = Counter(m.stream for m in verdict.mismatches)
    if streams:
        print(f"  streams with differences: {dict(streams.most_common(DETAILS_SHOWN))}")
    for mismatch in verdict.mismatches[:DETAILS_SHOWN]:
        print(f"    {mismatch}")
