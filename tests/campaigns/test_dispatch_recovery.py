"""Recovery from a dead dispatch worker within seconds (issue 14, defect 4): claims are leases renewed
by the live pump; the watchdog hands a dead worker's claims back and re-pumps a sending campaign whose
pump stopped showing life, under a new generation; pumps racing send each delivery once."""

import threading
import time
from collections import Counter
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from campaigns import dispatch, tasks
from campaigns.dispatch.send import send_each
from campaigns.models import Campaign, ContactPolicy, Delivery
from tests.campaigns.test_dispatch import drain, plan_without_pumps, scheduled_campaign, sent_to


def planned_campaign(sandbox_oa, static_segment, sandbox_followers, n):
    people = sandbox_followers(sandbox_oa, n)
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    campaign.refresh_from_db()
    return campaign, people


def enqueued_pumps(monkeypatch):
    """The pumps the watchdog task enqueues (captured instead of sent to the broker)."""
    calls = []
    monkeypatch.setattr(tasks.dispatch_campaign_task, "apply_async", lambda args, **options: calls.append(tuple(args)))
    return calls


def test_a_dead_workers_claims_are_handed_back_and_resent_within_the_lease(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings, monkeypatch
):
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 1.0
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 6)
    # A worker claims every row and dies (kill -9): nobody renews its leases.
    assert len(dispatch.deliveries_claim(campaign=campaign, limit=10)) == 6
    started = time.monotonic()
    pumps = enqueued_pumps(monkeypatch)
    tasks.campaign_pumps_watchdog_task()
    assert Delivery.objects.filter(campaign=campaign, state="sending").count() == 6
    while not pumps and time.monotonic() - started < 5:
        time.sleep(0.2)
        tasks.campaign_pumps_watchdog_task()
    # Handed back within the lease (plus a watchdog run), not after minutes.
    assert time.monotonic() - started < 3
    generation = Campaign.objects.get(pk=campaign.pk).pump_generation
    assert pumps == [(campaign.pk, generation)] * settings.CAMPAIGN_DISPATCH_CONCURRENCY
    assert Delivery.objects.filter(campaign=campaign, state="planned").count() == 6
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=generation, budget_seconds=30)
    assert result.sent == 6
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})


def test_a_live_pumps_claims_are_renewed_and_never_handed_back(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings):
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 1.0
    campaign, _ = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 4)
    rows = dispatch.deliveries_claim(campaign=campaign, limit=10)
    keeper = dispatch.LeaseKeeper(campaign.pk, every=0.2)
    keeper.hold([r.id for r in rows])
    keeper.start()
    try:
        time.sleep(2.0)
        assert dispatch.deliveries_sweep_expired() == []
        assert Delivery.objects.filter(campaign=campaign, state="sending").count() == 4
    finally:
        keeper.stop()
    time.sleep(1.2)
    assert dispatch.deliveries_sweep_expired() == [campaign.pk]


def test_a_sending_campaign_whose_pump_died_between_slices_is_repumped(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, monkeypatch, settings
):
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 5)
    first = campaign.pump_generation
    pumps = enqueued_pumps(monkeypatch)
    # Its pumps were just enqueued: they get a grace to leave the queue, nothing to do for the watchdog.
    tasks.campaign_pumps_watchdog_task()
    assert pumps == []
    # The worker died holding the pump's next task (no row claimed): the grace passes with no sign of life.
    gone = timezone.now() - timedelta(seconds=settings.CAMPAIGN_PUMP_STALL_SECONDS + 1)
    Campaign.objects.filter(pk=campaign.pk).update(pump_alive_until=timezone.now() - timedelta(seconds=1), pump_restarted_at=gone)
    tasks.campaign_pumps_watchdog_task()
    campaign.refresh_from_db()
    assert campaign.pump_generation == first + 1
    assert pumps == [(campaign.pk, first + 1)] * settings.CAMPAIGN_DISPATCH_CONCURRENCY
    # The next run gives the new pumps their grace to leave the queue: no more copies.
    tasks.campaign_pumps_watchdog_task()
    assert len(pumps) == 2
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=first + 1, budget_seconds=30)
    assert result.sent == 5
    # The dead worker's task, redelivered an hour later, steps aside while a current pump is alive.
    Campaign.objects.filter(pk=campaign.pk).update(state="sending")
    assert dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=first).stopped in ("superseded", "completed")
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})


