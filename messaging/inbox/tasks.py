"""The inbox's background work: the automatic reply outside business hours (after the callback commits)."""

from __future__ import annotations

from celery import shared_task

from messaging.inbox.services import after_hours_reply

__all__ = ["inbox_after_hours_reply_task"]


@shared_task
def inbox_after_hours_reply_task(conversation_id: int, message_id: int) -> None:
    after_hours_reply(conversation_id=conversation_id, message_id=message_id)
