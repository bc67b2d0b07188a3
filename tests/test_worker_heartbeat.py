"""A Celery worker shows as alive as soon as it starts and while its pool is busy: its main process
records the heartbeat on a timer (scrm.celery.WorkerHeartbeat), not only when it gets round to the
heartbeat task beat schedules — a fresh worker, or one busy sending a campaign, used to show as down
on the console's health card."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.test import override_settings

from scrm.heartbeat import heartbeat_age

ROOT = Path(__file__).resolve().parent.parent


def test_a_started_worker_records_its_heartbeat_without_beat_or_any_task(tmp_path):
    prefix = f"heartbeat-test-{uuid.uuid4().hex[:8]}"
    cache_settings = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_XDIST_WORKER", "SCRM_TESTING"}}
    # A queue nobody sends to: the worker runs no task, so only its own timer can record the heartbeat.
    env.update(DEBUG="true", REDIS_URL=settings.REDIS_URL, CACHE_KEY_PREFIX=prefix, SCRM_VAR_DIR=str(tmp_path / "var"), C_FORCE_ROOT="1")
    log = tmp_path / "worker.log"
    with override_settings(CACHES=cache_settings), log.open("wb") as out:
        assert heartbeat_age("worker") is None
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scrm", "worker", "-Q", prefix, "--pool", "solo", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while heartbeat_age("worker") is None:
                assert worker.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "no heartbeat within 60 s:\n" + log.read_text()[-3000:]
                time.sleep(0.2)
            assert heartbeat_age("worker") < 30
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            caches["default"].delete("heartbeat:worker")
