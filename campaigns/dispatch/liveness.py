"""Recovering from a dead worker in seconds: claims are leases, pumps show signs of life, and a
watchdog re-pumps what nobody is working on.

Why not the broker: a task held by a worker that dies (running, or waiting for its countdown) comes
back only after Redis's visibility timeout, which must stay long (an hour) so that a legitimately long
task is not run twice. So the database says who is alive instead:

- a claimed delivery carries `lease_until`; the pump's `LeaseKeeper` thread renews the leases of the
  rows it holds every quarter lease, and dies with its process. A lapsed lease means the worker is
  gone: the watchdog returns the row to 'planned' (the delivery id is WeChat's idempotency key, so a
  row that was in fact sent is not sent twice);
- a campaign carries `pump_alive_until`, pushed forward by a running pump (the same thread) and, when
  a slice ends, to when its next slice is due plus a grace. A sending campaign past it has lost its
  pump (killed mid-slice, or between slices with its next task stranded in the dead worker);
- the watchdog (beat, every few seconds) does both, and re-pumps such a campaign under a new
  `pump_generation`, stamped `pump_restarted_at`; it gives that generation a grace to leave the queue
  before it starts another (unless claims lapsed again). An enqueued generation is not a sign of life:
  a pump of an older generation that turns up (its task redelivered, or it merely waited in a long
  queue) runs when no pump is alive and takes the current generation on, and otherwise steps aside,
  so copies do not multiply; two copies running at once are harmless (claims skip each other's rows).
  (Counting the enqueued generation as alive made each generation's pumps, late out of a busy queue,
  step aside for the next one, round after round: the two-host drill's two minutes without a send.)
- a campaign whose pump is alive is not re-pumped when a dead worker's claims lapse: they are planned
  again and the live pump sends them.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from campaigns.dispatch import sql as dispatch_sql
from campaigns.dispatch.claim import deliveries_leases_renew, deliveries_sweep_expired, lease_seconds
from scrm.sqltools import render

logger = logging.getLogger(__name__)


def stall_seconds() -> float:
    return float(settings.CAMPAIGN_PUMP_STALL_SECONDS)


def pump_enter(*, campaign_id: int, generation: int | None) -> int | None:
    """May a pump of `generation` run a slice now? The campaign's current generation if so (and the
    campaign is marked alive), None when it must stop (not sending, or superseded by a live pump)."""
    with connection.cursor() as cursor:
        cursor.execute(
            render(dispatch_sql.PUMP_ENTER), {"campaign": campaign_id, "generation": generation, "seconds": stall_seconds()}
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def pump_alive(*, campaign_id: int, for_seconds: float) -> None:
    """The campaign has a live pump for at least `for_seconds` more."""
    with connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.PUMP_ALIVE), {"campaign": campaign_id, "seconds": for_seconds})


def pumps_watchdog() -> list[tuple[int, int]]:
    """Hand back claims whose lease lapsed, and return the sending campaigns to re-pump (those without a
    live pump whose current generation had its grace, or whose claims lapsed) with the generation their
    new pumps carry."""
    lapsed = deliveries_sweep_expired()
    with connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.PUMPS_RESTART), {"campaigns": lapsed, "seconds": stall_seconds()})
        restarted = [(campaign_id, generation) for campaign_id, generation in cursor.fetchall()]
    if restarted:
        logger.warning("re-pumping campaigns without a live pump: %s (claims lapsed in %s)", restarted, lapsed)
    return sorted(restarted)


class LeaseKeeper:
    """Renews, on its own thread every quarter lease, the leases of the rows the pump holds and the
    campaign's sign of life. It stops with the pump, and with its process: a dead worker renews nothing."""

    def __init__(self, campaign_id: int, *, every: float | None = None):
        self.campaign_id = campaign_id
        self.every = every if every is not None else max(min(lease_seconds(), stall_seconds()) / 4, 0.2)
        self._held: list[int] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, ids: list[int]) -> None:
        """The rows the pump now holds in 'sending' (replacing the previous batch's)."""
        with self._lock:
            self._held = list(ids)

    def renew(self) -> None:
        with self._lock:
            ids = list(self._held)
        deliveries_leases_renew(ids)
        pump_alive(campaign_id=self.campaign_id, for_seconds=stall_seconds())

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._run, name=f"lease-keeper-{self.campaign_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.every):
                try:
                    self.renew()
                except Exception:
                    # A database blip: the leases still run for a while; try again at the next beat.
                    logger.exception("renewing the leases of campaign %s failed", self.campaign_id)
        finally:
            connection.close()
