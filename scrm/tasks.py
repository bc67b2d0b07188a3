from celery import shared_task

from scrm.heartbeat import heartbeat_record


@shared_task(ignore_result=True, acks_late=False)
def worker_heartbeat_task() -> None:
    """A worker took a task from the broker: it is alive (read by the console's health card)."""
    heartbeat_record("worker")
