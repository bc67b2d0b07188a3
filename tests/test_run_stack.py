"""`make run`'s stack (scripts/run_stack.sh) stops within 10 s of a SIGTERM to its process group,
as it does on Ctrl-C, even while the Celery worker is in the middle of a long task (issue 14,
defect 5: the worker used to stay up for its running task, ~100 s, until SIGKILL).

Starts `make run` or the script itself (RUN_STACK_SETUP=0: the test database is already migrated) with the sandbox,
gunicorn, the worker and beat on free ports, keeps the worker busy with a follower sync against a
slow sandbox, and times the stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from messaging.channels.services import sync_job_start
from messaging.sandbox.control import SandboxControl
from tests.factories import ChannelAccountFactory

ROOT = Path(__file__).resolve().parent.parent
STOP_LIMIT_SECONDS = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _group_members(pgid: int) -> list[str]:
    """Processes of the group still running (not zombies), as "pid command" lines."""
    listed = subprocess.run(["pgrep", "-a", "-g", str(pgid)], capture_output=True, text=True).stdout
    running = []
    for line in listed.splitlines():
        try:
            state = Path(f"/proc/{line.split()[0]}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.append(line)
    return running


def _wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(params=["make-run-group", "script"])
def stack(request, transactional_db, tmp_path):
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_XDIST_WORKER", "SCRM_TESTING"}}
    web_port, sandbox_port = _free_port(), _free_port()
    env.update(
        DEBUG="true", RUN_STACK_SETUP="0", PORT=str(web_port), SANDBOX_PORT=str(sandbox_port),
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL, DB_CONN_MAX_AGE="0", SCRM_VAR_DIR=str(tmp_path / "var"),
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        # A session of its own: its process group is the one `make run` would have in a terminal.
        command = ["make", "-s", "run"] if request.param == "make-run-group" else ["bash", "scripts/run_stack.sh"]
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield request.param, proc, log, web_port, f"http://127.0.0.1:{sandbox_port}/"
    finally:
        if _group_members(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_sigterm_stops_the_stack_within_10_s_while_a_task_runs(stack):
    """`make-run-group`: `make run` and SIGTERM to its process group, as CI and a terminal's job
    control send it (every process gets it, and make passes it on to the script once more);
    `script`: SIGTERM to run_stack.sh alone, as a supervisor sends it to the process it started."""
    target, proc, log, web_port, sandbox_url = stack
    _wait_for(lambda: _healthy(web_port) and "ready." in log.read_text(), 60, "stack up", log)

    # A follower sync whose task runs for ~30 s: 5 s per sandbox call.
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox_url)
    control = SandboxControl(sandbox_url)
    control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret)
    control.add_followers(account.app_id, 500)
    control.set_faults(latency_ms=5000)
    sync_job_start(account=account, kind="oa_followers")
    _wait_for(lambda: "sync_job_run_task" in log.read_text().split("ready.", 1)[-1], 20, "the sync task", log)
    time.sleep(1)  # inside the task now, waiting on the slow sandbox

    started = time.monotonic()
    if target == "make-run-group":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    while (left := _group_members(proc.pid)) and time.monotonic() - started < 60:
        time.sleep(0.1)
    took = time.monotonic() - started
    assert took <= STOP_LIMIT_SECONDS, f"stopped after {took:.1f}s; still running: {left}\nlog:\n{log.read_text()[-3000:]}"
    assert proc.wait(timeout=5) is not None
