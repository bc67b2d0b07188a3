"""Dispatch against the real sandbox over HTTP: exactly the expected messages, once each."""

import threading
import time
from collections import Counter
from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import ContactPolicy, Delivery
from campaigns.policy import effective_policy
from campaigns.rendering import MessageRenderer
from customers.models import EngagementEvent
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import CampaignFactory, ChannelAccountFactory

TEMPLATE_CONTENT = {
    "template_id": "TPL-ORDER",
    "template_keys": ["first", "keyword1"],
    "fields": {"first": "Hi {{ customer.display_name }}", "keyword1": "Your order shipped"},
    "url": "https://shop.example.com/orders",
}


def scheduled_campaign(account, segment, **fields):
    """An order-update template campaign, scheduled and due now."""
    defaults = {"message_type": "template", "priority_class": "transactional", "content": TEMPLATE_CONTENT}
    return CampaignFactory(account=account, segment=segment, scheduled_now=True, **{**defaults, **fields})


def plan_without_pumps(campaign):
    # Deliberately not running the on-commit pumps: the tests drive dispatch themselves.
    with TestCase.captureOnCommitCallbacks(execute=False):
        return services.campaign_plan(campaign_id=campaign.pk)


def sent_to(sandbox, account):
    return Counter(m["touser"] for m in sandbox.control.sent_messages(app_id=account.app_id, api="template"))


def drain(campaign_id, rounds=20):
    for _ in range(rounds):
        result = dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=30)
        if result.requeue_in is None:
            return result
    raise AssertionError(f"dispatch did not finish: {result} {list(Delivery.objects.filter(campaign_id=campaign_id).values_list('state', 'error_code', 'error_message', 'send_after'))}")


def test_segment_to_delivered_end_to_end(sandbox, live_server, settings, static_segment, sandbox_followers, contact_policy, campaigns_eager):
    settings.PUBLIC_BASE_URL = live_server.url
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox_register_account(account)
    people = sandbox_followers(account, 6)
    (dnd, dnd_identity), (gone, gone_identity), (blocker, blocker_identity) = people[:3]
    dnd_identity.do_not_disturb = True
    dnd_identity.save()
    gone_identity.follow_state = "unfollowed"
    gone_identity.save()
    sandbox.control.set_outcome(account.app_id, blocker_identity.external_id, "user block")
    campaign = scheduled_campaign(account, static_segment([c for c, _ in people]))

    # Planning commits and enqueues the dispatch pumps, which run inline (eager) on commit.
    services.campaign_plan(campaign_id=campaign.pk)

    expected = {identity.external_id for _, identity in people[2:]}
    assert sent_to(sandbox, account) == Counter(dict.fromkeys(expected, 1))
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert sandbox.control.flush_callbacks(timeout=20)
    states = dict(Delivery.objects.filter(campaign=campaign).values_list("identity__external_id", "state"))
    assert states == {
        openid: ("failed" if openid == blocker_identity.external_id else "delivered") for openid in expected
    }
    blocker_identity.refresh_from_db()
    assert blocker_identity.refuses_template
    assert EngagementEvent.objects.filter(campaign_id=campaign.pk, event_type="push.sent").count() == 4
    assert EngagementEvent.objects.filter(campaign_id=campaign.pk, event_type="push.delivered").count() == 3
    # Rendered per customer, with the link rewritten per delivery.
    message = sandbox.control.sent_messages(app_id=account.app_id, api="template", touser=people[3][1].external_id)[0]
    delivery = Delivery.objects.get(campaign=campaign, customer=people[3][0])
    assert message["payload"]["data"]["first"]["value"] == f"Hi {people[3][0].display_name}"
    assert message["client_msg_id"] == str(delivery.id)
    assert str(message["msgid"]) == delivery.msgid
    # The link was rewritten to this delivery's tracked short URL.
    assert message["payload"]["url"].startswith(f"{live_server.url}/r/")


def test_running_dispatch_twice_sends_nothing_twice(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy):
    people = sandbox_followers(sandbox_oa, 5)
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    drain(campaign.pk)
    campaign.refresh_from_db()
    campaign.state = "sending"
    campaign.save()
    drain(campaign.pk)
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
    assert Delivery.objects.filter(campaign=campaign, state="sent").count() == 5
    assert all(d.msgid for d in Delivery.objects.filter(campaign=campaign))


def test_worker_killed_mid_batch_is_resent_without_duplicates_or_losses(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, settings):
    people = sandbox_followers(sandbox_oa, 8)
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    campaign.refresh_from_db()
    # A worker claims 6 rows, sends 3 of them, and dies before recording anything.
    claimed = dispatch.deliveries_claim(campaign=campaign, limit=6)
    assert len(claimed) == 6
    dispatch.load_recipients(claimed)
    renderer = MessageRenderer(campaign)
    adapter = get_adapter(sandbox_oa)
    for row in claimed[:3]:
        message = OutboundMessage(message_type="template", payload=renderer.payload(row), idempotency_key=str(row.id))
        assert adapter.send(Recipient(key=str(row.id), external_id=row.external_id), message).ok
    assert Delivery.objects.filter(campaign=campaign, state="sending").count() == 6
    # Another worker meanwhile sends the unclaimed rows only, and comes back later for the rows in flight.
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
    assert result.sent == 2 and result.requeue_in == settings.CAMPAIGN_CLAIM_LEASE_SECONDS
    campaign.refresh_from_db()
    assert campaign.state == "sending"
    # The dead worker's leases lapse; the watchdog returns the rows and re-pumps, de-duplicated by key.
    Delivery.objects.filter(campaign=campaign, state="sending").update(lease_until=timezone.now() - timedelta(seconds=1))
    assert dispatch.deliveries_sweep_expired() == [campaign.pk]
    drain(campaign.pk)
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})
    assert Delivery.objects.filter(campaign=campaign, state="sent").count() == 8
    campaign.refresh_from_db()
    assert campaign.state == "completed"


