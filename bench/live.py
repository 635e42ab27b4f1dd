"""What the benchmarks of the live server share: its processes, a fresh database, the setup of an
assembly through the organiser's HTTP API, the breakout round, and the figures they print."""

import asyncio
import contextlib
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "bench-admin-token"
SECRET_KEY = "bench-secret-key"
ASSEMBLY_STREAM = "assembly"
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 10.0
# The import adds people one commit at a time: a thousand take seconds, not minutes.
IMPORT_SECONDS = 300.0
ATTRIBUTES = {
    "age": ("18-29", "30-44", "45-64", "65+"),
    "gender": ("f", "m", "x"),
    "region": ("north", "south", "east", "west", "centre"),
}

# How a server process is started, before `--host` and `--port`: uvicorn on the app factory
# (its default websocket implementation), or the `palabre serve` a deployment runs.
UVICORN = (
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "server.app:create_app",
    "--log-level",
    "warning",
)
PALABRE_SERVE = (str(Path(sys.executable).with_name("palabre")), "serve")


class SetupFailed(Exception):
    """The run cannot go on: a server did not start or died, or the setup was refused."""


# --- Figures ----------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def latency_row(label: str, seconds: Sequence[float]) -> str:
    """count, p50, p95, p99 and max in milliseconds, as one aligned line."""
    ordered = sorted(seconds)
    cells = [percentile(ordered, f) * 1000 for f in (0.50, 0.95, 0.99)]
    top = ordered[-1] * 1000 if ordered else float("nan")
    figures = "".join(f"{value:>9.1f}" for value in (*cells, top))
    return f"  {label:<12}{len(ordered):>9,}{figures}"


def latency_header(title: str) -> str:
    return f"{title}\n  {'':<12}{'count':>9}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}"


def mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB"


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used since boot, all cores (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    busy = sum(fields) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


# --- The server processes ---------------------------------------------------------------------


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A folder for one run's files, removed afterwards whatever happened."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """palabre in its own process, as in production, on a loopback port it keeps across
    restarts; each start writes its own log file in `data_dir`."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path,
        *,
        name: str = "server",
        redis_url: str | None = None,
        launch: Sequence[str] = UVICORN,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.redis_url = redis_url
        self.data_dir = data_dir
        self.launch = tuple(launch)
        # More PALABRE_* settings, the same for every start.
        self.settings = dict(settings or {})
        self.starts = 0
        self.log_path = data_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        # CPU seconds of the processes killed so far, so the figures cover every start.
        self.cpu_of_earlier_starts = 0.0

    def environment(self) -> dict[str, str]:
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PALABRE_") and key not in {"DATABASE_URL", "REDIS_URL"}
        }
        return {
            **inherited,
            "DATABASE_URL": self.database_url,
            **({"REDIS_URL": self.redis_url} if self.redis_url else {}),
            "PALABRE_DATA_DIR": str(self.data_dir),
            "PALABRE_PUBLIC_URL": self.url,
            "PALABRE_ALLOWED_ORIGINS": self.url,
            "PALABRE_ADMIN_TOKEN": ADMIN_TOKEN,
            "PALABRE_SECRET_KEY": SECRET_KEY,
            **self.settings,
        }

    async def start(self, within: float = SERVER_START_SECONDS) -> float:
        """Start the server; return the seconds until `/healthz` answered (at most `within`)."""
        started = time.perf_counter()
        self.starts += 1
        self.log_path = self.data_dir / f"{self.name}-{self.starts}.log"
        command = [*self.launch, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = started + within
        async with httpx.AsyncClient(base_url=self.url, timeout=1.0) as http:
            while time.perf_counter() < deadline:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return time.perf_counter() - started
                await asyncio.sleep(0.1)
        raise SetupFailed(
            f"{self.name} did not answer /healthz within {within:g} s\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise SetupFailed(f"{self.name} exited (status {code})\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the running process so far, all its threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the command name: state is field 3 of proc(5); utime and stime are 14 and 15.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def _status_kib(self, field: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        return 0

    def peak_rss_kib(self) -> int:
        return self._status_kib("VmHWM")

    def rss_kib(self) -> int:
        return self._status_kib("VmRSS")

    def log_paths(self) -> list[Path]:
        """The log file of every start so far, oldest first."""
        return [self.data_dir / f"{self.name}-{n}.log" for n in range(1, self.starts + 1)]

    def log_tail(self, lines: int = 10) -> str:
        """The server's last words: its log's last lines, leaving out the routine ones."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        telling = [line for line in text.splitlines() if '"level": "info"' not in line]
        return "\n".join(telling[-lines:])

    def kill(self) -> None:
        """kill -9: no shutdown, no flush; only what was committed survives."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            self.cpu_of_earlier_starts += self.cpu_seconds()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(SERVER_STOP_SECONDS)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(SERVER_STOP_SECONDS)


# --- A fresh PostgreSQL database --------------------------------------------------------------


async def on_postgres(url: str, statement: str) -> None:
    """Run a statement outside a transaction, as CREATE and DROP DATABASE must be."""
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def fresh_postgres(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A new database on the PostgreSQL server of `server_url`, dropped afterwards (whatever
    happened, Ctrl-C included); yields its URL."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    await on_postgres(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        # Shielded: a Ctrl-C that cancelled the run must not also cancel the clean-up.
        drop = on_postgres(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await asyncio.shield(drop)


# --- Setup through the organiser's API --------------------------------------------------------


def people(jurors: int, facilitators: int) -> list[dict[str, Any]]:
    """The lead, the facilitators and the jurors, with attributes drawn for the allocation."""
    draw = random.Random(7)
    roster: list[dict[str, Any]] = [{"id": "lead", "name": "Lead", "role": "lead"}]
    roster += [
        {"id": f"f{n:03d}", "name": f"Facilitator {n}", "role": "facilitator"}
        for n in range(facilitators)
    ]
    roster += [
        {
            "id": f"j{n:04d}",
            "name": f"Juror {n}",
            "role": "juror",
            "attributes": {key: draw.choice(values) for key, values in ATTRIBUTES.items()},
        }
        for n in range(jurors)
    ]
    return roster


async def organise(
    url: str, assembly_id: str, title: str, roster: list[dict[str, Any]]
) -> dict[str, str]:
    """Create a pseudonymous public assembly and import everyone: participant id -> token."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=IMPORT_SECONDS) as http:
        created = await http.post(
            "/api/assemblies", json={"id": assembly_id, "title": title, "pseudonymous": True}
        )
        if created.status_code != 201:
            raise SetupFailed(f"creating the assembly: {created.status_code} {created.text}")
        imported = await http.post(f"/api/assemblies/{assembly_id}/people", json={"people": roster})
        if imported.status_code != 201 or imported.json()["refused"]:
            raise SetupFailed(f"importing people: {imported.status_code} {imported.text[:500]}")
        return {
            link["participant"]: link["link"].rsplit("/", 1)[1] for link in imported.json()["links"]
        }


Call = Callable[[str, dict[str, Any]], Any]


async def open_and_start_round(call: Call, rooms: int, timeout: float) -> None:
    """The lead (through `call`, a socket's `call`) opens and starts a breakout round."""
    for command, fields in (("open_round", {"room_count": rooms, "seed": 1}), ("start_round", {})):
        started = time.perf_counter()
        ack = await asyncio.wait_for(call(command, fields), timeout)
        if not ack.get("ok"):
            raise SetupFailed(f"{command} refused: {ack}")
        print(f"  {command}: {(time.perf_counter() - started) * 1000:.0f} ms")


class Seated(Protocol):
    """A connected person, as the benchmarks' clients know themselves."""

    @property
    def name(self) -> str: ...

    @property
    def you(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Seated)


def seat(
    rooms: list[dict[str, Any]], lead: S, clients: Sequence[S]
) -> list[tuple[str, S, list[S]]]:
    """Each room of the round with its chair (its first facilitator, or the lead) and its
    jurors, each juror checked to sit where the plan says."""
    by_name = {client.name: client for client in clients}
    seated = []
    for plan in rooms:
        jurors = [by_name[name] for name in plan["jurors"]]
        for juror in jurors:
            if juror.you.get("room") != plan["room_id"]:
                raise SetupFailed(f"{juror.name} sits in {juror.you.get('room')}, not in {plan}")
        chair = by_name[plan["facilitators"][0]] if plan["facilitators"] else lead
        seated.append((plan["room_id"], chair, jurors))
    return seated


def round_rooms(sync_reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The rooms of the started round, with who sits in each, from a `sync` reply."""
    current = sync_reply["snapshots"][ASSEMBLY_STREAM].get("round")
    if not current or not current.get("started"):
        raise SetupFailed(f"the round did not start: {current}")
    rooms: list[dict[str, Any]] = current["rooms"]
    return rooms
