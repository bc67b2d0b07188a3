"""Drill 3: every backend of the drill's database is terminated every second during a callback storm.
The web must answer no 5xx (a callback it cannot store is not acknowledged, and WeChat retries it), and
nothing it accepted may be lost."""

from __future__ import annotations

import threading
import time

import psycopg
from django.conf import settings

from devtools.chaos.report import DrillResult
from devtools.chaos.stack import Stack
from devtools.chaos.storm import Storm, callback_account, storm_outcome, wait_processed

STORM_SECONDS = 20.0
SETTLE_TIMEOUT = 180.0


def _terminator(stop: threading.Event, counts: list[int]) -> None:
    db = settings.DATABASES["default"]
    params = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"], "password": db["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        while not stop.wait(1.0):
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [db["NAME"]]
            ).fetchall()
            counts.append(len(rows))


def run(stack: Stack, *, log) -> DrillResult:
    from django.db import connection

    storm = Storm(account=callback_account("postgres terminate"), port=stack.port, seconds=STORM_SECONDS)
    connection.close()  # this process's own connection is terminated too; it reconnects afterwards
    stop, counts = threading.Event(), []
    terminator = threading.Thread(target=_terminator, args=(stop, counts))
    terminator.start()
    storm.run()
    stop.set()
    terminator.join()
    ended = time.monotonic()
    connection.close()
    settled = wait_processed(storm, timeout=SETTLE_TIMEOUT)
    outcome = storm_outcome(storm)
    statuses = storm.statuses()
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    result = DrillResult(
        name="3. PostgreSQL backends of the drill database terminated every second during a callback storm",
        tried=f"{len(storm.answers)} callbacks in {STORM_SECONDS:.0f} s ({storm.rate:.0f}/s), {sum(counts)} backends terminated in {len(counts)} rounds, "
        f"answers {dict(statuses)}",
        lost=outcome.lost,
        duplicated=outcome.duplicated,
        recovery_seconds=[time.monotonic() - ended] if settled is not None else [],
        goal="0 answered 5xx, 0 accepted callbacks lost",
    )
    result.passed = server_errors == 0 and outcome.lost == 0 and outcome.duplicated == 0 and outcome.unfinished == 0 and settled is not None
    result.notes.append(
        f"{server_errors} answered 5xx; {outcome.processed}/{outcome.accepted} processed; "
        "recovery = storm end → every accepted callback processed"
    )
    if settled is None:
        result.notes.append(f"not all processed within {SETTLE_TIMEOUT:.0f} s of the storm's end ({outcome.unfinished} unfinished)")
    return result