def test_pause_stops_mid_send_and_resume_finishes_without_duplicates(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy, django_capture_on_commit_callbacks):
    ContactPolicy.objects.filter(pk=1).update(dispatch_batch_size=5)
    # Enough sends, slow enough, that the whole run outlasts the moment the pause is requested
    # (dispatch sends from several threads at once).
    people = sandbox_followers(sandbox_oa, 120)
    sandbox.control.set_faults(latency_ms=120, paths=["message/template/send"])
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    worker = threading.Thread(target=lambda: (dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=60), connection.close()))
    worker.start()
    deadline = time.monotonic() + 20
    while Delivery.objects.filter(campaign=campaign, state="sent").count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    paused_at = time.monotonic()
    services.campaign_pause(campaign=campaign)
    worker.join(timeout=20)
    assert time.monotonic() - paused_at < 5
    sent_while_running = Delivery.objects.filter(campaign=campaign, state="sent").count()
    assert 5 <= sent_while_running < 120
    assert Delivery.objects.filter(campaign=campaign, state="sending").count() == 0
    time.sleep(0.2)
    assert len(sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")) == sent_while_running
    sandbox.control.reset_faults()
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_resume(campaign=campaign)
    drain(campaign.pk)
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people})


def test_cancel_mid_send_cancels_what_is_left(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy):
    ContactPolicy.objects.filter(pk=1).update(dispatch_batch_size=5)
    people = sandbox_followers(sandbox_oa, 20)
    sandbox.control.set_faults(latency_ms=40, paths=["message/template/send"])
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    worker = threading.Thread(target=lambda: (dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=60), connection.close()))
    worker.start()
    deadline = time.monotonic() + 20
    while Delivery.objects.filter(campaign=campaign, state="sent").count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    services.campaign_cancel(campaign=campaign)
    worker.join(timeout=20)
    counts = Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert counts["sent"] >= 3 and counts["sent"] + counts["cancelled"] == 20
    assert len(sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template")) == counts["sent"]


def test_send_time_recheck_suppresses_customers_who_changed_since_planning(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy):
    people = sandbox_followers(sandbox_oa, 3)
    campaign = scheduled_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan_without_pumps(campaign)
    people[0][1].follow_state = "unfollowed"
    people[0][1].save()
    drain(campaign.pk)
    d = Delivery.objects.get(campaign=campaign, customer=people[0][0])
    assert (d.state, d.error_code) == ("suppressed", "unfollowed")
    assert sent_to(sandbox, sandbox_oa) == Counter({i.external_id: 1 for _, i in people[1:]})


def test_marketing_push_by_another_campaign_meanwhile_hits_the_daily_cap_at_send_time(sandbox, static_segment, sandbox_followers, contact_policy):
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox.control.register_app(kind="oa", app_id=account.app_id, secret=account.app_secret, auto_report=False)
    people = sandbox_followers(account, 2)
    for _, identity in people:
        sandbox.control.set_interaction(account.app_id, identity.external_id)
        identity.last_interaction_at = timezone.now()
        identity.save()
    segment = static_segment([c for c, _ in people])
    content = {"text": "Sale today {{ customer.display_name }}"}
    first = scheduled_campaign(account, segment, message_type="customer_service", priority_class="marketing", content=content)
    second = scheduled_campaign(account, segment, message_type="customer_service", priority_class="marketing", content=content)
    plan_without_pumps(first)
    plan_without_pumps(second)
    assert Delivery.objects.filter(campaign=second).count() == 2  # nothing sent yet at planning time
    drain(first.pk)
    drain(second.pk)
    assert set(Delivery.objects.filter(campaign=second).values_list("state", "error_code")) == {("suppressed", "frequency_day")}
    assert len(sandbox.control.sent_messages(app_id=account.app_id, api="custom")) == 2


def test_two_campaigns_claiming_one_customer_at_once_send_exactly_one(sandbox, sandbox_oa, static_segment, sandbox_followers, contact_policy):
    people = sandbox_followers(sandbox_oa, 1)
    for _, identity in people:
        sandbox.control.set_interaction(sandbox_oa.app_id, identity.external_id)
        identity.last_interaction_at = timezone.now()
        identity.save()
    segment = static_segment([c for c, _ in people])
    content = {"text": "Sale today"}
    first = scheduled_campaign(sandbox_oa, segment, message_type="customer_service", priority_class="marketing", content=content)
    second = scheduled_campaign(sandbox_oa, segment, message_type="customer_service", priority_class="marketing", content=content)
    plan_without_pumps(first)
    plan_without_pumps(second)
    first.refresh_from_db()
    second.refresh_from_db()
    # Both workers claim before either re-checks.
    claimed_first = dispatch.deliveries_claim(campaign=first, limit=10)
    claimed_second = dispatch.deliveries_claim(campaign=second, limit=10)
    policy = effective_policy(first)
    drop_second, _ = dispatch.deliveries_recheck(campaign=second, policy=policy, ids=[r.id for r in claimed_second])
    drop_first, _ = dispatch.deliveries_recheck(campaign=first, policy=policy, ids=[r.id for r in claimed_first])
    assert drop_first == {} and drop_second == {claimed_second[0].id: "frequency_day"}
