"""Reads for the mini-program API. Everything a customer reads is filtered by that customer here."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import AccountKind, ChannelAccount
from customers.models import ConsentCredit, CustomerPreference, InboxMessage, Tag, TopicSubscription


def mp_account_for_appid(*, appid: str) -> ChannelAccount | None:
    return ChannelAccount.objects.filter(kind=AccountKind.MINIPROGRAM, app_id=appid, is_active=True).first()


def topic_tags_queryset() -> QuerySet[Tag]:
    """Interest tags a customer may choose in the preference centre: the tags of the topic groups."""
    groups = settings.MP_TOPIC_TAG_GROUPS
    if not groups:
        return Tag.objects.none()
    condition = reduce(or_, (Q(group__name__iexact=name) for name in groups))
    return Tag.objects.filter(condition).select_related("group").order_by("group__name", "name")


def preferences_get(*, customer_id: int) -> dict:
    preference = CustomerPreference.objects.filter(customer_id=customer_id).first()
    choices = dict(TopicSubscription.objects.filter(customer_id=customer_id).values_list("tag_id", "opted_in"))
    topics = [
        {"id": tag.pk, "name": tag.name, "group": tag.group.name, "subscribed": choices.get(tag.pk)}
        for tag in topic_tags_queryset()
    ]
    quiet_hours = None
    if preference and preference.quiet_start is not None and preference.quiet_end is not None:
        quiet_hours = {"start": preference.quiet_start, "end": preference.quiet_end}
    return {
        "frequency": preference.frequency if preference else CustomerPreference._meta.get_field("frequency").default,
        "quiet_hours": quiet_hours,
        "topics": topics,
    }


def inbox_for_customer(*, customer_id: int, unread_only: bool = False) -> QuerySet[InboxMessage]:
    qs = InboxMessage.objects.filter(customer_id=customer_id)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def consent_credits_for(*, customer_id: int, account_id: int, template_ids: list[str]) -> dict[str, int]:
    found = dict(
        ConsentCredit.objects.filter(
            customer_id=customer_id, account_id=account_id, template_id__in=template_ids
        ).values_list("template_id", "remaining")
    )
    return {template_id: found.get(template_id, 0) for template_id in template_ids}
