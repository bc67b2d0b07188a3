"""Every message type goes through wechatpy to the sandbox over HTTP and is recorded there."""

from __future__ import annotations

import pytest

from customers.models import ChannelIdentity, ConsentCredit
from customers.services import consent_credit_add
from messaging.channels import get_adapter
from messaging.channels.base import OutboundMessage, Recipient
from messaging.channels.miniprogram import code_to_session
from messaging.channels.wecom import external_contact_get, group_message_reports_dispatch
from messaging.reports import _handlers, register_delivery_report_handler
from scrm.errors import ApplicationError
from scrm.redis import get_redis
from tests.factories import ChannelIdentityFactory

pytestmark = pytest.mark.django_db

TEMPLATE = {"template_id": "tpl-order", "url": "https://example.com/o/1", "data": {"first": {"value": "Shipped"}}}
TEXT = {"msgtype": "text", "text": {"content": "Spring sale"}}
SUBSCRIBE = {"template_id": "sub-tpl", "page": "pages/index", "data": {"thing1": {"value": "Restocked"}}}


def _forget_sent_memo():
    """What a crash between WeChat's answer and our record looks like: no memo of the send."""
    redis = get_redis()
    for key in redis.scan_iter("scrm:sent:*"):
        redis.delete(key)


def test_template_message_is_sent_with_client_msg_id(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-1"), OutboundMessage("template", TEMPLATE, "delivery-1"))
    assert outcome.status == "sent" and outcome.msgid
    [sent] = sandbox.control.sent_messages(oa_account.app_id, api="template")
    assert sent["touser"] == "o-1"
    assert sent["client_msg_id"] == "delivery-1"
    assert str(sent["msgid"]) == outcome.msgid


def test_template_repeated_with_same_delivery_id_is_delivered_once(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    adapter = get_adapter(oa_account)
    message = OutboundMessage("template", TEMPLATE, "delivery-7")
    first = adapter.send(Recipient("d7", "o-1"), message)
    again = adapter.send(Recipient("d7", "o-1"), message)  # answered from the sent memo
    _forget_sent_memo()
    after_crash = adapter.send(Recipient("d7", "o-1"), message)  # WeChat's client_msg_id de-duplicates
    assert first.msgid == again.msgid == after_crash.msgid
    assert len(sandbox.control.sent_messages(oa_account.app_id, api="template")) == 1
    assert len(sandbox.control.requests("message/template/send")) == 2


def test_mass_send_batches_recipients_in_one_call(sandbox, oa_account):
    openids = sandbox.control.add_followers(oa_account.app_id, 3)
    recipients = [Recipient(f"d{i}", oid) for i, oid in enumerate(openids)]
    adapter = get_adapter(oa_account)
    assert adapter.supports_batch("mass")
    outcomes = adapter.send_batch(recipients, OutboundMessage("mass", TEXT, "batch-1"))
    assert {o.status for o in outcomes.values()} == {"sent"}
    assert len({o.msgid for o in outcomes.values()}) == 1
    [sent] = sandbox.control.sent_messages(oa_account.app_id, api="mass")
    assert sorted(sent["touser"]) == sorted(openids)
    assert sorted(sent["delivered"]) == sorted(openids)


def test_mass_send_to_one_follower_reaches_them_once(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-1"), OutboundMessage("mass", TEXT, "delivery-1"))
    assert outcome.status == "sent"
    [sent] = sandbox.control.sent_messages(oa_account.app_id, api="mass")
    assert sent["delivered"] == ["o-1"]


def test_mass_send_retried_after_crash_is_delivered_once(sandbox, oa_account):
    openids = sandbox.control.add_followers(oa_account.app_id, 2)
    recipients = [Recipient(f"d{i}", oid) for i, oid in enumerate(openids)]
    adapter = get_adapter(oa_account)
    message = OutboundMessage("mass", TEXT, "batch-9")
    first = adapter.send_batch(recipients, message)
    _forget_sent_memo()
    retried = adapter.send_batch(recipients, message)
    assert [r["errcode"] for r in sandbox.control.requests("message/mass/send")] == [0, 45065]
    assert {o.status for o in retried.values()} == {"sent"}
    assert {o.msgid for o in retried.values()} == {o.msgid for o in first.values()}
    assert len(sandbox.control.sent_messages(oa_account.app_id, api="mass")) == 1


def test_customer_service_message_needs_the_48_hour_window(sandbox, oa_account):
    sandbox.control.add_followers(oa_account.app_id, ["o-near", "o-far"])
    sandbox.control.set_interaction(oa_account.app_id, "o-near")
    adapter = get_adapter(oa_account)
    message = OutboundMessage("customer_service", TEXT, "cs-1")
    assert adapter.send(Recipient("d1", "o-near"), message).status == "sent"
    refused = adapter.send(Recipient("d2", "o-far"), message)
    assert (refused.status, refused.error_code) == ("permanent", "45015")
    [sent] = sandbox.control.sent_messages(oa_account.app_id, api="custom")
    assert sent["touser"] == "o-near"


def test_subscribe_message_is_sent_with_consent_and_43101_revokes_our_credit(sandbox, oa_account):
    granted = ChannelIdentityFactory(account=oa_account, external_id="o-yes")
    refused = ChannelIdentityFactory(account=oa_account, external_id="o-no")
    sandbox.control.add_followers(oa_account.app_id, ["o-yes", "o-no"])
    sandbox.control.grant_consent(oa_account.app_id, "o-yes", "sub-tpl", 1)
    for identity in (granted, refused):
        consent_credit_add(customer_id=identity.customer_id, account_id=oa_account.pk, template_id="sub-tpl", count=2)
    adapter = get_adapter(oa_account)
    message = OutboundMessage("oa_subscribe", SUBSCRIBE, "sub-1")
    assert adapter.send(Recipient("d1", "o-yes"), message).status == "sent"
    outcome = adapter.send(Recipient("d2", "o-no"), message)
    assert (outcome.status, outcome.error_code) == ("permanent", "43101")
    credits = dict(ConsentCredit.objects.values_list("customer_id", "remaining"))
    # Spending a credit per send is the dispatcher's; a refusal leaves none.
    assert credits == {granted.customer_id: 2, refused.customer_id: 0}
    assert [m["touser"] for m in sandbox.control.sent_messages(oa_account.app_id, api="bizsend")] == ["o-yes"]


def test_43004_marks_the_identity_unfollowed(sandbox, oa_account):
    identity = ChannelIdentityFactory(account=oa_account, external_id="o-gone", follow_state="following")
    sandbox.control.add_followers(oa_account.app_id, [{"openid": "o-gone", "subscribe": False}])
    outcome = get_adapter(oa_account).send(Recipient("d1", "o-gone"), OutboundMessage("template", TEMPLATE, "t-1"))
    assert (outcome.status, outcome.error_code) == ("permanent", "43004")
    identity.refresh_from_db()
    assert identity.follow_state == "unfollowed" and identity.unfollowed_at is not None


def test_mini_program_subscribe_message_is_sent(sandbox, mp_account):
    identity = ChannelIdentityFactory(account=mp_account, external_id="mp-1")
    consent_credit_add(customer_id=identity.customer_id, account_id=mp_account.pk, template_id="sub-tpl", count=1)
    sandbox.control.add_followers(mp_account.app_id, ["mp-1"])
    sandbox.control.grant_consent(mp_account.app_id, "mp-1", "sub-tpl", 1)
    adapter = get_adapter(mp_account)
    outcome = adapter.send(Recipient("d1", "mp-1"), OutboundMessage("mp_subscribe", SUBSCRIBE, "mp-d1"))
    assert outcome.status == "sent"
    assert [m["touser"] for m in sandbox.control.sent_messages(mp_account.app_id, api="subscribe")] == ["mp-1"]
    # A second send without WeChat-side consent: 43101, and our credit is revoked.
    again = adapter.send(Recipient("d2", "mp-1"), OutboundMessage("mp_subscribe", SUBSCRIBE, "mp-d2"))
    assert again.error_code == "43101"
    assert ConsentCredit.objects.get(customer=identity.customer).remaining == 0


def test_code_to_session_exchanges_a_code_once(sandbox, mp_account):
    code = sandbox.control.create_login_code(mp_account.app_id, "mp-openid", unionid="u-1")
    session = code_to_session(mp_account, code)
    assert session["openid"] == "mp-openid" and session["unionid"] == "u-1" and session["session_key"]
    with pytest.raises(ApplicationError) as used:
        code_to_session(mp_account, code)
    assert used.value.code == "mp_login_failed"
    assert sandbox.control.token_fetch_count(mp_account.app_id) == 0


def test_wecom_group_message_task_and_its_results(sandbox, wecom_account):
    control = sandbox.control
    control.add_wecom_staff(wecom_account.app_id, "staff-1")
    contacts = control.add_external_contacts(wecom_account.app_id, "staff-1", 2)
    recipients = [Recipient(f"d{i}", eid) for i, eid in enumerate([*contacts, "wm-stranger"])]
    adapter = get_adapter(wecom_account)
    message = OutboundMessage("wecom_group", {"sender": "staff-1", "text": {"content": "New arrivals"}}, "batch-1")
    outcomes = adapter.send_batch(recipients, message)
    assert [outcomes[f"d{i}"].status for i in range(3)] == ["sent", "sent", "permanent"]
    assert outcomes["d2"].error_code == "not_contact"
    msgid = outcomes["d0"].msgid
    [task] = control.sent_messages(wecom_account.app_id, api="wecom_group")
    assert task["msgid"] == msgid and task["sender"] == "staff-1"

    reports = []
    register_delivery_report_handler(reports.append)
    try:
        assert group_message_reports_dispatch(wecom_account, msgid=msgid) == {"pending": 3}
        control.confirm_group_task(wecom_account.app_id, msgid)
        counts = group_message_reports_dispatch(wecom_account, msgid=msgid)
    finally:
        _handlers.remove(reports.append)
    assert counts == {"delivered": 2, "not_contact": 1}
    assert sorted((r.external_id, r.status) for r in reports) == sorted(
        [(contacts[0], "delivered"), (contacts[1], "delivered"), ("wm-stranger", "not_contact")]
    )


def test_external_contact_lookup(sandbox, wecom_account):
    control = sandbox.control
    control.add_wecom_staff(wecom_account.app_id, "staff-1")
    code = control.add_external_contact(wecom_account.app_id, "staff-1", "wm-1", unionid="u-9", name="Lin", state="spring")
    contact = external_contact_get(wecom_account, "wm-1")
    assert contact["external_contact"]["unionid"] == "u-9"
    assert contact["follow_user"][0]["state"] == "spring"
    assert code  # welcome messages: tests/messaging/test_welcome_lane.py


def test_an_adapter_refuses_a_message_type_of_another_channel(oa_account):
    with pytest.raises(ValueError):
        get_adapter(oa_account).send(Recipient("d1", "o-1"), OutboundMessage("wecom_group", {}, "k"))


def test_identity_follow_state_untouched_by_a_sent_message(sandbox, oa_account):
    identity = ChannelIdentityFactory(account=oa_account, external_id="o-1", follow_state="following")
    sandbox.control.add_followers(oa_account.app_id, ["o-1"])
    get_adapter(oa_account).send(Recipient("d1", "o-1"), OutboundMessage("template", TEMPLATE, "t-1"))
    assert ChannelIdentity.objects.get(pk=identity.pk).follow_state == "following"
