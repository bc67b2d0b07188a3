"""Writes on the mini-program message centre (InboxMessage): other apps put items in through here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from customers.models import InboxMessage

BATCH_SIZE = 1000


@dataclass(frozen=True)
class InboxItem:
    customer_id: int
    title: str
    body: str = ""
    link_url: str = ""
    mp_page: str = ""
    campaign_id: int | None = None
    delivery_id: int | None = None


def inbox_messages_create(*, items: Iterable[InboxItem]) -> None:
    """Put items in customers' message centres; one per (customer, campaign), so a re-run adds nothing."""
    now = timezone.now()
    title_length = InboxMessage._meta.get_field("title").max_length
    InboxMessage.objects.bulk_create(
        [
            InboxMessage(
                customer_id=item.customer_id,
                title=item.title[:title_length],
                body=item.body,
                link_url=item.link_url,
                mp_page=item.mp_page,
                campaign_id=item.campaign_id,
                delivery_id=item.delivery_id,
                created_at=now,
            )
            for item in items
        ],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
