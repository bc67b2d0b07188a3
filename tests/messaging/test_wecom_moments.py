"""Customer moments (客户朋友圈) through the API against the sandbox: the task with its visible range
(staff members, corp tags) and attachments, WeCom's asynchronous job, publishing, and customers'
comments and likes recorded once as engagement events; WeCom's limits in the product and the sandbox."""

from __future__ import annotations

import copy

import pytest
from wechatpy.exceptions import WeChatClientException

from customers.models import ChannelIdentity, EngagementEvent
from messaging.channels.models import SyncJob, TagMirror
from messaging.channels.moment_models import WeComMoment
from messaging.channels.sync import sync_job_run
from messaging.channels.wecom_media import media_file_create
from messaging.channels.wecom_moments import moment_engagement_poll, moment_poll, moments_due, moments_poll_due
from messaging.sandbox.registration import sandbox_register_account
from scrm.celery import app as celery_app
from tests.factories import ChannelAccountFactory

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200


@pytest.fixture
def corp(sandbox):
    account = ChannelAccountFactory(kind="wecom", app_id="wwmomentscorp001", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox_register_account(account)
    client = sandbox.wecom_client(account.app_id, account.app_secret)
    vip = client.post("externalcontact/add_corp_tag", data={"group_name": "Level", "tag": [{"name": "VIP"}]})["tag_group"]["tag"][0]["id"]
    for staff, customers in (("alice", ["wm-a1", "wm-a2", "wm-shared"]), ("bob", ["wm-b1", "wm-shared"])):
        sandbox.control.add_wecom_staff(account.app_id, staff)
        for external in customers:
            sandbox.control.add_external_contact(account.app_id, staff, external)
    for staff, external in (("alice", "wm-a1"), ("alice", "wm-shared"), ("bob", "wm-shared")):
        client.post("externalcontact/mark_tag", data={"userid": staff, "external_userid": external, "add_tag": [vip]})
    assert sync_job_run(job_id=SyncJob.objects.create(account=account, kind="wecom_contacts").pk).status == "done"
    account.vip_tag_id = TagMirror.objects.get(account=account, remote_id=vip).tag_id
    account.vip_remote_id = vip
    return account


def _post(api_client, corp, django_capture_on_commit_callbacks, **body):
    with django_capture_on_commit_callbacks(execute=True):
        return api_client.post("/api/v1/wecom/moments/", {"account": corp.pk, **body}, format="json")


def _customer(corp, external: str) -> int:
    return ChannelIdentity.objects.get(account=corp, external_id=external).customer_id


def test_a_moment_to_tagged_customers_is_published_and_its_comments_and_likes_become_events_once(
    sandbox, corp, api_client, celery_eager, django_capture_on_commit_callbacks
):
    image = media_file_create(name="new.png", content=PNG)
    response = _post(api_client, corp, django_capture_on_commit_callbacks, text="新品上市", sender_userids=["alice", "bob"],
                     tag_ids=[corp.vip_tag_id], attachments=[{"msgtype": "image", "media_file": image.pk}])
    assert response.status_code == 202, response.content
    moment = WeComMoment.objects.get(pk=response.json()["id"])
    assert moment.state == "submitted" and moment.jobid
    [call] = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert call["body"]["visible_range"] == {"sender_list": {"user_list": ["alice", "bob"]},
                                             "external_contact_list": {"tag_list": [corp.vip_remote_id]}}
    assert call["body"]["text"] == {"content": "新品上市"}
    assert call["body"]["attachments"][0]["msgtype"] == "image" and call["body"]["attachments"][0]["image"]["media_id"]

    # WeCom's job: started, running, done (get_moment_task_result status 1, 2, 3).
    assert moment_poll(moment_id=moment.pk)["state"] == "submitted"
    assert moment_poll(moment_id=moment.pk)["state"] == "submitted"
    assert moment_poll(moment_id=moment.pk)["state"] == "created"
    moment.refresh_from_db()
    assert moment.moment_id.startswith("mom") and moment.invalid_senders == [] and moment.invalid_tags == []

    # Alice publishes it: her VIP customers see it (wm-a1, wm-shared), not wm-a2; Bob has not yet.
    sandbox.control.publish_moment(corp.app_id, moment.moment_id, "alice")
    sandbox.control.moment_interaction(corp.app_id, moment.moment_id, "alice", "wm-a1", kind="like", at=1_700_000_000)
    sandbox.control.moment_interaction(corp.app_id, moment.moment_id, "alice", "wm-shared", kind="comment", at=1_700_000_100)
    with pytest.raises(Exception):  # a customer without the tag never saw it
        sandbox.control.moment_interaction(corp.app_id, moment.moment_id, "alice", "wm-a2", kind="like")
    assert moment_engagement_poll(moment_id=moment.pk)["events"] == 2
    moment.refresh_from_db()
    assert moment.publishers == {"alice": {"published": True, "reach": 2}, "bob": {"published": False, "reach": 0}}
    assert (moment.comments, moment.likes) == (1, 1)
    events = EngagementEvent.objects.filter(event_type__startswith="wecom.moment_")
    assert set(events.values_list("customer_id", "event_type")) == {
        (_customer(corp, "wm-a1"), "wecom.moment_like"), (_customer(corp, "wm-shared"), "wecom.moment_comment")}
    assert events.get(event_type="wecom.moment_like").properties == {"moment": moment.pk, "moment_id": moment.moment_id,
                                                                     "staff_userid": "alice"}

    # Polled again (WeCom lists every comment and like each time): nothing new is recorded.
    assert moment_engagement_poll(moment_id=moment.pk)["events"] == 0
    # Bob publishes; the shared customer likes his too, and comments a second time on Alice's.
    sandbox.control.publish_moment(corp.app_id, moment.moment_id, "bob")
    sandbox.control.moment_interaction(corp.app_id, moment.moment_id, "bob", "wm-shared", kind="like", at=1_700_000_200)
    sandbox.control.moment_interaction(corp.app_id, moment.moment_id, "alice", "wm-shared", kind="comment", at=1_700_000_300)
    assert moment_engagement_poll(moment_id=moment.pk)["events"] == 2
    assert events.count() == 4
    moment.refresh_from_db()
    assert (moment.comments, moment.likes, moment.publishers["bob"]) == (2, 2, {"published": True, "reach": 1})
    # The API shows it.
    shown = api_client.get(f"/api/v1/wecom/moments/{moment.pk}/").json()
    assert (shown["state"], shown["comments"], shown["likes"]) == ("created", 2, 2)


def test_due_moments_are_polled_by_the_periodic_task(sandbox, corp, api_client, celery_eager, django_capture_on_commit_callbacks):
    assert any(e["task"] == "messaging.channels.tasks.moments_poll_due_task" for e in celery_app.conf.beat_schedule.values())
    response = _post(api_client, corp, django_capture_on_commit_callbacks, text="周末活动", sender_userids=["nobody-here"][:0])
    moment = WeComMoment.objects.get(pk=response.json()["id"])
    for _ in range(3):
        moments_poll_due()
    moment.refresh_from_db()
    assert moment.state == "created" and moment.last_polled_at is not None
    # Every staff member in the app's visible range was asked (no sender_list).
    assert set(moment.publishers) == {"alice", "bob"}
    # Just polled: not due again for 30 minutes.
    assert moment.pk not in list(moments_due())


def test_a_moment_whose_sending_met_a_transport_error_is_sent_by_the_periodic_task(sandbox, corp, api_client,
                                                                                   django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    # No worker ran the task (or it failed before WeCom answered): the moment stays pending.
    response = _post(api_client, corp, django_capture_on_commit_callbacks, text="补发")
    moment = WeComMoment.objects.get(pk=response.json()["id"])
    assert moment.state == "pending"
    assert moments_poll_due()["resubmitted"] == 0  # a fresh one is left to its task
    WeComMoment.objects.filter(pk=moment.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    assert moments_poll_due()["resubmitted"] == 1
    moment.refresh_from_db()
    assert moment.state == "submitted"
    assert len(sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")) == 1


def test_an_expired_media_id_is_uploaded_again(sandbox, corp, api_client, celery_eager, django_capture_on_commit_callbacks):
    video = media_file_create(name="v.mp4", content=MP4)
    cover = media_file_create(name="c.png", content=PNG)
    first = _post(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "video", "media_file": video.pk}])
    assert WeComMoment.objects.get(pk=first.json()["id"]).state == "submitted"
    sandbox.control.advance_clock(3 * 24 * 3600 + 60)  # WeCom forgot the video (3 days); our cache has not
    second = _post(api_client, corp, django_capture_on_commit_callbacks,
                   attachments=[{"msgtype": "link", "title": "新品", "url": "https://example.com/n", "media_file": cover.pk}])
    assert WeComMoment.objects.get(pk=second.json()["id"]).state == "submitted"
    third = _post(api_client, corp, django_capture_on_commit_callbacks, attachments=[{"msgtype": "video", "media_file": video.pk}])
    assert WeComMoment.objects.get(pk=third.json()["id"]).state == "submitted"
    calls = sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")
    assert [c["errcode"] for c in calls] == [0, 0, 40007, 0]
    assert calls[1]["body"]["attachments"][0]["link"]["media_id"]


def test_a_repeated_idempotency_key_sends_one_task(sandbox, corp, api_client, celery_eager, django_capture_on_commit_callbacks):
    ids = {_post(api_client, corp, django_capture_on_commit_callbacks, text="一次", idempotency_key="k-1").json()["id"] for _ in range(2)}
    assert len(ids) == 1
    assert len(sandbox.control.requests(app_id=corp.app_id, path_contains="add_moment_task")) == 1


@pytest.mark.parametrize("body, field", [
    ({"attachments": [{"msgtype": "miniprogram", "title": "t", "appid": "wx1", "page": "p", "media_file": "IMG"}]}, "miniprogram"),
    ({"attachments": [{"msgtype": "image", "media_file": "IMG"}, {"msgtype": "link", "title": "t", "url": "https://x.cn"}]}, "mixed"),
    ({"attachments": [{"msgtype": "link", "title": "t", "url": "https://x.cn"}] * 2}, "two links"),
    ({"text": "字" * 1500}, "4500 bytes"),
    ({"text": ""}, "empty"),
    ({"text": "hi", "sender_userids": ["ghost"]}, "unknown staff"),
    ({"text": "hi", "tag_ids": ["PLAIN"]}, "tag not mirrored"),
])
def test_what_wecom_would_refuse_is_a_400(corp, api_client, django_capture_on_commit_callbacks, body, field):
    from tests.factories import TagFactory

    image = media_file_create(name="i.png", content=PNG)
    plain = TagFactory(name="plain")
    body = copy.deepcopy(body)
    for item in body.get("attachments", []):
        if item.get("media_file") == "IMG":
            item["media_file"] = image.pk
    if body.get("tag_ids") == ["PLAIN"]:
        body["tag_ids"] = [plain.pk]
    response = _post(api_client, corp, django_capture_on_commit_callbacks, **body)
    assert response.status_code == 400, (field, response.content)
    assert response.json()["code"] in ("wecom_moment_invalid", "media_invalid"), field
    assert not WeComMoment.objects.exists()


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


def test_the_sandbox_keeps_wecoms_moment_rules(sandbox, corp):
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)
    image = client.post("media/upload", params={"type": "image"}, files={"media": ("a.png", PNG, "image/png")})["media_id"]

    def add(**body):
        return client.post("externalcontact/add_moment_task", data=body)

    assert _errcode(lambda: add(text={"content": "x" * 2001})) == 40058
    assert _errcode(lambda: add()) == 40058
    assert _errcode(lambda: add(attachments=[{"msgtype": "image", "image": {"media_id": image}}] * 10)) == 40058
    assert _errcode(lambda: add(attachments=[{"msgtype": "image", "image": {"media_id": image}},
                                             {"msgtype": "link", "link": {"title": "t", "url": "https://x.cn"}}])) == 40058
    assert _errcode(lambda: add(attachments=[{"msgtype": "miniprogram", "miniprogram": {}}])) == 40058
    assert _errcode(lambda: add(attachments=[{"msgtype": "image", "image": {"media_id": "nope"}}])) == 40007
    # Unknown staff members and tags are no error: the job result lists them.
    jobid = add(text={"content": "ok"}, visible_range={"sender_list": {"user_list": ["alice", "ghost"]},
                                                        "external_contact_list": {"tag_list": ["etnope"]}})["jobid"]
    answers = [client.get("externalcontact/get_moment_task_result", params={"jobid": jobid}) for _ in range(3)]
    assert [a["status"] for a in answers] == [1, 2, 3]
    result = answers[2]["result"]
    assert result["invalid_sender_list"]["user_list"] == ["ghost"]
    assert result["invalid_external_contact_list"]["tag_list"] == ["etnope"]
    moment_id = result["moment_id"]
    assert client.post("externalcontact/get_moment_task", data={"moment_id": moment_id})["task_list"] == [
        {"userid": "alice", "publish_status": 0}]
    assert _errcode(lambda: client.post("externalcontact/get_moment_comments", data={"moment_id": moment_id, "userid": "bob"})) == 60111
    assert _errcode(lambda: client.post("externalcontact/get_moment_task", data={"moment_id": "momnope"})) == 40058
    # get_moment_list: at most 30 days apart.
    assert _errcode(lambda: client.post("externalcontact/get_moment_list", data={"start_time": 0, "end_time": 31 * 24 * 3600})) == 40058
    # The jobid lives 24 hours.
    sandbox.control.advance_clock(24 * 3600 + 1)
    client = sandbox.wecom_client(corp.app_id, corp.app_secret)  # the old access token expired too
    assert _errcode(lambda: client.get("externalcontact/get_moment_task_result", params={"jobid": jobid})) == 40058
