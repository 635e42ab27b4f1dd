"""palabre's own Janus: a configuration written under the data dir, and the process run on
loopback from it, started and stopped with palabre.

Only the HTTP transport is loaded, bound to 127.0.0.1 with an API secret and the admin API
off. HTTP rather than WebSocket: each request stands alone with its own timeout and its own
failure, events come by long poll (one request per session at a time), and the client needs
nothing beyond httpx; on loopback a request costs about a millisecond, far below the 200 ms a
mute must take effect in.
"""

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx

from server.settings import Settings

# What palabre uses of Janus; every other plugin, transport and logger stays unloaded.
PLUGINS = ("libjanus_audiobridge.so", "libjanus_streaming.so")
TRANSPORTS = ("libjanus_http.so",)
API_PATH = "/janus"
LOOPBACK = "127.0.0.1"
# Janus makes a DTLS certificate at each start (about a second here): the bound is generous.
START_SECONDS = 20.0
# Janus closes its sessions and plugins on SIGTERM in well under a second; then SIGKILL.
STOP_SECONDS = 5.0
POLL_SECONDS = 0.05
# A readiness probe on loopback answers in milliseconds once the transport is up.
PROBE_TIMEOUT_SECONDS = 1.0
# Janus frees a session nobody kept alive after this long (the client sends keepalives).
SESSION_TIMEOUT_SECONDS = 60
LOG_TAIL_BYTES = 2_000
# prctl(2): the signal the kernel sends a child when the thread that started it dies.
PR_SET_PDEATHSIG = 1


class JanusNotInstalled(Exception):
    """No `janus` binary, or no folder with the plugins palabre needs next to it."""


class JanusStartFailed(Exception):
    """Janus exited, or did not answer on its port, while starting."""


class JanusFolderBusy(Exception):
    """Another palabre process runs its own Janus from the same data dir."""


@dataclass(frozen=True)
class JanusOptions:
    """What palabre's own Janus is started with."""

    folder: Path
    api_secret: str
    admin_key: str
    binary: Path
    # 0: a free port, chosen at each start.
    port: int = 0
    ice_enforce_list: str | None = None
    nat_1_1_mapping: str | None = None
    rtp_port_range: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, binary: Path) -> "JanusOptions":
        return cls(
            folder=settings.data_dir / "janus",
            api_secret=settings.janus_secret,
            admin_key=settings.janus_plugin_key,
            binary=binary,
            port=settings.janus_port,
            ice_enforce_list=settings.janus_ice_enforce_list,
            nat_1_1_mapping=settings.janus_nat_1_1_mapping,
            rtp_port_range=settings.janus_rtp_port_range,
        )


def janus_binary() -> Path | None:
    """The installed `janus` program, if any."""
    found = shutil.which("janus")
    return Path(found) if found else None


def library_folder(binary: Path) -> Path:
    """The folder of Janus's plugins and transports: `<prefix>/lib/<arch>/janus` on Debian,
    `<prefix>/lib/janus` when built from source."""
    prefix = binary.resolve().parent.parent
    candidates = [prefix / "lib" / "janus", *sorted(prefix.glob("lib*/*/janus"))]
    for folder in candidates:
        plugins = folder / "plugins"
        transports = folder / "transports"
        if all((plugins / name).exists() for name in PLUGINS) and all(
            (transports / name).exists() for name in TRANSPORTS
        ):
            return folder
    raise JanusNotInstalled(
        f"no Janus plugins folder with {', '.join(PLUGINS + TRANSPORTS)} under {prefix}"
    )


JcfgValue = str | int | bool | list[str]
JcfgSections = dict[str, dict[str, JcfgValue]]


def render_jcfg(sections: JcfgSections) -> str:
    """Janus's configuration syntax (libconfig): `name: { key = value ... }` per section."""

    def value(item: JcfgValue) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int):
            return str(item)
        if isinstance(item, list):
            return "[" + ", ".join(json.dumps(part, ensure_ascii=False) for part in item) + "]"
        return json.dumps(item, ensure_ascii=False)

    lines = []
    for name, entries in sections.items():
        lines.append(f"{name}: {{")
        lines.extend(f"\t{key} = {value(item)}" for key, item in entries.items())
        lines.append("}")
    return "\n".join(lines) + "\n"


