"""WeChat's own customer-service (kf) accounts in the product: mirrored from WeChat (the sandbox),
managed through the API, sessions handing a conversation to a kf account, the session events applied
to the conversation, and replies sent as a kf account."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission, User

from messaging.channels.clients import wechat_client
from messaging.inbox.models import Conversation, KfAccount

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def kf_admin(client, inbox_account, sandbox):
    sandbox.control.call("kf_setup", app_id=inbox_account.app_id, wechat_id="gh_brand")
    user = User.objects.create_user("kf-admin", password="pw-kf-admin-1", is_staff=True)
    codenames = ["view_kfaccount", "add_kfaccount", "change_kfaccount", "delete_kfaccount", "view_conversation", "change_conversation", "reply_conversation"]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="messaging", codename__in=codenames))
    client.force_login(user)
    return client


def _add(client, account, kf_account="alice@gh_brand", nickname="小爱"):
    return client.post("/api/v1/kf-accounts/", {"account": account.pk, "kf_account": kf_account, "nickname": nickname}, content_type=JSON)


def test_kf_accounts_are_added_renamed_given_an_avatar_and_removed_through_wechat(kf_admin, sandbox, inbox_account):
    created = _add(kf_admin, inbox_account)
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert [a["kf_nick"] for a in sandbox.control.call("kf_state", app_id=inbox_account.app_id)["accounts"]] == ["小爱"]
    renamed = kf_admin.patch(f"/api/v1/kf-accounts/{pk}/", {"nickname": "爱丽丝"}, content_type=JSON)
    assert renamed.json()["nickname"] == "爱丽丝"
    avatar = kf_admin.post(f"/api/v1/kf-accounts/{pk}/headimg/", {"media": _jpg()})
    assert avatar.status_code == 200 and avatar.json()["headimgurl"].startswith("http")
    assert kf_admin.delete(f"/api/v1/kf-accounts/{pk}/").status_code == 204
    assert not KfAccount.objects.exists()
    assert sandbox.control.call("kf_state", app_id=inbox_account.app_id)["accounts"] == []


def _jpg():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("a.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, content_type="image/jpeg")


def test_wechats_rules_are_checked_before_calling_and_wechats_refusal_is_named(kf_admin, sandbox, inbox_account):
    too_long = _add(kf_admin, inbox_account, kf_account="abcdefghijk@gh_brand")
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "kf_invalid"
    assert too_long.json()["detail"]["problems"][0]["limit"] == "kf_account_format"
    nickname = _add(kf_admin, inbox_account, nickname="一二三四五六七八九十一二三四五六七")
    assert nickname.json()["detail"]["problems"][0]["limit"] == "nickname_chars"
    assert sandbox.control.requests("kfaccount/add", app_id=inbox_account.app_id) == []  # WeChat never asked
    wrong_suffix = _add(kf_admin, inbox_account, kf_account="alice@gh_other")
    assert wrong_suffix.status_code == 409
    assert (wrong_suffix.json()["code"], wrong_suffix.json()["detail"]["errcode"]) == ("kf_refused", 65404)
    sandbox.control.call("kf_setup", app_id=inbox_account.app_id, enabled=False)
    off = _add(kf_admin, inbox_account)
    assert (off.status_code, off.json()["detail"]["errcode"]) == (409, 65400)


def test_sync_mirrors_wechats_list_and_who_is_online(kf_admin, sandbox, inbox_account):
    client = wechat_client(inbox_account)
    url = inbox_account.resolved_api_base_url + "customservice/kfaccount/add"
    client.post(url, data={"kf_account": "carol@gh_brand", "nickname": "卡罗"})  # added in WeChat's own console
    sandbox.control.call("kf_worker", app_id=inbox_account.app_id, kf_account="carol@gh_brand", kf_wx="carol_wx", online=1)
    KfAccount.objects.create(account=inbox_account, kf_account="gone@gh_brand", nickname="走了")
    synced = kf_admin.post("/api/v1/kf-accounts/sync/", {"account": inbox_account.pk}, content_type=JSON)
    assert synced.json() == {"accounts": 1, "online": 1, "removed": 1}
    listed = kf_admin.get(f"/api/v1/kf-accounts/?account={inbox_account.pk}").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["kf_account"], r["nickname"], r["kf_wx"], r["online"]) for r in rows] == [("carol@gh_brand", "卡罗", "carol_wx", True)]


@pytest.fixture
def held_conversation(kf_admin, sandbox, inbox_account, follower, customer_writes):
    """A conversation handed to the online kf account alice@gh_brand through the API."""
    customer_writes(follower)
    _add(kf_admin, inbox_account)
    sandbox.control.call("kf_worker", app_id=inbox_account.app_id, kf_account="alice@gh_brand", kf_wx="alice_wx", online=1)
    conversation = Conversation.objects.get()
    handed = kf_admin.post(f"/api/v1/conversations/{conversation.pk}/kf-session/", {"kf_account": "alice@gh_brand"}, content_type=JSON)
    assert handed.status_code == 200, handed.json()
    assert handed.json()["kf_account"] == "alice@gh_brand"
    return conversation


def test_a_conversation_handed_to_a_kf_account_is_answered_as_that_account_until_closed(kf_admin, sandbox, inbox_account, follower, held_conversation):
    pk = held_conversation.pk
    assert sandbox.control.call("kf_state", app_id=inbox_account.app_id)["sessions"][follower]["kf_account"] == "alice@gh_brand"
    reply = kf_admin.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "我是小爱", "idempotency_key": "k1"}, content_type=JSON)
    assert reply.status_code == 201, reply.json()
    sent = sandbox.control.sent_messages(app_id=inbox_account.app_id, api="custom")
    assert sent[-1]["payload"]["customservice"] == {"kf_account": "alice@gh_brand"}
    unknown = kf_admin.post(f"/api/v1/conversations/{pk}/reply/", {"kind": "text", "text": "x", "kf_account": "ghost@gh_brand", "idempotency_key": "k2"}, content_type=JSON)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "kf_unknown")
    closed = kf_admin.delete(f"/api/v1/conversations/{pk}/kf-session/")
    assert closed.status_code == 200 and closed.json()["kf_account"] == ""
    again = kf_admin.delete(f"/api/v1/conversations/{pk}/kf-session/")
    assert (again.status_code, again.json()["code"]) == (409, "kf_no_session")


def test_a_kf_session_refused_by_wechat_says_why(kf_admin, sandbox, inbox_account, follower, customer_writes):
    customer_writes(follower)
    _add(kf_admin, inbox_account)  # not bound to a WeChat user, not online
    pk = Conversation.objects.get().pk
    refused = kf_admin.post(f"/api/v1/conversations/{pk}/kf-session/", {"kf_account": "alice@gh_brand"}, content_type=JSON)
    assert (refused.status_code, refused.json()["code"], refused.json()["detail"]["errcode"]) == (409, "kf_refused", 65402)
    unknown = kf_admin.post(f"/api/v1/conversations/{pk}/kf-session/", {"kf_account": "ghost@gh_brand"}, content_type=JSON)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "kf_unknown")


def test_session_events_hold_switch_and_release_the_conversation(customer_writes, follower, make_operator):
    make_operator("kate")
    at = iter(range(int(time.time()) - 100, int(time.time())))  # WeChat dedupes events by sender and second

    def event(payload, **fields):
        customer_writes(follower, payload, create_time=str(next(at)), **fields)

    event("kf_session.xml", event="kf_create_session", kf="alice@gh_brand")  # opens the conversation
    conversation = Conversation.objects.get()
    assert (conversation.source, conversation.kf_account, conversation.state) == ("kf", "alice@gh_brand", "open")
    assert conversation.assignee.username == "kate"
    event("kf_switch_session.xml", from_kf="alice@gh_brand", to_kf="bob@gh_brand")
    conversation.refresh_from_db()
    assert conversation.kf_account == "bob@gh_brand"
    event("kf_session.xml", event="kf_close_session", kf="alice@gh_brand")  # not the holder: nothing changes
    conversation.refresh_from_db()
    assert (conversation.kf_account, conversation.state) == ("bob@gh_brand", "open")
    event("kf_session.xml", event="kf_close_session", kf="bob@gh_brand")
    conversation.refresh_from_db()
    assert (conversation.kf_account, conversation.kf_since, conversation.state) == ("", None, "resolved")
    events = [m.body["event"] for m in conversation.messages.filter(msg_type="event").order_by("pk")]
    assert events == ["kf_create_session", "kf_switch_session", "kf_close_session", "kf_close_session"]
