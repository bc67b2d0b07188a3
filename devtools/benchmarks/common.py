"""What several benchmarks share: rolled-back transactions, a free loopback port, flushed output."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction that is always rolled back: the reusable population stays as it was."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(stdout, text: str) -> None:
    """Write a line and flush it: a long module's progress shows while it runs."""
    stdout.write(text)
    getattr(stdout, "flush", lambda: None)()
