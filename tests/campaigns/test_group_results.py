"""WeCom group-message results: after the send each task is polled (with backoff) until the staff
member has confirmed it; each customer's outcome settles the delivery and shows in the stats."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.dispatch.group_results import MAX_AGE, dispatch_group_results_poll, poll_interval
from campaigns.models import Delivery
from campaigns.receivers import delivery_report_apply
from campaigns.selectors import campaign_stats
from campaigns.tasks import dispatch_group_results_poll_task
from customers.models import EngagementEvent
from messaging.channels.clients import wecom_client
from messaging.reports import DeliveryReport
from tests.factories import CampaignFactory, DeliveryFactory

POLL_TASK = "campaigns.tasks.dispatch_group_results_poll_task"


def group_campaign(corp, segment):
    campaign = CampaignFactory(account=corp, segment=segment, scheduled_now=True, message_type="wecom_group", content={"text": "New arrivals"})
    services.campaign_plan(campaign_id=campaign.pk)
    for _ in range(10):
        if dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30).requeue_in is None:
            break
    return campaign


def states(campaign):
    return {d.identity.external_id: (d.state, d.error_code) for d in Delivery.objects.filter(campaign=campaign).select_related("identity")}


@pytest.mark.django_db(transaction=True)
def test_group_task_results_are_polled_until_confirmed_and_settle_each_delivery(sandbox, sandbox_corp, static_segment, contact_policy, dispatch_queue):
    corp, people = sandbox_corp({"alice": 2, "bob": 1})
    (_, limited), (_, alice_ok), (_, bob_ok) = people
    # The corp set 1 a day in WeCom, which the product was not told; earlier today another tool
    # sent `limited` a group message: WeCom reports the customer over the limit (status 3).
    sandbox.control.app_settings(corp.app_id, group_msg_period="day")
    earlier = wecom_client(corp).external_contact.add_msg_template(
        {"chat_type": "single", "external_userid": [limited.external_id], "sender": "alice", "text": {"content": "hi"}}
    )
    sandbox.control.confirm_group_task(corp.app_id, earlier["msgid"])

    campaign = group_campaign(corp, static_segment([c for c, _ in people]))
    msgids = set(Delivery.objects.filter(campaign=campaign).values_list("msgid", flat=True))
    assert len(msgids) == 2 and "" not in msgids
    # The send scheduled one first poll per task, a few minutes out.
    first = dispatch_queue.messages(POLL_TASK)
    assert sorted(m["args"][1] for m in first) == sorted(msgids)
    assert all(m["args"][0] == corp.pk and m["args"][2] == 0 and m["eta"] for m in first)

    # Before the staff members confirm: nothing changes and the poll comes back later, less often.
    dispatch_queue.clear()
    alice_msgid = Delivery.objects.get(identity=alice_ok).msgid
    dispatch_group_results_poll_task.run(corp.pk, alice_msgid, 2)
    assert set(states(campaign).values()) == {("sent", "")}
    again = dispatch_queue.messages(POLL_TASK)
    assert [m["args"] for m in again] == [[corp.pk, alice_msgid, 3]] and again[0]["eta"]
    assert poll_interval(3) > poll_interval(2) > poll_interval(0)

    for msgid in msgids:
        sandbox.control.confirm_group_task(corp.app_id, msgid)
        assert dispatch_group_results_poll(account_id=corp.pk, msgid=msgid).status == "done"
    assert states(campaign) == {
        limited.external_id: ("failed", "limit_reached"),
        alice_ok.external_id: ("delivered", ""),
        bob_ok.external_id: ("delivered", ""),
    }
    # Polling again (a duplicate task) changes nothing and schedules nothing.
    dispatch_queue.clear()
    dispatch_group_results_poll_task.run(corp.pk, alice_msgid, 0)
    assert dispatch_queue.messages(POLL_TASK) == []
    assert states(campaign)[alice_ok.external_id] == ("delivered", "")

    stats = campaign_stats(campaign=campaign)
    assert (stats["sent"], stats["delivered"], stats["failed"]) == (2, 2, 1)
    assert stats["failed_by_reason"] == {"limit_reached": 1}
    assert Counter(EngagementEvent.objects.filter(campaign_id=campaign.pk).values_list("event_type", flat=True)) == Counter(
        {"push.sent": 3, "push.delivered": 2, "push.failed": 1}
    )


@pytest.mark.django_db(transaction=True)
def test_an_unconfirmed_group_task_is_given_up_after_the_max_age_and_stays_sent(sandbox, sandbox_corp, static_segment, contact_policy, dispatch_queue):
    corp, people = sandbox_corp({"carol": 1})
    campaign = group_campaign(corp, static_segment([c for c, _ in people]))
    delivery = Delivery.objects.get(campaign=campaign)
    assert dispatch_group_results_poll(account_id=corp.pk, msgid=delivery.msgid).status == "waiting"
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now() - MAX_AGE - timedelta(minutes=1))
    dispatch_queue.clear()
    dispatch_group_results_poll_task.run(corp.pk, delivery.msgid, 9)
    assert dispatch_queue.messages(POLL_TASK) == []
    delivery.refresh_from_db()
    assert delivery.state == "sent"


@pytest.mark.django_db
def test_a_group_result_settles_only_the_recipient_it_names(make_audience, plan_account):
    campaign = CampaignFactory(account=plan_account, message_type="wecom_group")
    rows = [
        DeliveryFactory(campaign=campaign, customer=customer, identity=identity, state="sent", sent_at=timezone.now(), msgid="msgGROUP1")
        for customer, identity in make_audience(plan_account, 2)
    ]
    target = rows[0]
    report = DeliveryReport(account_id=plan_account.pk, msgid="msgGROUP1", status="not_contact", raw_status="2",
                            occurred_at=timezone.now(), external_id=target.identity.external_id)
    assert delivery_report_apply(report) == 1
    assert delivery_report_apply(report) == 0
    got = {d.pk: (d.state, d.error_code) for d in Delivery.objects.filter(campaign=campaign)}
    assert got == {target.pk: ("failed", "not_contact"), rows[1].pk: ("sent", "")}


@pytest.mark.django_db(transaction=True)
def test_a_failing_results_fetch_keeps_polling_and_a_later_poll_settles(sandbox, sandbox_corp, static_segment, contact_policy, dispatch_queue):
    corp, people = sandbox_corp({"dave": 1})
    campaign = group_campaign(corp, static_segment([c for c, _ in people]))
    delivery = Delivery.objects.get(campaign=campaign)
    sandbox.control.confirm_group_task(corp.app_id, delivery.msgid)
    sandbox.control.set_faults(rate_busy=1.0, paths=["/cgi-bin/externalcontact/get_groupmsg"])
    result = dispatch_group_results_poll(account_id=corp.pk, msgid=delivery.msgid, attempt=1)
    assert (result.status, result.again_in) == ("waiting", poll_interval(2))
    delivery.refresh_from_db()
    assert delivery.state == "sent"
    sandbox.control.reset_faults()
    assert dispatch_group_results_poll(account_id=corp.pk, msgid=delivery.msgid, attempt=2).status == "done"
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
