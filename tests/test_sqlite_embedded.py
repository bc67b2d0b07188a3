"""The embedded default of `make run` (SQLite, no Redis): migrate, seed_demo, every periodic task,
and a clear 400 for campaign planning, which needs PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = Path(__file__).with_name("sqlite_embedded_check.py")


def _manage(env, *args):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def test_embedded_sqlite_runs_migrations_demo_data_periodic_tasks_and_refuses_planning_clearly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER"}}
    env.update(SCRM_TESTING="1", DEBUG="true", SCRM_VAR_DIR=str(tmp_path), SQLITE_PATH=str(tmp_path / "embedded.sqlite3"))
    _manage(env, "migrate", "-v0")
    _manage(env, "seed_demo")
    assert (tmp_path / "embedded.sqlite3").is_file()
    output = _manage(env, "shell", "-c", CHECK.read_text())
    assert "SQLITE CHECK PASSED" in output
