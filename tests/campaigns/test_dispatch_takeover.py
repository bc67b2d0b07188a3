"""A surviving worker takes a dead worker's campaign over (issue 14, defect 4, the two-host drill):
the watchdog's re-pumps wait in a queue behind other work for longer than the stall grace, and must
still send rather than step aside for one another generation after generation."""

import time
from collections import Counter

from campaigns import dispatch, tasks
from campaigns.models import Campaign, Delivery
from tests.campaigns.test_dispatch import sent_to
from tests.campaigns.test_dispatch_recovery import planned_campaign


class SlowQueue:
    """The dispatch queue of a surviving worker that is busy elsewhere: every task, the watchdog's
    re-pumps and the pumps' own next slices, runs `wait` seconds after it is enqueued."""

    def __init__(self, monkeypatch, wait: float):
        self.wait = wait
        self.queued: list[tuple[float, tuple]] = []
        self.ran: list[tuple] = []
        monkeypatch.setattr(tasks.dispatch_campaign_task, "apply_async", self.enqueue)

    def enqueue(self, args, countdown=0, **options):
        self.queued.append((time.monotonic() + (countdown or 0) + self.wait, tuple(args)))

    def run_due(self):
        due = [entry for entry in self.queued if entry[0] <= time.monotonic()]
        for entry in due:
            self.queued.remove(entry)
            self.ran.append(entry[1])
            tasks.dispatch_campaign_task(*entry[1])


def test_a_dead_workers_campaign_is_taken_over_although_the_survivors_queue_is_slower_than_the_grace(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings, monkeypatch
):
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 1.0
    settings.CAMPAIGN_PUMP_STALL_SECONDS = 1.0
    settings.CAMPAIGN_DISPATCH_SLICE_SECONDS = 0.5
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 12)
    # Host A's pump claimed a batch and showed life, then A was killed: its keeper renews nothing.
    assert len(dispatch.deliveries_claim(campaign=campaign, limit=5)) == 5
    dispatch.pump_alive(campaign_id=campaign.pk, for_seconds=1.0)
    queue = SlowQueue(monkeypatch, wait=2.5)
    killed = time.monotonic()
    while time.monotonic() - killed < 20 and Campaign.objects.get(pk=campaign.pk).state == "sending":
        tasks.campaign_pumps_watchdog_task()
        queue.run_due()
        time.sleep(0.2)
    took = time.monotonic() - killed
    campaign.refresh_from_db()
    generations = sorted({generation for _, generation in queue.ran})
    assert campaign.state == "completed", (took, generations, campaign.pump_generation, Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)))
    # Lease (1) + a queue wait (2.5) + a few slices; not one round of re-pumps after another.
    assert took < 8, (took, generations)
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
    assert campaign.counters.sent == 12


def test_a_dead_workers_lapsed_claims_go_to_the_survivor_without_a_new_generation(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings, monkeypatch
):
    # Two workers pump the campaign; one dies holding a batch. Its rows are handed back once their lease
    # lapses, and the survivor, alive all along, sends them: no re-pump that would make it step aside.
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 1.0
    settings.CAMPAIGN_PUMP_STALL_SECONDS = 1.0
    sandbox.control.set_faults(latency_ms=150, paths=["message/template/send"])
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 16)
    generation = campaign.pump_generation
    assert len(dispatch.deliveries_claim(campaign=campaign, limit=4)) == 4
    queue = SlowQueue(monkeypatch, wait=0)
    queue.enqueue([campaign.pk, generation])
    started = time.monotonic()
    while time.monotonic() - started < 20 and Campaign.objects.get(pk=campaign.pk).state == "sending":
        tasks.campaign_pumps_watchdog_task()
        queue.run_due()
        time.sleep(0.1)
    sandbox.control.reset_faults()
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert campaign.pump_generation == generation
    assert set(queue.ran) == {(campaign.pk, generation)}
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
