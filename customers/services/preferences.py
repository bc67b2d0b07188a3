"""Writes on the customer's own choices: the preference centre (frequency, quiet hours, topics)
and the mini-program message centre (an item read)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from customers.models import CustomerPreference, CustomerTag, InboxMessage, TagSource, TopicSubscription
from customers.services.events import event_record
from customers.services.tags import tags_assign_bulk
from scrm.errors import NotFound

# The customer saved their preference-centre choices (recorded by the mini-program API; the
# simulator's answers to a welcome message's question about interests are the same event).
PREFERENCES_EVENT = "mp.preferences"


@transaction.atomic
def customer_preferences_set(
    *,
    customer_id: int,
    frequency: str,
    quiet_start: time | None,
    quiet_end: time | None,
    topics: dict[int, bool],
    offered_topic_ids: Collection[int],
) -> None:
    """Replace the customer's preference-centre choices; `offered_topic_ids` are every topic on offer.

    A topic chosen is an explicit TopicSubscription and, when wanted, the interest tag itself
    (source "preference"); an offered topic left out of `topics` has no explicit choice any more.
    """
    offered = set(offered_topic_ids)
    CustomerPreference.objects.update_or_create(
        customer_id=customer_id, defaults={"frequency": frequency, "quiet_start": quiet_start, "quiet_end": quiet_end}
    )
    TopicSubscription.objects.filter(customer_id=customer_id, tag_id__in=offered - set(topics)).delete()
    for tag_id, wanted in topics.items():
        TopicSubscription.objects.update_or_create(
            customer_id=customer_id, tag_id=tag_id, defaults={"opted_in": wanted}
        )
    wanted_ids = [tag_id for tag_id, wanted in topics.items() if wanted]
    # Only tags this centre added are taken away: an operator's or a rule's tag stays.
    CustomerTag.objects.filter(
        customer_id=customer_id, tag_id__in=offered - set(wanted_ids), source=TagSource.PREFERENCE
    ).delete()
    if wanted_ids:
        tags_assign_bulk(tag_ids=wanted_ids, customers=[customer_id], source=TagSource.PREFERENCE)


@transaction.atomic
def inbox_message_mark_read(*, customer_id: int, account_id: int, message_id: int) -> InboxMessage:
    """Mark one of the customer's inbox items read; the first read is an `inbox.read` event."""
    message = InboxMessage.objects.filter(pk=message_id, customer_id=customer_id).first()
    if message is None:
        raise NotFound(gettext("Inbox message not found."))
    now = timezone.now()
    if InboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now):
        message.read_at = now
        event_record(
            customer_id=customer_id,
            event_type="inbox.read",
            occurred_at=now,
            account_id=account_id,
            campaign_id=message.campaign_id,
            delivery_id=message.delivery_id,
            properties={"inbox_message_id": message.pk},
            dedupe_key=f"inbox.read:{message.pk}",
        )
    return message
