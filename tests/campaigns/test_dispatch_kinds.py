"""List calls (mass send, WeCom group tasks per staff member), consent spent per send, inbox-only,
and the send-time deferral into the customer's allowed hours."""

from collections import Counter
from datetime import time as dtime

import pytest
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import ContactPolicy, Delivery
from customers.models import ConsentCredit, InboxMessage
from tests.factories import CampaignFactory, ChannelAccountFactory, ChannelIdentityFactory, CustomerFactory


def plan(campaign, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_plan(campaign_id=campaign.pk)


def drain(campaign_id):
    for _ in range(10):
        result = dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=30)
        if result.requeue_in is None:
            return result
    raise AssertionError(result)


@pytest.mark.django_db
def test_mass_send_is_one_list_call_and_each_recipient_is_recorded(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = sandbox_followers(sandbox_oa, 12)
    campaign = CampaignFactory(account=sandbox_oa, segment=static_segment([c for c, _ in people]), scheduled_now=True, message_type="mass", content={"text": "Spring sale"})
    plan(campaign, django_capture_on_commit_callbacks)
    drain(campaign.pk)
    calls = sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="mass")
    assert len(calls) == 1
    rows = list(Delivery.objects.filter(campaign=campaign).values_list("state", "batch_key", "msgid"))
    assert {r[0] for r in rows} == {"sent"} and len({r[1] for r in rows}) == 1 and all(r[2] for r in rows)
    campaign.refresh_from_db()
    assert campaign.state == "completed"


@pytest.mark.django_db
def test_wecom_group_tasks_are_grouped_per_owning_staff_member(sandbox, sandbox_followers, static_segment, contact_policy, django_capture_on_commit_callbacks):
    corp = ChannelAccountFactory(kind="wecom", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox.control.register_app(kind="wecom", app_id=corp.app_id, secret=corp.app_secret, auto_report=False)
    customers = []
    for staff, count in (("alice", 3), ("bob", 2)):
        sandbox.control.add_wecom_staff(corp.app_id, staff)
        for external in sandbox.control.add_external_contacts(corp.app_id, staff, count):
            customer = CustomerFactory()
            ChannelIdentityFactory(customer=customer, account=corp, external_id=external, owner_staff_id=staff)
            customers.append(customer)
    orphan = CustomerFactory()
    ChannelIdentityFactory(customer=orphan, account=corp, external_id="wm-orphan", owner_staff_id="")
    campaign = CampaignFactory(account=corp, segment=static_segment([*customers, orphan]), scheduled_now=True, message_type="wecom_group", content={"text": "New arrivals"})
    plan(campaign, django_capture_on_commit_callbacks)
    assert campaign.suppressions.get().reason == "wecom_no_owner"
    drain(campaign.pk)
    tasks = sandbox.control.sent_messages(app_id=corp.app_id, api="wecom_group")
    assert sorted((t["sender"], len(t["touser"])) for t in tasks) == [("alice", 3), ("bob", 2)]
    assert Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True)) == Counter({"sent": 5})


@pytest.mark.django_db
def test_subscribe_message_spends_one_consent_credit_per_send(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = sandbox_followers(sandbox_oa, 2)
    for customer, identity in people:
        ConsentCredit.objects.create(customer=customer, account=sandbox_oa, template_id="SUB1", remaining=1)
        sandbox.control.grant_consent(sandbox_oa.app_id, identity.external_id, "SUB1", 1)
    content = {"template_id": "SUB1", "template_keys": ["thing1"], "fields": {"thing1": "Restocked"}, "page": "pages/index"}
    campaign = CampaignFactory(account=sandbox_oa, segment=static_segment([c for c, _ in people]), scheduled_now=True, message_type="oa_subscribe", priority_class="transactional", content=content)
    plan(campaign, django_capture_on_commit_callbacks)
    # One customer's credit is used elsewhere between planning and sending.
    ConsentCredit.objects.filter(customer=people[0][0]).update(remaining=0)
    drain(campaign.pk)
    assert Delivery.objects.get(campaign=campaign, customer=people[0][0]).error_code == "no_consent"
    assert Delivery.objects.get(campaign=campaign, customer=people[1][0]).state == "sent"
    assert ConsentCredit.objects.get(customer=people[1][0]).remaining == 0
    assert len(sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="bizsend")) == 1


