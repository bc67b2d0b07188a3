"""Celery tasks of this feature (thin: load by id, call a service). Routed to the `callbacks` queue."""

import random

from celery import shared_task

from messaging.callbacks import services


@shared_task(bind=True, max_retries=services.MAX_ATTEMPTS, acks_late=True)
def inbound_process_task(self, inbound_id: int) -> None:
    try:
        services.inbound_process(inbound_id=inbound_id)
    except Exception as exc:
        # Exponential backoff with jitter; the row is back in `received` so the sweeper is a safety net.
        raise self.retry(exc=exc, countdown=min(2 ** self.request.retries, 60) + random.uniform(0, 1)) from exc


@shared_task
def inbound_sweep_task() -> int:
    return services.inbound_sweep()
