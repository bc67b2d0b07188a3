"""Dispatch and delivery as the simulation drives them: what beat and the dispatch workers do for each
arm's open campaigns at a tick (and between ticks, at the moments due), then who got a push."""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

import campaigns.services as campaign_services
from campaigns import dispatch
from campaigns.models import Campaign, CampaignState, Delivery, DeliveryState
from devtools.simulator.audience import Push

FINISHED = {CampaignState.COMPLETED, CampaignState.CANCELLED}


class Sending:
    """Mixed into Simulation (its arms, clock, heap, audience and reactions)."""

    def _dispatch(self) -> None:
        """What beat and the dispatch workers do for this arm's open campaigns, then who got a push."""
        now = self.clock.now()
        for arm in self.arms:
            if not arm.open_ids:
                continue
            states = dict(Campaign.objects.filter(pk__in=arm.open_ids).values_list("pk", "state"))
            due = Campaign.objects.filter(pk__in=arm.open_ids, state=CampaignState.SCHEDULED, scheduled_at__lte=now).values_list("pk", flat=True)
            for campaign_id in list(due):
                campaign_services.campaign_plan(campaign_id=campaign_id)
                states[campaign_id] = CampaignState.SENDING
            sending = [pk for pk, state in states.items() if state == CampaignState.SENDING]
            planned = dict(
                Delivery.objects.filter(campaign_id__in=sending, state=DeliveryState.PLANNED)
                .values("campaign_id")
                .annotate(due=Count("pk", filter=Q(send_after__lte=now)))
                .values_list("campaign_id", "due")
            )
            for campaign_id in sending:
                # A worker would find nothing due; one with nothing left planned completes the campaign.
                if planned.get(campaign_id, 1) == 0:
                    continue
                for _ in range(50):
                    result = dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=120)
                    if result.requeue_in != 0:
                        break
            # Sent since the last look (the clock only moves forward); `seen` guards the boundary.
            fresh = Delivery.objects.filter(campaign_id__in=arm.open_ids, sent_at__gte=arm.checked_at).order_by("pk")
            arm.checked_at = now
            for delivery_id, customer_id, campaign_id, sent_at in fresh.values_list("pk", "customer_id", "campaign_id", "sent_at"):
                if delivery_id in arm.seen_deliveries:
                    continue
                arm.seen_deliveries.add(delivery_id)
                arm.tally.pushes += 1
                person = arm.by_customer[customer_id]
                arm.sent[(arm.number_of[campaign_id], person)] = sent_at
                push = Push(channel=self.params.channel, topics=frozenset({arm.topic_of[campaign_id]}), sent_at=sent_at, arm=arm.name)
                read_at = self.audience.read(person, push, arm.rng)
                data = {"arm": arm.name, "person": person, "delivery": delivery_id, "campaign": campaign_id, "push": push}
                if read_at is None:
                    # Never read: the push still counts against their patience, a day later.
                    self._schedule(sent_at + timedelta(hours=24), "unread", **data)
                else:
                    self._schedule(max(read_at, sent_at), "read", **data)
            done = {pk for pk, state in Campaign.objects.filter(pk__in=arm.open_ids).values_list("pk", "state") if state in FINISHED}
            arm.open_ids -= done

    def _dispatch_until(self, until: datetime) -> None:
        """Planning and dispatch at the moments due before the next tick (a send slot at 20:45, a campaign
        scheduled then), as the dispatch pump would between beats; the reactions before each come first."""
        while True:
            open_ids = [pk for arm in self.arms for pk in arm.open_ids]
            if not open_ids:
                return
            now = self.clock.now()
            moments = [
                Delivery.objects.filter(campaign_id__in=open_ids, state=DeliveryState.PLANNED, send_after__gt=now, send_after__lt=until)
                .aggregate(m=Min("send_after"))["m"],
                Campaign.objects.filter(pk__in=open_ids, state=CampaignState.SCHEDULED, scheduled_at__gt=now, scheduled_at__lt=until)
                .aggregate(m=Min("scheduled_at"))["m"],
            ]
            due = min((m for m in moments if m is not None), default=None)
            if due is None:
                return
            while self.heap and self.heap[0][0] < due:
                at, _, kind, data = heapq.heappop(self.heap)
                self.clock.set(at)
                self._react(kind, data)
            self.clock.set(due)
            self._dispatch()