@pytest.mark.django_db
def test_inbox_only_campaign_writes_the_message_centre_without_a_push(plan_account, make_audience, static_segment, contact_policy, django_capture_on_commit_callbacks):
    mp = ChannelAccountFactory(kind="miniprogram")
    people = make_audience(mp, 3)
    campaign = CampaignFactory(
        account=mp, segment=static_segment([c for c, _ in people]), scheduled_now=True, message_type="inbox",
        content={"title": "Hello {{ customer.display_name }}", "body": "See https://shop.example.com/new", "mp_page": "pages/new"},
    )
    plan(campaign, django_capture_on_commit_callbacks)
    drain(campaign.pk)
    drain(campaign.pk)
    assert InboxMessage.objects.filter(campaign_id=campaign.pk).count() == 3
    item = InboxMessage.objects.get(customer=people[0][0])
    assert item.title == f"Hello {people[0][0].display_name}"
    assert "shop.example.com/new" not in item.body  # rewritten to a tracked link


@pytest.mark.django_db
def test_a_due_delivery_inside_quiet_hours_at_send_time_is_deferred_not_dropped(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, django_capture_on_commit_callbacks):
    people = sandbox_followers(sandbox_oa, 1, timezone="UTC")
    campaign = CampaignFactory(
        account=sandbox_oa, segment=static_segment([c for c, _ in people]), scheduled_now=True,
        message_type="template", priority_class="transactional", content={"template_id": "T", "template_keys": ["first"], "fields": {"first": "x"}},
    )
    plan(campaign, django_capture_on_commit_callbacks)
    # Quiet hours now cover the present moment (policy changed after planning).
    now = timezone.now()
    start = dtime(now.hour, 0)
    end = dtime((now.hour + 2) % 24, 0)
    ContactPolicy.objects.filter(pk=contact_policy.pk).update(quiet_start=start, quiet_end=end)
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
    assert result.deferred == 1 and result.requeue_in is not None
    delivery = Delivery.objects.get(campaign=campaign)
    assert delivery.state == "planned" and delivery.attempts == 0
    assert delivery.send_after.hour == end.hour and delivery.send_after > now
    assert sandbox.control.sent_messages(app_id=sandbox_oa.app_id) == []


@pytest.mark.django_db
def test_a_consent_credit_spent_on_a_send_wechat_did_not_accept_is_given_back(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, django_capture_on_commit_callbacks):
    (customer, identity), = sandbox_followers(sandbox_oa, 1)
    ConsentCredit.objects.create(customer=customer, account=sandbox_oa, template_id="SUB2", remaining=1)
    sandbox.control.grant_consent(sandbox_oa.app_id, identity.external_id, "SUB2", 1)
    content = {"template_id": "SUB2", "template_keys": ["thing1"], "fields": {"thing1": "Back in stock"}}
    campaign = CampaignFactory(account=sandbox_oa, segment=static_segment([customer]), scheduled_now=True, message_type="oa_subscribe", priority_class="transactional", content=content)
    plan(campaign, django_capture_on_commit_callbacks)
    sandbox.control.set_faults(rate_busy=1.0, paths=["message/subscribe/bizsend"])
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
    assert result.retry == 1
    delivery = Delivery.objects.get(campaign=campaign)
    assert (delivery.state, delivery.attempts) == ("planned", 1)
    assert ConsentCredit.objects.get(customer=customer).remaining == 1
    sandbox.control.reset_faults()
    Delivery.objects.filter(pk=delivery.pk).update(send_after=timezone.now())
    drain(campaign.pk)
    assert Delivery.objects.get(pk=delivery.pk).state == "sent"
    assert ConsentCredit.objects.get(customer=customer).remaining == 0
