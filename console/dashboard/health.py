"""Health of web, database, broker, worker and beat, in at most ~HEALTH_BUDGET_SECONDS.

The checks are /healthz's (scrm.health) and the Celery heartbeats (scrm.heartbeat). They run in
threads with one deadline for all: a broker that does not answer in time is reported as not
answering instead of holding the page. Results are kept per process for HEALTH_TTL_SECONDS.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from django.conf import settings

from scrm.health import check_broker, check_database
from scrm.heartbeat import STALE_AFTER_SECONDS, heartbeat_age

logger = logging.getLogger(__name__)
HEALTH_BUDGET_SECONDS = 0.2
HEALTH_TTL_SECONDS = 10.0
OK, DOWN, UNKNOWN = "ok", "down", "unknown"

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-health")
_lock = threading.Lock()
_last: tuple[float, dict[str, Any]] | None = None


def _heartbeats() -> dict[str, float | None]:
    return {"worker": heartbeat_age("worker"), "beat": heartbeat_age("beat")}


def _probe() -> dict[str, Any]:
    # The page itself needs the database, so that check runs here; the broker's in a thread.
    futures = {"broker": _pool.submit(check_broker)}
    results: dict[str, dict[str, Any]] = {"web": {"status": OK}}
    try:
        check_database()
        results["database"] = {"status": OK}
    except Exception as exc:
        results["database"] = {"status": DOWN, "error": exc.__class__.__name__}
    done, _ = wait(futures.values(), timeout=HEALTH_BUDGET_SECONDS)
    for name, future in futures.items():
        if future not in done:
            results[name] = {"status": DOWN, "error": "timeout"}
        elif future.exception() is not None:
            results[name] = {"status": DOWN, "error": future.exception().__class__.__name__}
        else:
            results[name] = {"status": OK}
    broker_ok = results["broker"]["status"] == OK
    ages: dict[str, float | None] = {"worker": None, "beat": None}
    if broker_ok or not settings.REDIS_URL:
        # Heartbeats are in the cache, which is Redis when the broker is: read only when it answers.
        try:
            ages = _heartbeats()
        except Exception:
            logger.warning("heartbeats unreadable", exc_info=True)
    for name in ("worker", "beat"):
        age = ages.get(name)
        if age is None:
            results[name] = {"status": UNKNOWN if not broker_ok else DOWN, "age_seconds": None}
        else:
            results[name] = {"status": OK if age <= STALE_AFTER_SECONDS else DOWN, "age_seconds": round(age)}
    overall = OK if all(r["status"] == OK for r in results.values()) else DOWN
    return {"status": overall, "checks": results, "cache_usable": broker_ok or not settings.REDIS_URL}


def system_health(*, fresh: bool = False) -> dict[str, Any]:
    """{"status", "checks": {name: {"status", …}}, "cache_usable"}; ok / down / unknown per check."""
    global _last
    now = time.monotonic()
    with _lock:
        if not fresh and _last is not None and now - _last[0] < HEALTH_TTL_SECONDS:
            return _last[1]
    result = _probe()
    with _lock:
        _last = (time.monotonic(), result)
    return result


def health_cache_clear() -> None:
    global _last
    with _lock:
        _last = None
