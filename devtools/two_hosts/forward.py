"""TCP forwarders from the bridge's address to services that listen on 127.0.0.1 only.

PostgreSQL and Redis on this machine listen on the loopback address; the namespaces cannot reach it.
Rather than change the shared servers' configuration (listen_addresses, bind, pg_hba), the drill
forwards a port of the bridge's address to each: connections then arrive from 127.0.0.1, as any
local client's. socat does it when installed (one process per connection, in C); otherwise this
module's asyncio forwarder (`python -m devtools.two_hosts.forward LISTEN_HOST:PORT TARGET_HOST:PORT`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on (the other direction may still be busy)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def serve(listen: tuple[str, int], target: tuple[str, int], *, ready: asyncio.Event | None = None) -> None:
    """Accept on `listen`, and pipe each connection both ways to a new connection to `target`."""

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*target)
        except OSError:
            client_writer.close()
            return
        for writer in (client_writer, upstream_writer):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        for writer in (client_writer, upstream_writer):
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

    server = await asyncio.start_server(handle, *listen, reuse_address=True)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def forward_argv(listen: tuple[str, int], target: tuple[str, int]) -> list[str]:
    """The command of a forwarder: socat when installed, else this module."""
    if shutil.which("socat"):
        return ["socat", f"TCP-LISTEN:{listen[1]},bind={listen[0]},reuseaddr,fork,nodelay",
                f"TCP:{target[0]}:{target[1]},nodelay"]
    return [sys.executable, "-m", "devtools.two_hosts.forward", f"{listen[0]}:{listen[1]}", f"{target[0]}:{target[1]}"]


def forward_start(
    listen: tuple[str, int], target: tuple[str, int], *, timeout: float = 10.0, niceness: int = 0,
) -> subprocess.Popen:
    """Start a forwarder process (at `niceness`) and wait until it accepts connections."""
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        forward_argv(listen, target), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.nice(niceness)) if niceness else None,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"forwarder {listen} → {target} exited with {proc.returncode} (port taken?)")
        try:
            with socket.create_connection(listen, timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"forwarder {listen} → {target} did not start within {timeout:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m devtools.two_hosts.forward LISTEN_HOST:PORT TARGET_HOST:PORT")
    asyncio.run(serve(_address(sys.argv[1]), _address(sys.argv[2])))
