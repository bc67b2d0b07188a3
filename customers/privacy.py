"""Personal-data export and erasure (PIPL).

Erasure keeps the customer row as an anonymous tombstone (`erased_at` set, every personal field
blanked) so that counts a campaign report or an aggregate was built from still add up; identities,
unionids, tags, preferences, consent, inbox and the engagement profile are deleted, and events lose
their properties. It cannot be undone: nothing is kept from which the person could be restored.
Apps that hold personal data customers/ cannot see (raw inbound messages, sessions…) register an
erasure handler; it runs in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from customers.errors import CustomerError
from customers.models import (
    ChannelIdentity,
    ConsentCredit,
    Customer,
    CustomerMerge,
    CustomerPreference,
    CustomerTag,
    CustomerUnionId,
    EngagementEvent,
    EngagementProfile,
    Gender,
    InboxMessage,
    TopicSubscription,
)
from customers.privacy_models import PrivacyRequest, PrivacyRequestKind
from customers.segments.models import SegmentStaticMember
from scrm.errors import ApplicationError, CommonError

logger = logging.getLogger(__name__)

# handler(customer_id) -> {label: rows removed}; called inside the erasure transaction.
ErasureHandler = Callable[[int], dict[str, int]]
_erasure_handlers: list[ErasureHandler] = []

_PROFILE_EXPORT_FIELDS = (
    "display_name", "avatar_url", "gender", "city", "province", "country", "language", "timezone", "phone",
    "attributes", "source", "first_seen_at", "last_engaged_at",
)  # fmt: skip


def register_erasure_handler(handler: ErasureHandler) -> ErasureHandler:
    """Let another app remove what it holds about a customer when the customer is erased."""
    if handler not in _erasure_handlers:
        _erasure_handlers.append(handler)
    return handler


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def customer_export(*, customer: Customer, requested_by: str) -> dict[str, Any]:
    """Everything personal the product holds about the customer, as JSON-ready data; audited."""
    if customer.erased_at is not None:
        raise ApplicationError(code=CustomerError.CUSTOMER_ERASED)
    identities = [
        {
            "kind": identity.kind,
            "account": identity.account.name,
            "external_id": identity.external_id,
            "unionid": identity.unionid,
            "follow_state": identity.follow_state,
            "followed_at": _plain(identity.followed_at),
            "created_at": _plain(identity.created_at),
        }
        for identity in ChannelIdentity.objects.filter(customer=customer).select_related("account").order_by("pk")
    ]
    tags = [
        {"group": link.tag.group.name, "tag": link.tag.name, "source": link.source, "assigned_at": _plain(link.assigned_at)}
        for link in CustomerTag.objects.filter(customer=customer).select_related("tag__group").order_by("pk")
    ]
    preference = CustomerPreference.objects.filter(customer=customer).first()
    topics = [
        {"tag": sub.tag.name, "opted_in": sub.opted_in, "updated_at": _plain(sub.updated_at)}
        for sub in TopicSubscription.objects.filter(customer=customer).select_related("tag").order_by("pk")
    ]
    consents = [
        {"template_id": c.template_id, "remaining": c.remaining}
        for c in ConsentCredit.objects.filter(customer=customer).order_by("pk")
    ]
    events = [
        {"type": e.event_type, "occurred_at": _plain(e.occurred_at), "properties": e.properties}
        for e in EngagementEvent.objects.filter(customer=customer).order_by("occurred_at", "pk").iterator(chunk_size=2000)
    ]
    inbox = [
        {"title": m.title, "body": m.body, "created_at": _plain(m.created_at), "read_at": _plain(m.read_at)}
        for m in InboxMessage.objects.filter(customer=customer).order_by("created_at", "pk")
    ]
    data = {
        "customer_id": customer.pk,
        "exported_at": timezone.now().isoformat(),
        "profile": {name: _plain(getattr(customer, name)) for name in _PROFILE_EXPORT_FIELDS},
        "identities": identities,
        "tags": tags,
        "preferences": {
            "frequency": preference.frequency if preference else None,
            "quiet_start": _plain(preference.quiet_start) if preference else None,
            "quiet_end": _plain(preference.quiet_end) if preference else None,
            "topics": topics,
        },
        "consent_credits": consents,
        "events": events,
        "inbox": inbox,
    }
    PrivacyRequest.objects.create(
        kind=PrivacyRequestKind.EXPORT,
        customer_id=customer.pk,
        requested_by=requested_by,
        summary={name: len(data[name]) for name in ("identities", "tags", "consent_credits", "events", "inbox")},
    )
    logger.info("personal data of customer %s exported (%s)", customer.pk, requested_by)
    return data


@transaction.atomic
def customer_erase(*, customer_id: int, requested_by: str) -> PrivacyRequest:
    """Irreversibly remove the customer's personal data and identities; keep anonymous aggregates."""
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise ApplicationError(gettext("Customer not found."), code=CommonError.NOT_FOUND)
    if customer.erased_at is not None:
        raise ApplicationError(gettext("This customer's data was already erased."), code=CustomerError.CUSTOMER_ERASED)

    removed: dict[str, int] = {}

    def _delete(label: str, queryset) -> None:
        count, _ = queryset.delete()
        if count:
            removed[label] = count

    # Handlers first: they may still need the identities to find what they hold.
    for handler in _erasure_handlers:
        for label, count in (handler(customer_id) or {}).items():
            if count:
                removed[label] = removed.get(label, 0) + count
    _delete("identities", ChannelIdentity.objects.filter(customer_id=customer_id))
    _delete("unionids", CustomerUnionId.objects.filter(customer_id=customer_id))
    _delete("tags", CustomerTag.objects.filter(customer_id=customer_id))
    _delete("topic_subscriptions", TopicSubscription.objects.filter(customer_id=customer_id))
    _delete("preferences", CustomerPreference.objects.filter(customer_id=customer_id))
    _delete("consent_credits", ConsentCredit.objects.filter(customer_id=customer_id))
    _delete("inbox", InboxMessage.objects.filter(customer_id=customer_id))
    _delete("engagement_profile", EngagementProfile.objects.filter(customer_id=customer_id))
    # An operator's list (e.g. an uploaded VIP list) says something about the person; a campaign's
    # snapshot is a historical count and stays.
    _delete("static_segment_memberships", SegmentStaticMember.objects.filter(customer_id=customer_id))
    # Events stay for the aggregates (type, time, campaign); what they said about the person goes.
    # dedupe keys can embed an openid, so they go too.
    removed["events_anonymised"] = EngagementEvent.objects.filter(customer_id=customer_id).update(
        properties={}, dedupe_key=None
    )
    # Merge audits keep that a merge happened, not the merged person's profile.
    CustomerMerge.objects.filter(survivor_id=customer_id).update(merged_snapshot={})

    customer.display_name = ""
    customer.avatar_url = ""
    customer.gender = Gender.UNKNOWN
    customer.city = customer.province = customer.country = ""
    customer.language = customer.timezone = ""
    customer.phone = ""
    customer.phone_hash = ""
    customer.attributes = {}
    customer.source = ""
    customer.erased_at = timezone.now()
    customer.save()

    record = PrivacyRequest.objects.create(
        kind=PrivacyRequestKind.ERASURE, customer_id=customer_id, requested_by=requested_by, summary=removed
    )
    logger.info("customer %s erased (%s): %s", customer_id, requested_by, removed)
    return record
