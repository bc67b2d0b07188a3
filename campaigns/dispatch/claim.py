"""Claiming deliveries for a send, and giving back what was not sent.

A row is claimed by a conditional `UPDATE … WHERE state = 'planned'` over `FOR UPDATE SKIP LOCKED`
rows, so two workers never claim the same delivery. A claim is a lease of CAMPAIGN_CLAIM_LEASE_SECONDS
that the live pump renews (campaigns/dispatch/liveness.py); a worker that dies stops renewing, and
the watchdog returns its rows to 'planned' seconds later (their idempotency key makes the re-send
safe).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from campaigns.dispatch import sql as dispatch_sql
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState, WeComSenderRule
from customers.models import ChannelIdentity, Customer
from customers.wecom.selectors import identities_owner_staff
from scrm.sqltools import render


@dataclass
class Claimed:
    """A delivery claimed for this batch, with what rendering and the adapter need of its recipient."""

    id: int
    customer_id: int
    identity_id: int | None
    batch_key: str
    attempts: int
    external_id: str = ""
    owner_staff_id: str = ""
    customer: Any = None


def lease_seconds() -> float:
    return float(settings.CAMPAIGN_CLAIM_LEASE_SECONDS)


def campaign_state(campaign_id: int) -> str:
    return Campaign.objects.filter(pk=campaign_id).values_list("state", flat=True).first() or CampaignState.CANCELLED


def deliveries_claim(*, campaign: Campaign, limit: int) -> list[Claimed]:
    """Move up to `limit` due planned deliveries to sending; concurrent claimers skip each other's rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.CLAIM), {"campaign": campaign.pk, "limit": limit, "lease": lease_seconds()})
        rows = [Claimed(*row) for row in cursor.fetchall()]
    rows.sort(key=lambda r: r.id)
    return rows


def load_recipients(rows: list[Claimed], *, sender_rule: str = WeComSenderRule.LAST_INTERACTION) -> None:
    """Fill in each row's identity (external id, the staff member who sends a WeCom group message by
    the campaign's sender rule) and customer (for rendering). The identity's derived sender is the
    most recent interaction (customers.wecom.services); the owner rule reads the relationships."""
    identities = {
        i["id"]: i
        for i in ChannelIdentity.objects.filter(pk__in=[r.identity_id for r in rows if r.identity_id]).values("id", "external_id", "owner_staff_id")
    }
    customers = Customer.objects.only("id", "display_name", "city", "province", "country", "gender").in_bulk([r.customer_id for r in rows])
    for row in rows:
        identity = identities.get(row.identity_id) or {}
        row.external_id = identity.get("external_id", "")
        row.owner_staff_id = identity.get("owner_staff_id", "")
        row.customer = customers.get(row.customer_id)
    if sender_rule == WeComSenderRule.OWNER:
        owners = identities_owner_staff(identity_ids=[r.identity_id for r in rows if r.identity_id])
        for row in rows:
            row.owner_staff_id = owners.get(row.identity_id) or row.owner_staff_id


def deliveries_release(ids: list[int], campaign_id: int) -> None:
    """Give unsent claimed rows back: planned again, or cancelled when the campaign was cancelled."""
    if not ids:
        return
    Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING).update(state=DeliveryState.PLANNED, claimed_at=None)
    if campaign_state(campaign_id) == CampaignState.CANCELLED:
        Delivery.objects.filter(pk__in=ids, state=DeliveryState.PLANNED).update(state=DeliveryState.CANCELLED)


def deliveries_leases_renew(ids: list[int]) -> int:
    """Extend the lease of the rows this pump still holds in 'sending'; the number renewed."""
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.LEASES_RENEW), {"ids": ids, "lease": lease_seconds()})
        return cursor.rowcount


def deliveries_sweep_expired() -> list[int]:
    """Return 'sending' rows whose lease lapsed (their worker died) to 'planned'; the campaigns touched.
    Their idempotency key makes the re-send safe."""
    with connection.cursor() as cursor:
        cursor.execute(render(dispatch_sql.SWEEP_EXPIRED), {"lease": lease_seconds()})
        return sorted({row[0] for row in cursor.fetchall()})
