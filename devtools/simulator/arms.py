"""The arms of a simulation: one account mirroring the audience, and what the product records of the people's actions."""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count

from campaigns.models import Delivery, DeliveryState, Suppression
from customers.models import ChannelIdentity
from customers.services import events_record_bulk, identity_set_follow_state
from customers.services.bulk import CustomerUpsert, IdentityUpsert, customers_upsert_bulk
from customers.services.consent import consent_credits_revoke
from customers.services.identity import Refusal, identity_record_refusal
from devtools.simulator.audience import ArmTally, PersonSpec

SUBSCRIBE_TEMPLATE = "SIM-SUB"


@dataclass
class Arm:
    name: str
    account: Any
    customer_ids: list[int]
    identity_ids: list[int]
    rng: random.Random
    segments: dict[int, int] = field(default_factory=dict)  # topic index → segment id
    following: list[bool] = field(default_factory=list)
    history: list[deque] = field(default_factory=list)  # per person: PushOutcome, oldest first
    tally: ArmTally = field(default_factory=lambda: ArmTally(name=""))
    campaign_ids: list[int] = field(default_factory=list)
    open_ids: set[int] = field(default_factory=set)  # campaigns not yet completed or cancelled
    checked_at: datetime = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    seen_deliveries: set[int] = field(default_factory=set)
    by_customer: dict[int, int] = field(default_factory=dict)
    topic_of: dict[int, int] = field(default_factory=dict)  # campaign id → topic index
    number_of: dict[int, int] = field(default_factory=dict)  # campaign id → the run's campaign number
    sent: dict[tuple[int, int], datetime] = field(default_factory=dict)  # (campaign number, person) → sent at
    outcomes: dict[tuple[int, int], tuple[bool, bool]] = field(default_factory=dict)  # (number, person) → (read, clicked)


def followers_create(people: list[PersonSpec], *, account_id: int, openids: list[str], name: str) -> tuple[list[int], list[int]]:
    """One customer per follower, through customers' bulk upsert: customer ids and identity ids in order."""
    rows = [
        CustomerUpsert(
            values={"display_name": f"sim {name} {person.display_name}"[:64], "timezone": person.timezone},
            identities=[IdentityUpsert(account_id=account_id, kind="oa_openid", external_id=openid, follow_state="following")],
        )
        for person, openid in zip(people, openids, strict=True)
    ]
    customer_ids = customers_upsert_bulk(rows, link_unionids=False).customer_ids

    by_openid = dict(ChannelIdentity.objects.filter(account_id=account_id).values_list("external_id", "pk"))
    return customer_ids, [by_openid[openid] for openid in openids]


def arm_disturb(arm: Arm, person: int, outcome: str, *, now: datetime) -> None:
    """Record in the product what the audience said the person did: unfollow, mute or refuse consent."""
    customer_id, identity_id = arm.customer_ids[person], arm.identity_ids[person]
    if outcome == "unfollow":
        arm.following[person] = False
        arm.tally.unfollows += 1
        identity_set_follow_state(identity=ChannelIdentity.objects.get(pk=identity_id), following=False, at=now)
        events_record_bulk([{"customer_id": customer_id, "event_type": "wechat.unsubscribe", "occurred_at": now, "account_id": arm.account.pk}])
    elif outcome == "mute":
        if identity_record_refusal(identity_ids=[identity_id], refusal=Refusal.DO_NOT_DISTURB, at=now):
            arm.tally.mutes += 1
    elif outcome == "refuse_consent":
        if consent_credits_revoke(account_id=arm.account.pk, template_id=SUBSCRIBE_TEMPLATE, customer_ids=[customer_id]):
            arm.tally.consent_refusals += 1
    else:
        raise ValueError(f"the audience answered an unknown disturbance {outcome!r}")


def arm_suppressions(arm: Arm) -> dict[str, int]:
    """Customers left out, by reason: planning's suppressions and the send-time re-check's."""
    planned = Suppression.objects.filter(campaign_id__in=arm.campaign_ids).values("reason").annotate(n=Count("pk"))
    at_send = (
        Delivery.objects.filter(campaign_id__in=arm.campaign_ids, state=DeliveryState.SUPPRESSED)
        .values("error_code")
        .annotate(n=Count("pk"))
    )
    counts: Counter = Counter({row["reason"]: row["n"] for row in planned})
    for row in at_send:
        counts[row["error_code"] or "at_send"] += row["n"]
    return dict(sorted(counts.items()))
