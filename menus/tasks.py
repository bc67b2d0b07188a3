"""Celery tasks of menus (thin: ids in, one service). Replies are sent on `callbacks` (a click's window
is a minute: menus.routing names the queue), the periodic segment tag sync runs on `default`."""

from celery import shared_task

from menus.replies import menu_reply_send
from menus.segment_tags import segment_tags_sync_published


@shared_task(acks_late=True)
def menu_reply_send_task(reply_id: int) -> str:
    return menu_reply_send(reply_id=reply_id)


@shared_task
def menu_segment_tags_sync_task() -> dict:
    return {str(k): v for k, v in segment_tags_sync_published().items()}
