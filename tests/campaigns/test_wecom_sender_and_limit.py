"""WeCom group messages: the operator's sender rule (most recent interaction or owner) and the corp's
per-customer limit (WeCom's 群发规则: the days of the month per month, 7 a week or 1 a day; 创建企业群发,
https://developer.work.weixin.qq.com/document/path/92135), in planning, at send time and in the console."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.dispatch import deliveries_recheck
from campaigns.models import Campaign, Delivery, Suppression
from campaigns.planning import campaign_plan_audience
from campaigns.policy import effective_policy
from customers.segments.models import Segment
from customers.segments.services import segment_snapshot_create
from customers.wecom.models import WeComRelation, WeComStaff
from customers.wecom.services import identities_reachability_refresh
from tests.campaigns.test_wizard import EDITOR, form, operator
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    DeliveryFactory,
)

ADD = "/admin/campaigns/campaign/add/"


def drain(campaign_id):
    for _ in range(10):
        if dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=30).requeue_in is None:
            return
    raise AssertionError("the campaign did not finish")


def shared_corp(sandbox):
    """A corp where each customer is the contact of alice (added long ago: the owner) and bob (added
    and chatted with lately: the most recent interaction); carol owns one customer alone."""
    corp = ChannelAccountFactory(kind="wecom", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox.control.register_app(kind="wecom", app_id=corp.app_id, secret=corp.app_secret, auto_report=False)
    now = timezone.now()
    customers, identities = [], []
    for staff in ("alice", "bob", "carol"):
        sandbox.control.add_wecom_staff(corp.app_id, staff)
    for n in range(3):
        external = f"wm-shared-{n}"
        sandbox.control.add_external_contact(corp.app_id, "alice", external)
        sandbox.control.add_external_contact(corp.app_id, "bob", external)
        customer = CustomerFactory()
        identity = ChannelIdentityFactory(customer=customer, account=corp, external_id=external, follow_state="following")
        WeComRelation.objects.create(identity=identity, staff_userid="alice", added_at=now - timedelta(days=300), last_interaction_at=now - timedelta(days=200))
        WeComRelation.objects.create(identity=identity, staff_userid="bob", added_at=now - timedelta(days=3), last_interaction_at=now - timedelta(hours=2))
        customers.append(customer)
        identities.append(identity)
    sandbox.control.add_external_contact(corp.app_id, "carol", "wm-carol")
    alone = CustomerFactory()
    alone_identity = ChannelIdentityFactory(customer=alone, account=corp, external_id="wm-carol", follow_state="following")
    WeComRelation.objects.create(identity=alone_identity, staff_userid="carol", added_at=now - timedelta(days=30))
    identities_reachability_refresh(identity_ids=[i.pk for i in [*identities, alone_identity]])
    return corp, [*customers, alone]


def send(corp, segment, rule):
    campaign = CampaignFactory(account=corp, segment=segment, scheduled_now=True, message_type="wecom_group",
                               content={"text": "新品到店"}, wecom_sender_rule=rule)
    services.campaign_plan(campaign_id=campaign.pk)
    drain(campaign.pk)
    return campaign


@pytest.mark.django_db(transaction=True)
def test_the_sender_rule_picks_one_staff_member_per_customer_and_sends_once(sandbox, static_segment, contact_policy):
    corp, customers = shared_corp(sandbox)
    segment = static_segment(customers)
    contact_policy.daily_cap = contact_policy.weekly_cap = 50  # three campaigns today
    contact_policy.save()

    latest = send(corp, segment, "last_interaction")
    tasks = sandbox.control.sent_messages(app_id=corp.app_id, api="wecom_group")
    assert sorted((t["sender"], sorted(t["touser"])) for t in tasks) == [
        ("bob", ["wm-shared-0", "wm-shared-1", "wm-shared-2"]), ("carol", ["wm-carol"]),
    ]
    assert Counter(Delivery.objects.filter(campaign=latest).values_list("state", flat=True)) == Counter({"sent": 4})

    # The owner: alice added them first. A departed owner gives way to another active staff member.
    owner = send(corp, segment, "owner")
    tasks = sandbox.control.sent_messages(app_id=corp.app_id, api="wecom_group")[2:]
    assert sorted((t["sender"], sorted(t["touser"])) for t in tasks) == [
        ("alice", ["wm-shared-0", "wm-shared-1", "wm-shared-2"]), ("carol", ["wm-carol"]),
    ]
    # Never twice to one customer: one delivery each, whoever else knows them.
    assert Delivery.objects.filter(campaign=owner).count() == 4
    assert sum(len(t["touser"]) for t in tasks) == 4

    WeComStaff.objects.create(account=corp, userid="alice", name="Alice", departed_at=timezone.now())
    send(corp, segment, "owner")
    tasks = sandbox.control.sent_messages(app_id=corp.app_id, api="wecom_group")[4:]
    assert sorted(t["sender"] for t in tasks) == ["bob", "carol"]


@pytest.mark.django_db
def test_the_api_takes_and_validates_the_sender_rule(api_client, static_segment):
    corp = ChannelAccountFactory(kind="wecom")
    oa = ChannelAccountFactory(kind="oa")
    segment = static_segment([CustomerFactory()])
    body = {"name": "群发", "account": corp.pk, "message_type": "wecom_group", "content": {"text": "hi"}, "segment_id": segment.pk}
    created = api_client.post("/api/v1/campaigns/", {**body, "wecom_sender_rule": "owner"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["wecom_sender_rule"] == "owner"
    assert api_client.post("/api/v1/campaigns/", body, format="json").json()["wecom_sender_rule"] == "last_interaction"
    bad = api_client.post("/api/v1/campaigns/", {**body, "wecom_sender_rule": "random"}, format="json")
    assert bad.status_code == 400 and "wecom_sender_rule" in str(bad.json())
    # Only WeCom group messages have a sender rule: refused when the campaign is checked.
    mass = api_client.post("/api/v1/campaigns/", {**body, "account": oa.pk, "message_type": "mass", "wecom_sender_rule": "owner"}, format="json")
    assert mass.status_code == 201
    checked = api_client.post(f"/api/v1/campaigns/{mass.json()['id']}/schedule/", {}, format="json")
    assert checked.status_code == 400 and "wecom_sender_rule" in str(checked.json())


@pytest.mark.django_db
def test_the_wizard_offers_the_sender_rule_in_chinese(static_segment):
    corp = ChannelAccountFactory(kind="wecom")
    oa = ChannelAccountFactory(kind="oa")
    segment = static_segment([CustomerFactory()])
    client = operator(*EDITOR)
    page = client.get(ADD, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "企业微信发送成员" in page and "最近互动" in page
    response = client.post(ADD, form(corp, segment, message_type="wecom_group", text="新品到店", wecom_sender_rule="owner"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Campaign.objects.get().wecom_sender_rule == "owner"
    # Left over from an earlier choice of type: another type keeps the default.
    response = client.post(ADD, form(oa, segment, message_type="customer_service", text="hi", wecom_sender_rule="owner", name="b"))
    assert response.status_code == 302
    assert Campaign.objects.get(name="b").wecom_sender_rule == "last_interaction"
    bad = client.post(ADD, form(corp, segment, message_type="wecom_group", text="x", wecom_sender_rule="nobody", name="c"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert bad.status_code == 200 and not Campaign.objects.filter(name="c").exists()


# --- the corp's per-customer limit --------------------------------------------------------------------


def plan(campaign):
    snapshot = segment_snapshot_create(segment=Segment.objects.get(pk=campaign.segment_id))
    with transaction.atomic():
        campaign_plan_audience(campaign=campaign, snapshot_id=snapshot.pk)
    return dict(Suppression.objects.filter(campaign=campaign).values_list("customer_id", "reason"))


@pytest.mark.django_db
def test_the_limit_follows_the_corps_period_and_count_at_planning_and_at_send(static_segment, contact_policy):
    corp = ChannelAccountFactory(kind="wecom", wecom_group_msg_period="week", wecom_group_msg_limit=2)
    contact_policy.daily_cap = contact_policy.weekly_cap = 50  # only WeCom's rule is at stake here
    contact_policy.save()
    people = []
    for _ in range(3):
        customer = CustomerFactory()
        people.append((customer, ChannelIdentityFactory(customer=customer, account=corp, follow_state="following", owner_staff_id="alice")))
    (twice, _), (once, _), (last_week, _) = people
    now = timezone.now()
    for n, (customer, at) in enumerate([(twice, now - timedelta(minutes=3)), (twice, now - timedelta(minutes=2)),
                                        (once, now - timedelta(minutes=2)), (last_week, now - timedelta(days=8)),
                                        (last_week, now - timedelta(days=8, minutes=5))]):
        earlier = CampaignFactory(account=corp, message_type="wecom_group", name=f"earlier-{n}")
        DeliveryFactory(campaign=earlier, customer=customer, account=corp, state="sent", sent_at=at, is_marketing=True)
    segment = static_segment([c for c, _ in people])

    def suppressed():
        campaign = CampaignFactory(account=corp, segment=segment, message_type="wecom_group", content={"text": "hi"})
        return {c.pk for c, _ in people if plan(campaign).get(c.pk) == "wecom_group_limit"}

    assert suppressed() == {twice.pk}  # 2 this (Monday-based, Beijing) week; last week's do not count
    corp.wecom_group_msg_period, corp.wecom_group_msg_limit = "day", None  # WeCom's "1 a day"
    corp.save()
    assert suppressed() == {twice.pk, once.pk}
    corp.wecom_group_msg_period = "month"  # WeCom's default: as many as the days of the month
    corp.save()
    assert suppressed() == set()
    corp.wecom_group_msg_limit = 1
    corp.save()
    assert suppressed() >= {twice.pk, once.pk}

    # The send-time re-check reads the same rule: a delivery planned earlier is dropped now.
    corp.wecom_group_msg_period, corp.wecom_group_msg_limit = "week", 2
    corp.save()
    sending = CampaignFactory(account=corp, segment=segment, message_type="wecom_group", content={"text": "hi"}, state="sending")
    rows = [DeliveryFactory(campaign=sending, customer=c, identity=i, account=corp, state="sending", claimed_at=timezone.now(), is_marketing=True)
            for c, i in people]
    drop, _ = deliveries_recheck(campaign=sending, policy=effective_policy(sending), ids=[r.pk for r in rows])
    assert {r.customer_id: drop[r.pk] for r in rows if r.pk in drop} == {twice.pk: "wecom_group_limit"}


@pytest.mark.django_db
def test_the_corps_rule_is_validated_in_the_api_and_the_console(api_client, admin_client):
    corp = ChannelAccountFactory(kind="wecom")
    url = f"/api/v1/accounts/{corp.pk}/"
    ok = api_client.patch(url, {"wecom_group_msg_period": "week", "wecom_group_msg_limit": 7}, format="json")
    assert ok.status_code == 200, ok.content
    assert (ok.json()["wecom_group_msg_period"], ok.json()["wecom_group_msg_limit"]) == ("week", 7)
    too_many = api_client.patch(url, {"wecom_group_msg_period": "day", "wecom_group_msg_limit": 2}, format="json")
    assert too_many.status_code == 400 and "wecom_group_msg_limit" in too_many.json().get("detail", too_many.json())
    assert api_client.patch(url, {"wecom_group_msg_period": "year"}, format="json").status_code == 400
    corp.refresh_from_db()
    assert (corp.wecom_group_msg_period, corp.wecom_group_msg_limit) == ("week", 7)

    page = admin_client.get(f"/admin/accounts/channelaccount/{corp.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "企业微信群发" in page
