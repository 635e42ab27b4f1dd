"""Operational figures in the Prometheus format, one registry per app so tests stay apart."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.connections = Gauge(
            "palabre_connections", "Open socket connections, by role.", ["role"],
            registry=self.registry,
        )  # fmt: skip
        self.commands = Counter(
            "palabre_commands", "Commands received, by type.", ["command"], registry=self.registry
        )
        self.refusals = Counter(
            "palabre_refusals", "Commands refused, by error code.", ["code"],
            registry=self.registry,
        )  # fmt: skip
        # From the commit of a batch to the last emit of its events on this process.
        self.fanout_seconds = Histogram(
            "palabre_fanout_seconds",
            "Time from commit to the events being handed to every socket.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )
        # Encoded once per audience of each event, then the same text to every socket of it.
        self.fanout_encoded = Counter(
            "palabre_fanout_encoded", "Event texts encoded for sockets: one per audience.",
            registry=self.registry,
        )  # fmt: skip
        self.fanout_sent = Counter(
            "palabre_fanout_sent", "Events queued on sockets: one per recipient.",
            registry=self.registry,
        )  # fmt: skip
        # Garbage collections (server/heap.py): a full one stops everything while it runs.
        self.gc_pauses = Histogram(
            "palabre_gc_pause_seconds", "Garbage collection pauses, by generation.",
            ["generation"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
            registry=self.registry,
        )  # fmt: skip
        self.sse_streams = Gauge(
            "palabre_sse_streams", "Open Server-Sent Events streams.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
