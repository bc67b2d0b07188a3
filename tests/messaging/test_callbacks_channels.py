"""Callbacks that need the channel layer: channel codes (QR scenes, "contact me" ways) and WeCom
contacts fetched from the sandbox over real HTTP, with the welcome message sent back to it."""

from __future__ import annotations

import pytest

from customers.models import ChannelIdentity, CustomerTag, CustomerUnionId, EngagementEvent
from messaging.channels.models import ChannelCode
from messaging.sandbox.registration import sandbox_register_account
from tests.factories import ChannelAccountFactory, ChannelIdentityFactory, TagFactory
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db


def _identity(account, external_id) -> ChannelIdentity:
    return ChannelIdentity.objects.select_related("customer").get(account=account, external_id=external_id)


def _code(account, scene, *tags, kind="qr", welcome_text=""):
    code = ChannelCode.objects.create(account=account, kind=kind, name=f"Code {scene}", scene=scene, welcome_text=welcome_text)
    code.tags.set(tags)
    return code


def test_subscribe_through_a_channel_qr_code_tags_the_customer_and_sets_source(deliver, callback_oa_account):
    spring, poster = TagFactory(name="spring"), TagFactory(name="poster")
    _code(callback_oa_account, "spring_poster", spring, poster)
    deliver(callback_oa_account, wechat_payload("subscribe_qrscene.xml", openid="o-code", scene="spring_poster"))
    customer = _identity(callback_oa_account, "o-code").customer
    links = CustomerTag.objects.filter(customer=customer)
    assert {(link.tag_id, link.source) for link in links} == {(spring.pk, "channel_code"), (poster.pk, "channel_code")}
    assert customer.source == "qr:Code spring_poster"


def test_channel_code_does_not_overwrite_an_existing_source(deliver, callback_oa_account):
    known = ChannelIdentityFactory(account=callback_oa_account, external_id="o-old", customer__source="import:crm")
    _code(callback_oa_account, "store_1", TagFactory())
    deliver(callback_oa_account, wechat_payload("scan.xml", openid="o-old", scene="store_1"))
    known.customer.refresh_from_db()
    assert known.customer.source == "import:crm"
    assert CustomerTag.objects.filter(customer=known.customer).count() == 1


def test_scan_of_a_channel_code_by_a_follower_tags_them_once_even_if_repeated(deliver, callback_oa_account):
    tag = TagFactory()
    _code(callback_oa_account, "store_2", tag)
    deliver(callback_oa_account, wechat_payload("scan.xml", openid="o-scan2", scene="store_2", create_time="1760000000"))
    deliver(callback_oa_account, wechat_payload("scan.xml", openid="o-scan2", scene="store_2", create_time="1760000100"))
    customer = _identity(callback_oa_account, "o-scan2").customer
    assert list(CustomerTag.objects.filter(customer=customer).values_list("tag_id", flat=True)) == [tag.pk]
    assert EngagementEvent.objects.filter(customer=customer, event_type="wechat.scan").count() == 2


def test_unknown_scene_subscribes_without_tags(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("subscribe_qrscene.xml", openid="o-nocode", scene="nope"))
    customer = _identity(callback_oa_account, "o-nocode").customer
    assert not CustomerTag.objects.filter(customer=customer).exists()
    assert customer.source == ""


@pytest.fixture
def sandbox_wecom(sandbox):
    account = ChannelAccountFactory(
        kind="wecom", app_id="wwsandboxcorp0001", encoding_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        api_base_url=sandbox.base_url, encrypt_mode="safe",
    )
    sandbox_register_account(account)
    sandbox.control.add_wecom_staff(account.app_id, "zhangsan")
    return account


def _add_contact(sandbox, corp_id: str, external_userid: str, **params) -> str:
    """Make the contact in the sandbox; returns its welcome code."""
    return sandbox.control.add_external_contact(corp_id, "zhangsan", external_userid, **params)


def test_wecom_add_external_contact_resolves_unionid_tags_and_welcomes(deliver, sandbox, sandbox_wecom):
    oa = ChannelAccountFactory(kind="oa")
    follower = ChannelIdentityFactory(account=oa, external_id="o-oa-1", unionid="union-42")

    CustomerUnionId.objects.create(unionid="union-42", customer=follower.customer)
    vip = TagFactory(name="vip")
    _code(sandbox_wecom, "store_7", vip, kind="contact_way", welcome_text="欢迎光临 store 7")
    welcome_code = _add_contact(sandbox, sandbox_wecom.app_id, "wmEXT-42", unionid="union-42", name="Li Lei", state="store_7")
    xml = wechat_payload(
        "wecom_add_external_contact.xml", to=sandbox_wecom.app_id, staff="zhangsan", external_userid="wmEXT-42",
        state="store_7", welcome_code=welcome_code,
    )
    deliver(sandbox_wecom, xml)

    identity = _identity(sandbox_wecom, "wmEXT-42")
    assert identity.kind == "wecom_external"
    assert identity.customer_id == follower.customer_id, "the contact is the follower we already knew (same unionid)"
    assert identity.owner_staff_id == "zhangsan"
    assert identity.follow_state == "following"
    assert CustomerTag.objects.filter(customer_id=identity.customer_id, tag=vip, source="channel_code").exists()
    assert EngagementEvent.objects.filter(customer_id=identity.customer_id, event_type="wecom.add_contact").count() == 1
    [welcome] = sandbox.control.sent_messages(app_id=sandbox_wecom.app_id, api="welcome")
    assert "欢迎光临 store 7" in str(welcome)


def test_wecom_add_retry_is_stored_once_and_welcomes_once(deliver, sandbox, sandbox_wecom):
    _code(sandbox_wecom, "store_8", kind="contact_way", welcome_text="hi")
    welcome_code = _add_contact(sandbox, sandbox_wecom.app_id, "wmEXT-43", state="store_8")
    xml = wechat_payload("wecom_add_external_contact.xml", to=sandbox_wecom.app_id, staff="zhangsan", external_userid="wmEXT-43",
                         state="store_8", welcome_code=welcome_code)
    deliver(sandbox_wecom, xml)
    deliver(sandbox_wecom, xml)
    assert len(sandbox.control.sent_messages(app_id=sandbox_wecom.app_id, api="welcome")) == 1
    assert ChannelIdentity.objects.filter(account=sandbox_wecom, external_id="wmEXT-43").count() == 1


def test_wecom_add_without_a_contact_way_sends_no_welcome(deliver, sandbox, sandbox_wecom):
    welcome_code = _add_contact(sandbox, sandbox_wecom.app_id, "wmEXT-44")
    xml = wechat_payload("wecom_add_external_contact.xml", to=sandbox_wecom.app_id, staff="zhangsan", external_userid="wmEXT-44",
                         state="", welcome_code=welcome_code)
    deliver(sandbox_wecom, xml)
    assert _identity(sandbox_wecom, "wmEXT-44").owner_staff_id == "zhangsan"
    assert sandbox.control.sent_messages(app_id=sandbox_wecom.app_id, api="welcome") == []
