"""Celery tasks of this feature (thin: load by id, call a service)."""

from __future__ import annotations

from celery import shared_task

from customers.segments.models import Segment
from customers.segments.services import segment_count_refresh

__all__ = ["segment_count_refresh_task", "segments_count_refresh_all_task"]


@shared_task(acks_late=True, ignore_result=True)
def segment_count_refresh_task(segment_id: int) -> None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return
    segment_count_refresh(segment=segment)


@shared_task(acks_late=True, ignore_result=True)
def segments_count_refresh_all_task() -> int:
    """Periodic: refresh every segment's count (one task each, so one slow rule delays no other)."""
    ids = list(Segment.objects.values_list("pk", flat=True))
    for segment_id in ids:
        segment_count_refresh_task.delay(segment_id)
    return len(ids)
