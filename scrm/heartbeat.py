"""Liveness of the Celery processes, for the console's health card.

Beat records a heartbeat from its scheduler loop (scrm.beat.Scheduler.tick). A worker records one
when it starts and then every WORKER_HEARTBEAT_SECONDS from its main process (scrm.celery.
WorkerHeartbeat), whatever its pool is busy with, and each time it runs
`scrm.tasks.worker_heartbeat_task`, which beat schedules as often. Heartbeats live in the cache (Redis, or the embedded file cache): a
heartbeat older than STALE_AFTER_SECONDS means the process is down or stuck.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

WORKER_HEARTBEAT_SECONDS = 30.0
BEAT_HEARTBEAT_SECONDS = 15.0
STALE_AFTER_SECONDS = 120.0
_KEY = "heartbeat:{}"


def heartbeat_record(name: str) -> None:
    """Note that the process `name` ("worker", "beat") is alive now."""
    cache.set(_KEY.format(name), time.time(), timeout=24 * 3600)


def heartbeat_record_safely(name: str) -> None:
    """heartbeat_record for a process's own timer: a cache outage is logged, never raised into it."""
    try:
        heartbeat_record(name)
    except Exception:
        logger.warning("%s heartbeat not recorded", name, exc_info=True)


def heartbeat_age(name: str) -> float | None:
    """Seconds since the last heartbeat of `name`, or None when there was none."""
    at = cache.get(_KEY.format(name))
    return None if at is None else max(time.time() - float(at), 0.0)
