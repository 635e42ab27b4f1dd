"""nginx as the balancer in front of several palabre processes.

Two uses of the same site file (deploy/nginx/palabre.conf):

- a deployment renders it once for Debian's nginx service (`python -m deploy.nginx site
  --listen '443 ssl' --backend 10.0.0.11:8000 --backend 10.0.0.12:8000`, docs/deploy.md);
- the tests and the benchmark run nginx as a process of their own (`Balancer`): its prefix,
  pid file, logs and temporary folders in a fresh folder, listening on 127.0.0.1 only, in the
  foreground as their child, so they stop it by its pid and never touch the stock service
  (`python -m deploy.nginx run --backend 127.0.0.1:8001 ...` does the same by hand).
"""

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITE_TEMPLATE = HERE / "nginx" / "palabre.conf"
STANDALONE_TEMPLATE = HERE / "nginx" / "standalone.conf"
# Debian's package puts it in /usr/sbin, which is not on every user's PATH.
KNOWN_BINARIES = ("/usr/sbin/nginx",)
# nginx starts in milliseconds; a loaded machine may take longer, never this long.
START_SECONDS = 10.0
STOP_SECONDS = 10.0
# A process that is down is left aside for this long after one refusal, then tried again.
FAIL_TIMEOUT_SECONDS = 2


# prctl(2): the signal the kernel sends a child when the thread that started it dies.
PR_SET_PDEATHSIG = 1


class NginxFailed(Exception):
    """nginx refused its configuration, or did not start or stop in time."""


def nginx_binary() -> str | None:
    """The nginx executable, or None when nginx is not installed."""
    found = shutil.which("nginx")
    if found is not None:
        return found
    return next((path for path in KNOWN_BINARIES if os.access(path, os.X_OK)), None)


def backend_lines(backends: Sequence[str]) -> str:
    """The upstream's `server` lines, one a palabre process (`HOST:PORT`)."""
    if not backends:
        raise ValueError("at least one palabre process (HOST:PORT) is needed")
    lines = []
    for backend in backends:
        host, _, port = backend.rpartition(":")
        if not host or not port.isdigit() or any(c in backend for c in " ;{}\n"):
            raise ValueError(f"{backend!r} is not HOST:PORT")
        lines.append(f"    server {backend} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s;")
    return "\n".join(lines)


