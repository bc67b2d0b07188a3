"""Two network namespaces on one machine, joined by a bridge in the root namespace.

    root namespace: bridge scrm2h-br 10.231.0.1/24 ── veth scrm2h-a0 ┄ scrm2h-a1 10.231.0.11 (namespace scrm2h-a)
                                                  └─ veth scrm2h-b0 ┄ scrm2h-b1 10.231.0.12 (namespace scrm2h-b)

The namespaces get no default route: they reach the bridge's address (where the forwarders and the
sandbox listen) and each other, and nothing else — the drill's traffic cannot leave the machine.
Every step is idempotent, and `network_down` also kills whatever still runs in the namespaces (a
namespace deleted with processes in it lives on until they exit).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass

PREFIX = "scrm2h"
BRIDGE = f"{PREFIX}-br"
ROOT_ADDRESS = "10.231.0.1"
PREFIX_LENGTH = 24


@dataclass(frozen=True)
class HostNet:
    name: str  # "a" or "b"
    address: str

    @property
    def namespace(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def veth_root(self) -> str:
        return f"{PREFIX}-{self.name}0"

    @property
    def veth_host(self) -> str:
        return f"{PREFIX}-{self.name}1"

    def exec_argv(self, argv: list[str], *, cpus: str | None = None) -> list[str]:
        """`argv` run inside this host's namespace, on the given CPUs (taskset) when set."""
        pinned = ["taskset", "-c", cpus, *argv] if cpus else list(argv)
        return ["ip", "netns", "exec", self.namespace, *pinned]


HOSTS = (HostNet("a", "10.231.0.11"), HostNet("b", "10.231.0.12"))


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)  # noqa: S603, S607 - fixed argv


def namespaces() -> set[str]:
    listed = _ip("netns", "list", check=False).stdout.split("\n")
    return {line.split()[0] for line in listed if line.strip()}


def network_up(hosts: tuple[HostNet, ...] = HOSTS) -> None:
    """Create the bridge, the namespaces and their veth pairs (after removing any leftovers)."""
    network_down(hosts)
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{ROOT_ADDRESS}/{PREFIX_LENGTH}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    for host in hosts:
        _ip("netns", "add", host.namespace)
        _ip("link", "add", host.veth_root, "type", "veth", "peer", "name", host.veth_host)
        _ip("link", "set", host.veth_host, "netns", host.namespace)
        _ip("link", "set", host.veth_root, "master", BRIDGE)
        _ip("link", "set", host.veth_root, "up")
        _ip("-n", host.namespace, "addr", "add", f"{host.address}/{PREFIX_LENGTH}", "dev", host.veth_host)
        _ip("-n", host.namespace, "link", "set", host.veth_host, "up")
        _ip("-n", host.namespace, "link", "set", "lo", "up")


def namespace_pids(host: HostNet) -> list[int]:
    """Every process running in the host's namespace (ours: only the drill starts processes there)."""
    if host.namespace not in namespaces():
        return []
    out = _ip("netns", "pids", host.namespace, check=False).stdout
    return [int(pid) for pid in out.split()]


def kill_namespace(host: HostNet, sig: int = signal.SIGKILL) -> list[int]:
    """Send `sig` to every process in the namespace; returns their pids."""
    pids = namespace_pids(host)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def network_down(hosts: tuple[HostNet, ...] = HOSTS) -> None:
    """Kill what runs in the namespaces, delete them (their veth ends go with them) and the bridge."""
    present = namespaces()
    for host in hosts:
        if host.namespace in present:
            kill_namespace(host)
            _ip("netns", "del", host.namespace, check=False)
        _ip("link", "del", host.veth_root, check=False)
    _ip("link", "del", BRIDGE, check=False)


def main() -> None:
    """`python -m devtools.two_hosts.network down`: the cleanup of scripts/drill_2hosts.sh's trap."""
    import sys

    if sys.argv[1:] != ["down"]:
        raise SystemExit("usage: python -m devtools.two_hosts.network down")
    network_down()


if __name__ == "__main__":
    main()
