"""The stack under test: `scripts/run_stack.sh` (what `make run` starts — sandbox, seeded demo data,
gunicorn, a Celery worker and beat) on a fresh PostgreSQL database and a dedicated Redis db.

The database is dropped and created again on every run (its name must contain "e2e", so a mistyped
URL cannot wipe a working database) and the Redis db is flushed: no state survives from a previous
run, so the journey sees exactly the demo data it seeded. The stack runs in its own session (process
group); `stop()` signals the group as Ctrl-C would and kills what is left after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
import requests
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    database_url: str
    redis_url: str
    port: int
    sandbox_port: int
    log_path: Path
    demo_customers: int = 200
    process: subprocess.Popen | None = field(default=None, init=False)
    # What still ran after the grace period (then killed): reported by the e2e summary.
    left_running: list[str] = field(default_factory=list, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}/"

    # --- lifecycle ------------------------------------------------------------------------------

    def reset_state(self) -> None:
        """Drop the e2e database and flush the e2e Redis db (both belong to the e2e run alone)."""
        parts = urlsplit(self.database_url)
        name = parts.path.lstrip("/")
        if "e2e" not in name:
            raise StackError(f"refusing to drop database {name!r}: the e2e database's name must contain 'e2e'")
        params = {
            "host": parts.hostname or "127.0.0.1", "port": parts.port or 5432, "user": parts.username or "postgres",
            "password": parts.password, "dbname": "postgres", "autocommit": True,
        }
        with psycopg.connect(**params) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        redis.Redis.from_url(self.redis_url).flushdb()

    def start(self) -> None:
        for port in (self.port, self.sandbox_port):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    raise StackError(f"port {port} is in use: stop what listens there or set E2E_PORT / E2E_SANDBOX_PORT")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "PORT": str(self.port),
            "SANDBOX_PORT": str(self.sandbox_port),
            "DEMO_CUSTOMERS": str(self.demo_customers),
            "SCRM_VAR_DIR": str(ROOT / "var" / "e2e" / "state"),
            "C_FORCE_ROOT": "1",  # CI runs as root
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("SCRM_TESTING", None)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - our own script with fixed arguments
            [shutil.which("bash") or "/bin/bash", "scripts/run_stack.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 240.0) -> dict:
        """Until /healthz answers 200 (after migrate and seeding) and the worker and beat report ready."""
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise StackError(f"the stack exited with {self.process.returncode}:\n{self.log_tail()}")
            if not health:
                try:
                    response = requests.get(f"{self.base_url}/healthz", timeout=2)
                    if response.status_code == 200:
                        health = response.json()
                except requests.RequestException:
                    pass
            log = self.log_path.read_text(errors="replace")
            if health and " ready." in log and "beat: Starting" in log:
                return health
            time.sleep(0.5)
        raise StackError(f"the stack was not ready within {timeout:.0f} s (health: {health}):\n{self.log_tail()}")

    def stop(self, grace: float = 30.0) -> None:
        if self.process is None:
            return
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(group):
            self.process.poll()  # reap the script itself, or its zombie keeps the group "alive"
            time.sleep(0.3)
        if _group_alive(group):
            self.left_running = _group_members(group)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_members(group: int) -> list[str]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == group:
                members.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip())
        except (OSError, ValueError, IndexError):
            continue
    return members
