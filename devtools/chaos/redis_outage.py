"""Drill 1: the drill's own redis-server is stopped for some seconds during a callback storm. WeChat
must get `success` for what the web stored (the inbound outbox), and every accepted callback must be
processed exactly once after Redis returns (the sweeper hands over what the broker missed)."""

from __future__ import annotations

import time

from devtools.chaos.report import DrillResult
from devtools.chaos.stack import Stack
from devtools.chaos.storm import Storm, callback_account, storm_outcome, wait_processed

STORM_SECONDS = 24.0
OUTAGE_AT, OUTAGE_SECONDS = 6.0, 8.0
# The sweeper hands over rows the broker missed after RECEIVED_STALE_SECONDS (60), running every 30 s.
SETTLE_TIMEOUT = 180.0


def run(stack: Stack, *, log) -> DrillResult:
    storm = Storm(account=callback_account("redis outage"), port=stack.port, seconds=STORM_SECONDS)
    started = time.monotonic()
    thread = storm.start()
    time.sleep(OUTAGE_AT)
    stack.redis_stop()
    log(f"  redis stopped at {time.monotonic() - started:.1f} s")
    time.sleep(OUTAGE_SECONDS)
    stack.redis_start()
    back = time.monotonic()
    log(f"  redis back at {back - started:.1f} s")
    thread.join()
    settled = wait_processed(storm, timeout=SETTLE_TIMEOUT)
    outcome = storm_outcome(storm)
    recovery = time.monotonic() - back if settled is not None else None
    result = DrillResult(
        name="1. Redis stopped for 8 s during a callback storm",
        tried=f"{len(storm.answers)} encrypted callbacks in {STORM_SECONDS:.0f} s ({storm.rate:.0f}/s), answers {dict(storm.statuses())}",
        lost=outcome.lost,
        duplicated=outcome.duplicated,
        recovery_seconds=[recovery] if recovery is not None else [],
        goal="every accepted callback processed exactly once after Redis returns",
    )
    result.passed = outcome.lost == 0 and outcome.duplicated == 0 and outcome.unfinished == 0 and settled is not None
    result.notes.append(f"recovery = Redis back → every accepted callback processed; {outcome.processed}/{outcome.accepted} processed")
    if settled is None:
        result.notes.append(f"not all processed within {SETTLE_TIMEOUT:.0f} s of Redis returning ({outcome.unfinished} unfinished)")
    return result
