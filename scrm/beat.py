"""The beat scheduler: django-celery-beat's, minus the periodic tasks the database cannot run."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connection
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from scrm.heartbeat import BEAT_HEARTBEAT_SECONDS, heartbeat_record_safely

logger = logging.getLogger(__name__)

# Dispatch is PostgreSQL SQL. On the embedded SQLite of `make run` planning is refused, so no
# delivery is ever sending and there is nothing for the sweep or the pump watchdog to do.
POSTGRESQL_ONLY_TASKS = frozenset({"campaigns.tasks.dispatch_sweep_task", "campaigns.tasks.campaign_pumps_watchdog_task"})


def beat_schedule_for_database(schedule: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The entries of `schedule` that the configured database can run."""
    if connection.vendor == "postgresql":
        return dict(schedule)
    return {name: entry for name, entry in schedule.items() if entry["task"] not in POSTGRESQL_ONLY_TASKS}


class Scheduler(DatabaseScheduler):
    def setup_schedule(self) -> None:
        full = self.app.conf.beat_schedule
        schedule = beat_schedule_for_database(full)
        dropped = set(full) - set(schedule)
        if dropped:
            # Rows a previous beat stored would otherwise keep firing.
            PeriodicTask.objects.filter(name__in=dropped).update(enabled=False)
        self.install_default_entries(self.schedule)
        self.update_from_dict(schedule)

    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last_heartbeat >= BEAT_HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            heartbeat_record_safely("beat")  # a dead cache must not stop the schedule
        return interval