def filled(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{{" + name + "}}", value)
    if "{{" in template:
        raise ValueError(f"a placeholder is left: {template[template.index('{{') :][:40]!r}")
    return template


def site_config(
    listen: str,
    backends: Sequence[str],
    *,
    server_name: str = "_",
    access_log: str = "/var/log/nginx/palabre.access.log",
) -> str:
    """deploy/nginx/palabre.conf with its placeholders filled in."""
    return filled(
        SITE_TEMPLATE.read_text(),
        {
            "listen": listen,
            "backends": backend_lines(backends),
            "server_name": server_name,
            "access_log": access_log,
        },
    )


def standalone_config(folder: Path, site: Path, workers: int = 1) -> str:
    """deploy/nginx/standalone.conf for nginx of one's own, everything it writes in `folder`."""
    # Started by root, the master keeps root only to bind and open its files; the workers that
    # handle the traffic run as nobody. Any other user runs it all as itself.
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    return filled(
        STANDALONE_TEMPLATE.read_text(),
        {"folder": str(folder), "site": str(site), "user": user, "workers": str(workers)},
    )


def nginx_command(binary: str, folder: Path, main: Path, *extra: str) -> list[str]:
    # -e: the error log from the start, before the configuration names its own (otherwise
    # nginx first opens the system's /var/log/nginx/error.log).
    return [binary, "-p", f"{folder}/", "-c", str(main), "-e", str(folder / "error.log"), *extra]


def check_config(binary: str, folder: Path, main: Path) -> None:
    """`nginx -t`: NginxFailed with nginx's words when it refuses the configuration."""
    checked = subprocess.run(
        nginx_command(binary, folder, main, "-t", "-q"),
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
        check=False,
    )
    if checked.returncode != 0:
        raise NginxFailed(f"nginx refused the configuration:\n{checked.stderr}")


def _ends_with_parent() -> None:
    """In the child, before nginx runs: should its starter die without stopping it (a test run
    killed), the kernel stops nginx too (SIGTERM: fast shutdown), so none lingers."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Balancer:
    """nginx of one's own in front of `backends` (loopback `HOST:PORT`s), on 127.0.0.1."""

    def __init__(
        self, backends: Sequence[str], *, port: int | None = None, workers: int = 1
    ) -> None:
        for backend in backends:
            if not backend.startswith("127."):
                raise ValueError(f"{backend!r}: the balancer of the tests stays on loopback")
        binary = nginx_binary()
        if binary is None:
            raise NginxFailed("nginx is not installed (`apt-get install nginx`)")
        self.binary = binary
        self.backends = list(backends)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.folder: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def _configure(self, folder: Path) -> Path:
        site = folder / "palabre.conf"
        site.write_text(
            site_config(
                f"127.0.0.1:{self.port}",
                self.backends,
                server_name="localhost",
                access_log=str(folder / "access.log"),
            )
        )
        main = folder / "nginx.conf"
        main.write_text(standalone_config(folder, site, self.workers))
        return main

    def start(self) -> None:
        """Check the configuration (`nginx -t`), start nginx, wait until it listens."""
        # A folder of its own in /tmp (not under the caller's private temporary folder): the
        # workers, as nobody, must reach their temporary folders in it.
        self.folder = Path(tempfile.mkdtemp(prefix="palabre-nginx-"))
        self.folder.chmod(0o755)
        try:
            main = self._configure(self.folder)
            check_config(self.binary, self.folder, main)
            command = nginx_command(self.binary, self.folder, main)
            with (self.folder / "stderr.log").open("wb") as output:
                self.process = subprocess.Popen(
                    command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_ends_with_parent,
                    # Its own session: a Ctrl-C meant for the run reaches nginx through stop().
                    start_new_session=True,
                )
            deadline = time.monotonic() + START_SECONDS
            while not listening(self.port):
                if self.process.poll() is not None:
                    raise NginxFailed(f"nginx exited at once:\n{self.error_log()}")
                if time.monotonic() > deadline:
                    raise NginxFailed(f"nginx did not listen within {START_SECONDS:g} s")
                time.sleep(0.05)
        except BaseException:
            # Whatever went wrong: no nginx left running, no folder left behind.
            self.stop()
            raise

    def error_log(self) -> str:
        if self.folder is None:
            return ""
        with contextlib.suppress(OSError):
            logs = [self.folder / "error.log", self.folder / "stderr.log"]
            return "\n".join(p.read_text(errors="replace")[-4000:] for p in logs if p.exists())
        return ""

    def access_log(self) -> list[str]:
        """The access log's lines so far (a websocket's is written when it closes)."""
        if self.folder is None:
            return []
        with contextlib.suppress(OSError):
            return (self.folder / "access.log").read_text(errors="replace").splitlines()
        return []

    def pids(self) -> list[int]:
        """The master's pid and its workers'."""
        if self.process is None or self.process.poll() is not None:
            return []
        master = self.process.pid
        workers = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                status = (entry / "status").read_text()
                ppid = next(line for line in status.splitlines() if line.startswith("PPid:"))
                if int(ppid.split()[1]) == master:
                    workers.append(int(entry.name))
        return [master, *workers]

    def stop(self) -> None:
        """Stop nginx (fast shutdown, then SIGKILL past the bound) and remove its folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_SECONDS)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "Balancer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.nginx", description="nginx in front of palabre processes."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    site = commands.add_parser("site", help="print deploy/nginx/palabre.conf filled in")
    site.add_argument("--listen", required=True, help="`443 ssl`, `80`, `127.0.0.1:8080`...")
    site.add_argument("--server-name", default="_", help="the site's host name")
    site.add_argument("--access-log", default="/var/log/nginx/palabre.access.log")
    run = commands.add_parser("run", help="run nginx of one's own on 127.0.0.1 until Ctrl-C")
    run.add_argument("--port", type=int, default=8080, help="its loopback port (default 8080)")
    for command in (site, run):
        command.add_argument(
            "--backend", action="append", required=True, help="a palabre process, HOST:PORT"
        )
    args = parser.parse_args(argv)
    try:
        if args.command == "site":
            print(
                site_config(
                    args.listen,
                    args.backend,
                    server_name=args.server_name,
                    access_log=args.access_log,
                ),
                end="",
            )
            return 0
        balancer = Balancer(args.backend, port=args.port)
    except (ValueError, NginxFailed) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # Blocked first, so that sigwait receives them instead of their default handlers.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    with balancer:
        print(f"nginx on {balancer.url} in front of {', '.join(args.backend)}; Ctrl-C stops it")
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())
