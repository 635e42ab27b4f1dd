"""A network namespace of the test's own, for real media between Janus and browsers.

Janus never offers a loopback address as an ICE candidate, so on a plain machine the media of a
test would take the machine's real interfaces. Inside this namespace the only interfaces are
its own `lo` and a veth pair whose two ends both stay inside, one of them holding 127.0.0.2/32:
ICE finds 127.0.0.2 on both sides, and nothing can reach any other address (there is no route
out). IPv6 is off in the namespace, so no link-local candidate is offered either.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

# The address both Janus and the browsers offer as their host candidate.
MEDIA_ADDRESS = "127.0.0.2"
IP_SECONDS = 10.0


class NamespaceUnavailable(Exception):
    """Why this machine cannot give the test a namespace (not root, no iproute2, ...)."""


def _ip(*args: str) -> None:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_SECONDS, check=False
    )
    if done.returncode != 0:
        raise NamespaceUnavailable(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def why_unavailable() -> str | None:
    """None when namespaces can be made here, else the reason."""
    if shutil.which("ip") is None:
        return "no `ip` command (Debian package iproute2): cannot make a network namespace"
    if os.geteuid() != 0:
        return "making a network namespace needs root (`ip netns add`)"
    return None


@contextlib.contextmanager
def media_namespace() -> Iterator[str]:
    """A fresh namespace, named `palabre-<random>`, removed afterwards whatever happens."""
    reason = why_unavailable()
    if reason is not None:
        raise NamespaceUnavailable(reason)
    name = f"palabre-{secrets.token_hex(4)}"
    _ip("netns", "add", name)
    try:
        inside = ("-n", name)
        _ip(*inside, "link", "set", "lo", "up")
        _ip(*inside, "link", "add", "pmedia0", "type", "veth", "peer", "name", "pmedia1")
        for device in ("pmedia0", "pmedia1"):
            # Before the link is up, so that no IPv6 link-local address is ever made.
            sysctl = f"net.ipv6.conf.{device}.disable_ipv6=1"
            subprocess.run(
                ["ip", "netns", "exec", name, "sysctl", "-q", "-w", sysctl],
                capture_output=True,
                timeout=IP_SECONDS,
                check=False,
            )
        _ip(*inside, "addr", "add", f"{MEDIA_ADDRESS}/32", "dev", "pmedia0")
        _ip(*inside, "link", "set", "pmedia0", "up")
        _ip(*inside, "link", "set", "pmedia1", "up")
        yield name
    finally:
        # Deleting the namespace deletes its veth pair with it (both ends are inside).
        with contextlib.suppress(NamespaceUnavailable):
            _ip("netns", "del", name)


def addresses(name: str) -> list[str]:
    """Every address of every interface in the namespace (`ip -o addr`), for the record."""
    done = subprocess.run(
        ["ip", "-n", name, "-o", "addr"],
        capture_output=True,
        text=True,
        timeout=IP_SECONDS,
        check=True,
    )
    return [line.split()[3] for line in done.stdout.splitlines() if len(line.split()) > 3]
