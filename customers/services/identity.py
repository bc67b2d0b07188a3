"""Writes on channel identities: resolution by (account, external id) and unionid, follow state,
interactions that open the customer-service window, refusals, the WeCom owner."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.engagement.daily import daily_count_refusals
from customers.errors import CustomerError
from customers.models import ChannelIdentity, Customer, CustomerUnionId, FollowState
from customers.services.merge import customer_merge
from customers.services.profile import PROFILE_FIELDS, customer_fill_profile
from scrm.errors import ApplicationError


def identity_resolve(
    *,
    account,
    external_id: str,
    unionid: str = "",
    profile: dict[str, Any] | None = None,
) -> ChannelIdentity:
    """Find or create the identity (account, external id) and its customer, linking by unionid.

    Safe under concurrency: the identity and the unionid each have a unique constraint, and a
    loser of a race merges its fresh customer into the winner's.
    """
    if not external_id:
        raise ApplicationError(code=CustomerError.IDENTITY_MISSING_ID)
    kind = account.identity_kind
    identity = ChannelIdentity.objects.filter(account=account, kind=kind, external_id=external_id).select_related("customer").first()
    if identity is None:
        identity = _identity_create(account=account, kind=kind, external_id=external_id, unionid=unionid, profile=profile or {})
    elif profile:
        customer_fill_profile(identity.customer, profile)
    if unionid and identity.unionid != unionid:
        identity = identity_link_unionid(identity=identity, unionid=unionid)
    elif unionid:
        _ensure_unionid_owner(identity=identity, unionid=unionid)
    return identity


def _identity_create(*, account, kind: str, external_id: str, unionid: str, profile: dict[str, Any]) -> ChannelIdentity:
    owner = CustomerUnionId.objects.filter(unionid=unionid).select_related("customer").first() if unionid else None
    try:
        with transaction.atomic():
            customer = owner.customer if owner else _customer_create(profile)
            return ChannelIdentity.objects.create(
                customer=customer, account=account, kind=kind, external_id=external_id, unionid=unionid
            )
    except IntegrityError:
        # Another process created the same identity first.
        return ChannelIdentity.objects.select_related("customer").get(account=account, kind=kind, external_id=external_id)


def _customer_create(profile: dict[str, Any]) -> Customer:
    customer = Customer(**{k: v for k, v in profile.items() if k in PROFILE_FIELDS and v not in (None, "")})
    customer.save()
    return customer


def identity_link_unionid(*, identity: ChannelIdentity, unionid: str) -> ChannelIdentity:
    """Record the identity's unionid; if another customer owns it, merge into that customer."""
    ChannelIdentity.objects.filter(pk=identity.pk).update(unionid=unionid)
    identity.unionid = unionid
    _ensure_unionid_owner(identity=identity, unionid=unionid)
    identity.refresh_from_db()
    return identity


def _ensure_unionid_owner(*, identity: ChannelIdentity, unionid: str) -> None:
    CustomerUnionId.objects.bulk_create(
        [CustomerUnionId(unionid=unionid, customer_id=identity.customer_id)], ignore_conflicts=True
    )
    owner_id = CustomerUnionId.objects.values_list("customer_id", flat=True).get(unionid=unionid)
    if owner_id != identity.customer_id:
        customer_merge(
            survivor=Customer.objects.get(pk=owner_id),
            merged=Customer.objects.get(pk=identity.customer_id),
            reason=f"unionid {unionid} shared",
        )


# --- follow state, interaction -----------------------------------------------------------------


def identity_set_follow_state(*, identity: ChannelIdentity, following: bool, at: datetime, scene: str = "") -> bool:
    """Apply a follow/unfollow that happened at `at`, unless a later follow or unfollow is already known.

    WeChat may deliver events out of order (retries, parallel workers): an old subscribe arriving
    after a newer unsubscribe must not mark the customer as following again, and vice versa.
    """
    if not following:
        # An unfollow is a refusal: recorded by the one service that records refusals.
        return bool(identity_record_refusal(identity_ids=[identity.pk], refusal=Refusal.UNFOLLOWED, at=at))
    values: dict[str, Any] = {"follow_state": FollowState.FOLLOWING, "followed_at": at}
    if scene:
        values["subscribe_scene"] = scene
    return bool(_newer_follow_change_unknown(ChannelIdentity.objects.filter(pk=identity.pk), at).update(**values, updated_at=timezone.now()))


def _newer_follow_change_unknown(identities, at: datetime):
    return identities.exclude(followed_at__gte=at).exclude(unfollowed_at__gte=at)


def identity_touch_interaction(*, identity: ChannelIdentity, at: datetime, kind: str = "message") -> None:
    """Record a user-initiated interaction: it opens a new customer-service window of its kind ("message",
    or "event" for a follow, scan or menu click; customers/services/cs_window.py) with no message sent yet."""
    ChannelIdentity.objects.filter(pk=identity.pk).exclude(last_interaction_at__gte=at).update(
        last_interaction_at=at, cs_window_kind=kind, cs_window_sends=0
    )


def identity_set_owner_staff(*, identity_id: int, staff_userid: str) -> None:
    """WeCom: the staff member (userid) who owns the relationship."""
    ChannelIdentity.objects.filter(pk=identity_id).update(owner_staff_id=staff_userid[:64], updated_at=timezone.now())


# --- refusals ------------------------------------------------------------------------------------


class Refusal(StrEnum):
    """What a customer's refusal of pushes on one identity means; the contact policy reads each."""

    UNFOLLOWED = "unfollowed"  # 43004 on a send, or an unsubscribe: no longer follows the account
    TEMPLATE_BLOCKED = "template_blocked"  # template message "failed:user block": refuses templates
    DO_NOT_DISTURB = "do_not_disturb"  # 43019: the user put the account on their blacklist


def identity_record_refusal(*, identity_ids: Iterable[int], refusal: Refusal, at: datetime | None = None) -> int:
    """Record a refusal on identities (set-based, idempotent); returns identities that changed.

    An unfollow is applied in time order like any follow change: an older refusal does not undo a
    newer follow."""
    ids = sorted({int(pk) for pk in identity_ids})
    if not ids:
        return 0
    at = at or timezone.now()
    now = timezone.now()
    identities = ChannelIdentity.objects.filter(pk__in=ids)
    if refusal == Refusal.UNFOLLOWED:
        return _newer_follow_change_unknown(identities, at).update(
            follow_state=FollowState.UNFOLLOWED, unfollowed_at=at, updated_at=now
        )
    if refusal == Refusal.TEMPLATE_BLOCKED:
        return _mute(identities.filter(refuses_template=False), refusal, at, refuses_template=True, updated_at=now)
    if refusal == Refusal.DO_NOT_DISTURB:
        return _mute(identities.filter(do_not_disturb=False), refusal, at, do_not_disturb=True, updated_at=now)
    raise ValueError(refusal)


@transaction.atomic
def _mute(identities, refusal: Refusal, at: datetime, **values) -> int:
    # The dashboard's daily "mutes" count the identities that changed, by account.
    account_ids = list(identities.select_for_update().values_list("account_id", flat=True))
    changed = identities.update(**values)
    daily_count_refusals(account_ids=account_ids, refusal=str(refusal), at=at)
    return changed