def test_an_old_generation_pump_runs_when_nobody_else_is_alive_then_steps_aside(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy
):
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 3)
    old = campaign.pump_generation
    Campaign.objects.filter(pk=campaign.pk).update(pump_generation=old + 1, pump_alive_until=timezone.now() - timedelta(seconds=1))
    # The new generation's pumps are lost too, or still queued: the old one, turning up while no pump is
    # alive, works rather than starve the campaign, and takes the current generation on.
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=old, budget_seconds=30)
    assert result.sent == 3 and result.generation == old + 1
    # With a current pump alive it steps aside.
    Campaign.objects.filter(pk=campaign.pk).update(state="sending", pump_alive_until=timezone.now() + timedelta(seconds=30))
    assert dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=old).stopped == "superseded"
    assert dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=old + 1).stopped == ""
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})


def test_two_pumps_racing_on_one_campaign_send_each_delivery_once(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy):
    ContactPolicy.objects.filter(pk=1).update(dispatch_batch_size=7)
    sandbox.control.set_faults(latency_ms=10, paths=["message/template/send"])
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 60)
    results = []

    def pump():
        try:
            results.append(dispatch.campaign_dispatch(campaign_id=campaign.pk, generation=campaign.pump_generation, budget_seconds=60))
        finally:
            connection.close()

    racers = [threading.Thread(target=pump) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    sandbox.control.reset_faults()
    drain(campaign.pk)
    assert sum(r.sent for r in results) <= 60
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
    assert Delivery.objects.filter(campaign=campaign, state="sent").count() == 60
    assert campaign.counters.sent == 60


def test_a_claim_lapsed_under_a_slow_live_pump_is_sent_and_counted_once_when_two_pumps_hold_it(
    sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings
):
    # The lease lapses although the first worker lives (a long stall): the row is handed back and a
    # second pump claims it. Both send; WeChat de-duplicates by the delivery id, and the outcome is
    # recorded and counted once (only a row still in 'sending' takes an outcome).
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 0.5
    campaign, people = planned_campaign(sandbox_oa, static_segment, sandbox_followers, 2)
    stalled = dispatch.deliveries_claim(campaign=campaign, limit=10)
    time.sleep(0.7)
    assert dispatch.deliveries_sweep_expired() == [campaign.pk]
    settings.CAMPAIGN_CLAIM_LEASE_SECONDS = 20
    second = dispatch.deliveries_claim(campaign=campaign, limit=10)
    assert sorted(r.id for r in second) == sorted(r.id for r in stalled)
    for rows in (stalled, second):
        dispatch.load_recipients(rows)
        pump = dispatch.Pump(Campaign.objects.select_related("account").get(pk=campaign.pk), budget_seconds=30)
        try:
            assert send_each(pump, rows)
        finally:
            pump.close()
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
    assert Delivery.objects.filter(campaign=campaign, state="sent").count() == 2
    campaign.refresh_from_db()
    assert campaign.counters.sent == 2


def test_the_watchdog_runs_every_few_seconds_on_a_queue_the_pumps_do_not_fill():
    from scrm.celery import app

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "campaigns.tasks.campaign_pumps_watchdog_task")
    assert entry["schedule"] <= 10
    assert app.amqp.router.route({}, "campaigns.tasks.campaign_pumps_watchdog_task")["queue"].name == "default"
    assert app.amqp.router.route({}, "campaigns.tasks.dispatch_campaign_task")["queue"].name == "dispatch"
