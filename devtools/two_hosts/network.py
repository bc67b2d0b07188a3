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
    prefix: str = PREFIX  # of the namespace's and the veth pair's names (interface names: 15 characters at most)

    @property
    def namespace(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def veth_root(self) -> str:
        return f"{self.prefix}-{self.name}0"

    @property
    def veth_host(self) -> str:
        return f"{self.prefix}-{self.name}1"

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


def network_up(hosts: tuple[HostNet, ...] = HOSTS, *, bridge: str = BRIDGE, root_address: str = ROOT_ADDRESS) -> None:
    """Create the bridge, the namespaces and their veth pairs (after removing any leftovers)."""
    network_down(hosts, bridge=bridge, root_address=root_address)
    _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "add", f"{root_address}/{PREFIX_LENGTH}", "dev", bridge)
    _ip("link", "set", bridge, "up")
    for host in hosts:
        _ip("netns", "add", host.namespace)
        _ip("link", "add", host.veth_root, "type", "veth", "peer", "name", host.veth_host)
        _ip("link", "set", host.veth_host, "netns", host.namespace)
        _ip("link", "set", host.veth_root, "master", bridge)
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


def root_side_pids(root_address: str = ROOT_ADDRESS) -> list[int]:
    """The drill's processes in the root namespace: the forwarders and the sandbox, found by the bridge
    address they were told to listen on (nothing else on the machine is given that address).

    A forwarder's children (socat forks one per connection) outlive their parent and, once the
    namespace on the other end is gone, would wait forever, holding a PostgreSQL connection each."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        is_forwarder = (args[0].endswith("socat") and any(f"bind={root_address}" in a for a in args)) or (
            "devtools.two_hosts.forward" in args and any(a.startswith(f"{root_address}:") for a in args)
        )
        is_sandbox = "wechat_sandbox" in args and root_address in args
        if is_forwarder or is_sandbox:
            found.append(int(entry))
    return found


def network_down(hosts: tuple[HostNet, ...] = HOSTS, *, bridge: str = BRIDGE, root_address: str = ROOT_ADDRESS) -> None:
    """Kill what runs in the namespaces and the drill's root-side processes, delete the namespaces
    (their veth ends go with them) and the bridge."""
    for pid in root_side_pids(root_address):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    present = namespaces()
    for host in hosts:
        if host.namespace in present:
            kill_namespace(host)
            _ip("netns", "del", host.namespace, check=False)
        _ip("link", "del", host.veth_root, check=False)
    _ip("link", "del", bridge, check=False)


def main() -> None:
    """`python -m devtools.two_hosts.network down`: the cleanup of scripts/drill_2hosts.sh's trap."""
    import sys

    if sys.argv[1:] != ["down"]:
        raise SystemExit("usage: python -m devtools.two_hosts.network down")
    network_down()


if __name__ == "__main__":
    main()
