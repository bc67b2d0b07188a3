"""A WeCom group-message campaign to customer groups (add_msg_template with chat_type=group): groups
chosen by owner, by id or by name; the contact policy as it applies to a group (the owner gone, one
group message per group per day, WeCom's days-of-the-month per group per month); one task per owner
with chat_id_list; per-group results polled. Groups come from change_external_chat events posted
through the encrypted callback path; the sandbox plays WeCom."""

from __future__ import annotations

import calendar
import itertools
import time
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from campaigns import services
from campaigns.dispatch import campaign_complete_if_done, pumps_watchdog
from campaigns.groups.models import GroupSend
from campaigns.groups.send import group_campaign_send, group_send_results_poll
from campaigns.models import Campaign
from customers.wecom.models import WeComStaff
from messaging.channels.clients import wecom_client
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory

pytestmark = pytest.mark.django_db

_clock = itertools.count(int(time.time()) - 100)


@pytest.fixture
def corp(sandbox, callback_receiver, contact_policy):
    account = ChannelAccountFactory(
        kind="wecom", app_id="wwgroupcampaign1", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        api_base_url=sandbox.base_url, encrypt_mode="safe", rate_limit_per_second=1000, timezone="Asia/Shanghai",
    )
    sandbox_register_account(account)
    sandbox.control.app_settings(account.app_id, callback_url=callback_receiver.url)
    for staff in ("alice", "bob"):
        sandbox.control.add_wecom_staff(account.app_id, staff)
        WeComStaff.objects.create(account=account, userid=staff, name=staff.title())
    return account


@pytest.fixture
def groups(sandbox, corp, deliver):
    def create(chat_id: str, name: str, owner: str, members: list[str]):
        answer = sandbox.control.post_event(corp.app_id, event="change_external_chat", change_type="create", create_time=next(_clock),
                                            chat_id=chat_id, name=name, owner=owner, members=[{"userid": m, "type": 2} for m in members])
        deliver(corp, answer["xml"])

    ChannelIdentityFactory(account=corp, external_id="wm-1")
    create("wr-a1", "VIP 群", "alice", ["wm-1", "wm-2"])
    create("wr-a2", "新客群", "alice", ["wm-3"])
    create("wr-b1", "VIP 二群", "bob", ["wm-4", "wm-5", "wm-6"])


def _campaign(api_client, corp, audience, text="周末活动，欢迎到店") -> Campaign:
    made = api_client.post("/api/v1/campaigns/", {
        "name": "群发", "account": corp.pk, "message_type": "wecom_group", "content": {"text": text, "group_audience": audience},
    }, format="json")
    assert made.status_code == 201, made.content
    return Campaign.objects.get(pk=made.json()["id"])


def _run(api_client, campaign) -> None:
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, format="json").status_code == 200
    services.campaign_plan(campaign_id=campaign.pk)
    group_campaign_send(campaign_id=campaign.pk)


def _rows(campaign) -> dict[str, tuple[str, str]]:
    return {r.chat_id: (r.state, r.reason or r.error_code) for r in GroupSend.objects.filter(campaign=campaign)}


def test_group_campaign_sends_one_task_per_owner_and_follows_each_group(sandbox, corp, groups, api_client):
    WeComStaff.objects.filter(account=corp, userid="bob").update(departed_at=timezone.now())
    campaign = _campaign(api_client, corp, {"name_contains": "VIP"})
    preview = api_client.get(f"/api/v1/campaigns/{campaign.pk}/preview/").json()
    assert (preview["audience"], preview["predicted_reach"], preview["members_reached"]) == (2, 1, 2)
    assert preview["suppressed"] == [{"reason": "owner_departed", "count": 1}]

    _run(api_client, campaign)
    assert _rows(campaign) == {"wr-a1": ("sent", ""), "wr-b1": ("suppressed", "owner_departed")}
    [task] = sandbox.control.sent_messages(corp.app_id, api="wecom_group")
    assert (task["sender"], task["chat_ids"], task["payload"]["chat_type"]) == ("alice", ["wr-a1"], "group")
    assert task["payload"]["text"]["content"] == "周末活动，欢迎到店"
    campaign.refresh_from_db()
    assert (campaign.state, campaign.audience_count, campaign.planned_count, campaign.suppressed_count) == ("completed", 2, 1, 1)

    msgid = GroupSend.objects.get(campaign=campaign, chat_id="wr-a1").msgid
    assert group_send_results_poll(account_id=corp.pk, msgid=msgid) is not None  # not confirmed yet: poll again
    sandbox.control.confirm_group_task(corp.app_id, msgid)
    assert group_send_results_poll(account_id=corp.pk, msgid=msgid) is None
    assert _rows(campaign)["wr-a1"] == ("delivered", "")
    listed = api_client.get(f"/api/v1/campaigns/{campaign.pk}/groups/", {"state": "delivered"}).json()["results"]
    assert [(r["chat_id"], r["name"], r["members"]) for r in listed] == [("wr-a1", "VIP 群", 2)]

    # The same day, all of alice's groups: wr-a1 had its group message of the day.
    second = _campaign(api_client, corp, {"owners": ["alice"]})
    _run(api_client, second)
    assert _rows(second) == {"wr-a1": ("suppressed", "group_day_limit"), "wr-a2": ("sent", "")}
    # Chosen groups only.
    third = _campaign(api_client, corp, {"chat_ids": ["wr-b1"]})
    _run(api_client, third)
    assert _rows(third) == {"wr-b1": ("suppressed", "owner_departed")}