def unwanted(folder: Path, wanted: tuple[str, ...]) -> str:
    """The `disable` list of a Janus section: every module in `folder` but the wanted ones."""
    return ",".join(sorted(path.name for path in folder.glob("*.so") if path.name not in wanted))


def configuration(
    options: JanusOptions, library: Path, port: int, server_name: str
) -> dict[str, str]:
    """Each file of the configuration folder, by name."""
    folder = options.folder.resolve()
    nat: dict[str, JcfgValue] = {"nice_debug": False, "ice_ignore_list": "vmnet"}
    if options.ice_enforce_list:
        nat["ice_enforce_list"] = options.ice_enforce_list
    if options.nat_1_1_mapping:
        nat["nat_1_1_mapping"] = options.nat_1_1_mapping
    media: dict[str, JcfgValue] = {}
    if options.rtp_port_range:
        media["rtp_port_range"] = options.rtp_port_range
    core: JcfgSections = {
        "general": {
            "configs_folder": str(folder),
            "plugins_folder": str(library / "plugins"),
            "transports_folder": str(library / "transports"),
            "events_folder": str(library / "events"),
            "loggers_folder": str(library / "loggers"),
            "debug_level": 4,
            "debug_colors": False,
            "server_name": server_name,
            "api_secret": options.api_secret,
            "session_timeout": SESSION_TIMEOUT_SECONDS,
            "hide_dependencies": True,
            # Where plugins may never write (recordings are off anyway).
            "protected_folders": ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"],
        },
        "certificates": {},
        "media": media,
        "nat": nat,
        "plugins": {"disable": unwanted(library / "plugins", PLUGINS)},
        "transports": {"disable": unwanted(library / "transports", TRANSPORTS)},
        "loggers": {"disable": unwanted(library / "loggers", ())},
        "events": {"broadcast": False},
    }
    http: JcfgSections = {
        "general": {
            "json": "compact",
            "base_path": API_PATH,
            "http": True,
            "ip": LOOPBACK,
            "port": port,
            "https": False,
            # Twice closed: bound to loopback, and requests from elsewhere refused.
            "acl": "127.",
        },
        "admin": {"admin_http": False, "admin_https": False},
    }
    # String ids: rooms, participants and mountpoints are named by palabre's own ids. Plain
    # RTP participants (tools, benchmarks) stay on loopback.
    audiobridge: JcfgSections = {
        "general": {
            "admin_key": options.admin_key,
            "lock_rtp_forward": True,
            "lock_play_file": True,
            "string_ids": True,
            "local_ip": LOOPBACK,
            "events": False,
        }
    }
    streaming: JcfgSections = {
        "general": {"admin_key": options.admin_key, "string_ids": True, "events": False}
    }
    return {
        "janus.jcfg": render_jcfg(core),
        "janus.transport.http.jcfg": render_jcfg(http),
        "janus.plugin.audiobridge.jcfg": render_jcfg(audiobridge),
        "janus.plugin.streaming.jcfg": render_jcfg(streaming),
    }


def write_configuration(
    options: JanusOptions, library: Path, port: int, server_name: str
) -> list[str]:
    """Write the configuration folder; the command that runs Janus from it."""
    for name, text in configuration(options, library, port, server_name).items():
        _write_private(options.folder / name, text)
    folder = options.folder.resolve()
    return [str(options.binary), "-C", str(folder / "janus.jcfg"), "-F", str(folder)]


def exec_janus(options: JanusOptions) -> NoReturn:
    """Become Janus, run from palabre's configuration on `options.port` of loopback: the
    `palabre janus` command, a process of its own that several palabre processes share
    (`PALABRE_JANUS_URLS`). The folder's lock stays held by Janus itself."""
    library = library_folder(options.binary)
    lock = _locked_folder(options.folder)
    os.set_inheritable(lock, True)
    command = write_configuration(options, library, options.port, "palabre-shared")
    os.execv(command[0], command)


