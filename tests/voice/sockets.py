"""The addresses a process's sockets are bound to, read from /proc (Linux), so a test can see
that Janus listens on loopback and nowhere else."""

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

# /proc/net/tcp's state column: 0A is LISTEN.
TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Bound:
    protocol: str
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    @property
    def on_loopback(self) -> bool:
        address = self.address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped.is_loopback
        return address.is_loopback


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ipaddress.IPv4Address(raw[::-1])
    # IPv6: four 32-bit words, each in the host's (little-endian) order.
    return ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def bound_sockets(pid: int) -> list[Bound]:
    """The process's listening TCP sockets and its UDP sockets, with their local addresses."""
    inodes = _socket_inodes(pid)
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        table = Path(f"/proc/{pid}/net/{protocol}")
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if inode not in inodes or (protocol.startswith("tcp") and state != TCP_LISTEN):
                continue
            hex_address, hex_port = local.split(":")
            found.append(Bound(protocol, _address(hex_address), int(hex_port, 16)))
    return found
