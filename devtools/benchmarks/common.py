"""What several benchmarks share: rolled-back transactions, a free loopback port, flushed output, the
environment of the processes a benchmark starts."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction


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


def database_url_in_use() -> str:
    """The URL of the database this process is connected to (a test run's `test_…` database, the
    bench's own), not the DATABASE_URL it was started with."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        return os.environ.get("DATABASE_URL", "")
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a web or worker process a benchmark starts: this process's own, with the
    database and Redis it is actually using."""
    env = {**os.environ, **extra}
    url = database_url_in_use()
    if url:
        env["DATABASE_URL"] = url
    if getattr(settings, "REDIS_URL", ""):
        env["REDIS_URL"] = settings.REDIS_URL
    return env