def free_loopback_port() -> int:
    """A TCP port free on loopback now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def _write_private(path: Path, text: str) -> None:
    """Replace `path` at once, readable by this user only: the files hold the secrets."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    partial.replace(path)


def _exit_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook that has the kernel stop Janus when palabre dies, even by SIGKILL
    (Linux only: elsewhere palabre's own stop is all there is). The function is looked up
    before the fork, so the child only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


class OwnJanus:
    """palabre's own Janus: `url` is its API on loopback, on a port kept across restarts."""

    def __init__(self, options: JanusOptions, library: Path, port: int, lock: int) -> None:
        self.options = options
        self.port = port
        self.url = f"http://{LOOPBACK}:{port}{API_PATH}"
        self.log_path = options.folder / "janus.log"
        self._library = library
        self._lock: int | None = lock
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def launch(self) -> None:
        """Write the configuration and start Janus from it; return once its API answers as
        the instance just started (its server name carries a fresh nonce)."""
        if self._lock is None:
            raise JanusStartFailed("this Janus was stopped for good")
        server_name = f"palabre-{secrets.token_hex(6)}"
        command = write_configuration(self.options, self._library, self.port, server_name)
        # Appended to, so the log of a Janus that crashed survives its restart.
        descriptor = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for palabre reaches Janus through its stop.
                start_new_session=True,
                preexec_fn=_exit_with_parent(),
            )
        try:
            await self._answering(server_name)
        except BaseException:
            await self._end_process()
            raise

    async def restart(self) -> None:
        """Stop Janus if it still runs, and start it again on the same port."""
        await self._end_process()
        await self.launch()

    async def stop(self) -> None:
        """Stop Janus for good: SIGTERM, then SIGKILL when it has not exited within
        STOP_SECONDS."""
        try:
            await self._end_process()
        finally:
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None

    async def _end_process(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        if not await _exited(process, STOP_SECONDS):
            process.kill()
            await _exited(process, STOP_SECONDS)

    async def _answering(self, server_name: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS) as http:
            while True:
                if self._process is None or self._process.poll() is not None:
                    status = None if self._process is None else self._process.returncode
                    raise JanusStartFailed(
                        f"Janus exited with status {status} while starting; "
                        f"the end of {self.log_path}:\n{_tail(self.log_path)}"
                    )
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    info = (await http.get(f"{self.url}/info")).json()
                    if isinstance(info, dict) and info.get("server-name") == server_name:
                        return
                    raise JanusStartFailed(
                        f"another server answers on {self.url} (port {self.port} was taken)"
                    )
                if time.monotonic() > deadline:
                    raise JanusStartFailed(
                        f"Janus did not answer on {self.url} within {START_SECONDS:.0f} s; "
                        f"the end of {self.log_path}:\n{_tail(self.log_path)}"
                    )
                await asyncio.sleep(POLL_SECONDS)


async def _exited(process: "subprocess.Popen[bytes]", seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process.poll() is None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


def _locked_folder(folder: Path) -> int:
    """The folder's lock, held while its Janus runs (the kernel drops it with the process)."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        raise JanusFolderBusy(
            f"another palabre process runs Janus from {folder}: give each process its own "
            "PALABRE_DATA_DIR, or run one Janus and set PALABRE_JANUS_URLS"
        ) from None
    return lock


async def start_janus(options: JanusOptions) -> OwnJanus:
    """palabre's own Janus, started and answering."""
    library = library_folder(options.binary)
    lock = _locked_folder(options.folder)
    janus = OwnJanus(options, library, options.port or free_loopback_port(), lock)
    try:
        await janus.launch()
    except BaseException:
        await janus.stop()
        raise
    return janus


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        data = path.read_bytes()[-LOG_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")
    return "(no log)"


@contextlib.asynccontextmanager
async def own_janus(options: JanusOptions) -> AsyncIterator[OwnJanus]:
    """Janus running for the duration of the block, and stopped after it whatever happens."""
    janus = await start_janus(options)
    try:
        yield janus
    finally:
        await janus.stop()
