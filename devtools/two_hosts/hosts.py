"""A drill host: the processes of `scripts/run_stack.sh` (web, one Celery worker on its queues, and
beat on one host only) started inside the host's network namespace, with the host's environment."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings

from devtools.two_hosts.network import HostNet, kill_namespace, namespace_pids

WORKER_QUEUES = "callbacks,dispatch,planning,analytics,default"


@dataclass
class Host:
    net: HostNet
    env: dict[str, str]
    log_dir: Path
    web_port: int
    cpus: str | None = None  # taskset CPU list: a host of its own cores, as a separate machine has
    worker_concurrency: int = 2
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: dict[str, Path] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.net.name

    @property
    def web_url(self) -> str:
        return f"http://{self.net.address}:{self.web_port}/"

    def _start(self, role: str, argv: list[str]) -> None:
        log = self.log_dir / f"host-{self.name}-{role}.log"
        self.logs[role] = log
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own programs with fixed arguments
                self.net.exec_argv(argv, cpus=self.cpus), stdout=out, stderr=subprocess.STDOUT, env=self.env,
                cwd=settings.BASE_DIR,
            )
        self.procs.append(proc)

    def start(self, *, beat: bool = False) -> None:
        """Web (gunicorn), a Celery worker on run_stack.sh's queues, and beat when asked."""
        py = sys.executable
        self._start("web", [py, "-m", "gunicorn", "scrm.wsgi:application", "--bind", f"0.0.0.0:{self.web_port}",
                            "--workers", "1", "--threads", "4", "--graceful-timeout", "5"])
        self._start("worker", [py, "-m", "celery", "-A", "scrm", "worker", "-Q", WORKER_QUEUES,
                               "--concurrency", str(self.worker_concurrency), "-n", f"drill-host-{self.name}@%h", "-l", "INFO"])
        if beat:
            self._start("beat", [py, "-m", "celery", "-A", "scrm", "beat", "-l", "INFO"])

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Wait until the web answers /healthz (database and broker reachable from the namespace) and
        the worker says it is ready; returns the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        web_ok = worker_ok = False
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"host {self.name}: {proc.args[-1]!r}… exited with {proc.returncode}; see {self.log_dir}")
            if not web_ok:
                with contextlib.suppress(requests.RequestException):
                    web_ok = requests.get(self.web_url + "healthz", timeout=2).status_code == 200
            if not worker_ok:
                worker_ok = " ready." in self.logs["worker"].read_text(errors="replace")
            if web_ok and worker_ok:
                return time.monotonic() - started
            time.sleep(0.3)
        raise RuntimeError(f"host {self.name} not ready within {timeout:.0f} s (web {web_ok}, worker {worker_ok}); see {self.log_dir}")

    def kill(self) -> int:
        """kill -9 of every process of the host (web master and workers, Celery worker and its pool,
        beat): a host that loses its power. Returns how many processes were killed."""
        killed = kill_namespace(self.net)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        return len(killed)

    def alive(self) -> int:
        return len(namespace_pids(self.net))