def test_group_audience_is_validated(corp, api_client):
    for audience in ({}, {"owners": "alice"}, {"chat_ids": [""]}, {"tags": ["x"]}):
        campaign = _campaign(api_client, corp, audience)
        answer = api_client.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, format="json")
        assert answer.status_code == 400 and "group_audience" in answer.json()["detail"], audience
    oa = ChannelAccountFactory(kind="oa")
    made = api_client.post("/api/v1/campaigns/", {"name": "x", "account": oa.pk, "message_type": "mass",
                                                  "content": {"text": "hi", "group_audience": {"owners": ["alice"]}}}, format="json")
    answer = api_client.post(f"/api/v1/campaigns/{made.json()['id']}/schedule/", {}, format="json")
    assert answer.status_code == 400 and "group_audience" in answer.json()["detail"]


def test_sandbox_keeps_wecom_rules_for_group_tasks(sandbox, corp, groups):
    client = wecom_client(corp)
    with pytest.raises(WeChatClientException) as no_sender:
        client.post("externalcontact/add_msg_template", data={"chat_type": "group", "text": {"content": "x"}})
    assert no_sender.value.errcode == 40058
    with pytest.raises(WeChatClientException) as too_many:
        client.post("externalcontact/add_msg_template", data={"chat_type": "group", "sender": "alice", "text": {"content": "x"},
                                                             "chat_id_list": [f"wr-{n}" for n in range(2001)]})
    assert too_many.value.errcode == 40058
    # Not alice's group: status 2; every group at most as many a month as the month has days: status 3.
    task = client.post("externalcontact/add_msg_template", data={"chat_type": "group", "sender": "alice", "text": {"content": "x"},
                                                                "chat_id_list": ["wr-a1", "wr-b1"]})
    sandbox.control.confirm_group_task(corp.app_id, task["msgid"])
    now = time.localtime()
    for _ in range(calendar.monthrange(now.tm_year, now.tm_mon)[1] - 1):
        more = client.post("externalcontact/add_msg_template", data={"chat_type": "group", "sender": "alice", "text": {"content": "x"}})
        sandbox.control.confirm_group_task(corp.app_id, more["msgid"])
    last = client.post("externalcontact/add_msg_template", data={"chat_type": "group", "sender": "alice", "text": {"content": "x"}})
    sandbox.control.confirm_group_task(corp.app_id, last["msgid"])
    first = client.post("externalcontact/get_groupmsg_send_result", data={"msgid": task["msgid"], "userid": "alice"})["send_list"]
    assert {r["chat_id"]: r["status"] for r in first} == {"wr-a1": 1, "wr-b1": 2}
    final = client.post("externalcontact/get_groupmsg_send_result", data={"msgid": last["msgid"], "userid": "alice"})["send_list"]
    assert {r["chat_id"]: r["status"] for r in final} == {"wr-a1": 3, "wr-a2": 1}


def test_a_group_campaign_waits_for_its_send_window_and_no_pump_completes_it(sandbox, corp, groups, api_client):
    hour = timezone.now().astimezone(ZoneInfo("Asia/Shanghai")).hour
    campaign = _campaign(api_client, corp, {"owners": ["alice"]})
    Campaign.objects.filter(pk=campaign.pk).update(send_window_start=clock((hour + 2) % 24), send_window_end=clock((hour + 3) % 24))
    assert api_client.post(f"/api/v1/campaigns/{campaign.pk}/schedule/", {}, format="json").status_code == 200
    services.campaign_plan(campaign_id=campaign.pk)
    waiting = group_campaign_send(campaign_id=campaign.pk)
    assert waiting.tasks == 0 and 3600 < waiting.wait <= 3 * 3600
    assert sandbox.control.sent_messages(corp.app_id, api="wecom_group") == []
    assert campaign.pk not in [c for c, _g in pumps_watchdog()]
    assert not campaign_complete_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == "sending" and set(_rows(campaign).values()) == {("planned", "")}
