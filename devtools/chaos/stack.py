"""The stack the drills break: a private redis-server, the WeChat sandbox, gunicorn, one Celery worker
per concern (callbacks, dispatch, the rest) and beat — what scripts/run_stack.sh starts, split so that
one process can be killed and restarted alone. Each process runs in its own session (process group),
so `kill -9` reaches a worker's pool children too, as a machine or container death would. A
supervisor thread restarts a web, worker or beat process that exits on its own, as systemd or a
container runtime would in production; each restart is reported (a Celery worker can die of a lost
broker connection: `restarts`).

It runs on the drill's own database (DATABASE_URL of the `chaos` command), its own redis-server on
its own port (stopped and started by drill 1) and its own ports; nothing is shared with `make run`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# name → the celery worker's queues and concurrency (scripts/run_stack.sh runs one worker for all).
WORKERS = {
    "callbacks": ("callbacks", 2),
    "dispatch": ("dispatch", 2),
    "other": ("planning,analytics,default", 1),
}


class StackError(RuntimeError):
    pass


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Stack:
    port: int
    sandbox_port: int
    redis_port: int
    log_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    # (time, name, exit code) of each process the supervisor restarted.
    restarts: list[tuple[float, str, int]] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _argv: dict[str, list[str]] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}/"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DEBUG": "true",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": self.redis_url,
            "SANDBOX_BASE_URL": self.sandbox_url,
            "WECHAT_SANDBOX_URLS": self.sandbox_url,
            "PUBLIC_BASE_URL": self.base_url,
            "SCRM_VAR_DIR": str(self.log_dir / "state"),
            "C_FORCE_ROOT": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("SCRM_TESTING", None)
        return env

    # --- processes ---------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        self._argv[name] = argv
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        log.write(f"\n=== {time.strftime('%H:%M:%S')} start {' '.join(argv)}\n".encode())
        process = subprocess.Popen(  # noqa: S603 - our own programs with fixed arguments
            argv, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

    def _wait_port(self, port: int, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(port):
                return
            if self.processes[name].poll() is not None:
                raise StackError(f"{name} exited: see {self.log_dir / (name + '.log')}")
            time.sleep(0.2)
        raise StackError(f"{name} did not listen on {port} within {timeout:.0f} s")

    def _wait_log(self, name: str, marker: str, since: int, timeout: float = 120.0) -> None:
        path = self.log_dir / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with path.open("rb") as log:
                log.seek(since)
                if marker.encode() in log.read():
                    return
            if self.processes[name].poll() is not None:
                raise StackError(f"{name} exited: see {path}")
            time.sleep(0.2)
        raise StackError(f"{name} not ready within {timeout:.0f} s: see {path}")

    def _log_size(self, name: str) -> int:
        path = self.log_dir / f"{name}.log"
        return path.stat().st_size if path.exists() else 0

    def redis_start(self) -> None:
        if port_open(self.redis_port):
            raise StackError(f"port {self.redis_port} is in use: the drills need their own redis-server there")
        redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self._spawn("redis", [redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        self._wait_port(self.redis_port, "redis")

    def redis_stop(self) -> None:
        """Stop the drill's own redis-server (SIGKILL: an outage, not a clean shutdown)."""
        with self._lock:
            self.kill("redis")

    def worker_start(self, name: str, *, wait: bool = True) -> None:
        queues, concurrency = WORKERS[name]
        since = self._log_size(f"worker-{name}")
        self._spawn(
            f"worker-{name}",
            [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@chaos",
             "-l", "INFO", "--without-gossip", "--without-mingle"],
        )
        if wait:
            self._wait_log(f"worker-{name}", " ready.", since)

    def start(self) -> None:
        for port in (self.port, self.sandbox_port):
            if port_open(port):
                raise StackError(f"port {port} is in use: set CHAOS_PORT / CHAOS_SANDBOX_PORT")
        self.redis_start()
        self._spawn("sandbox", [sys.executable, "manage.py", "wechat_sandbox", "--host", "127.0.0.1", "--port", str(self.sandbox_port), "--open"])
        self._spawn(
            "web",
            [sys.executable, "-m", "gunicorn", "scrm.wsgi:application", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--threads", "4", "--graceful-timeout", "5", "--log-level", "warning"],
        )
        since = {name: self._log_size(f"worker-{name}") for name in WORKERS}
        for name in WORKERS:
            self.worker_start(name, wait=False)
        beat_since = self._log_size("beat")
        self._spawn("beat", [sys.executable, "-m", "celery", "-A", "scrm", "beat", "-l", "INFO"])
        self._wait_port(self.sandbox_port, "sandbox")
        self._wait_port(self.port, "web", timeout=120)
        for name in WORKERS:
            self._wait_log(f"worker-{name}", " ready.", since[name])
        self._wait_log("beat", "beat: Starting", beat_since)
        threading.Thread(target=self._supervise, name="chaos-supervisor", daemon=True).start()

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            with self._lock:
                for name, process in list(self.processes.items()):
                    if name in ("redis", "sandbox") or process.poll() is None:
                        continue
                    self.restarts.append((time.time(), name, process.returncode))
                    self._spawn(name, self._argv[name])

    def kill_and_restart(self, name: str) -> None:
        """`kill -9` of the process group, and a new process at once (the supervisor does not race it)."""
        with self._lock:
            self.kill(name)
            self._spawn(name, self._argv[name])

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its group (a worker's pool children included)."""
        process = self.processes.get(name)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name in list(self.processes):
            process = self.processes[name]
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            if process.poll() is None:
                self.kill(name)
            # A group member left behind (a pool child) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
