"""Menu events through the real callback view: every click routes to its action, and every menu
event is recorded with the menu item it came from."""

from __future__ import annotations

import pytest

from customers.models import CustomerTag, EngagementEvent
from menus import services
from menus.models import MenuReply
from messaging import conversation_requests
from tests.factories import TagFactory
from tests.menus.conftest import DEFAULT_BUTTONS, VIP_BUTTONS
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def requests_seen():
    seen: list = []
    conversation_requests.register_conversation_request_handler(seen.append)
    yield seen
    conversation_requests.unregister_conversation_request_handler(seen.append)


def _publish(account, buttons, segment=None):
    menu = services.menu_create(account=account, name="m", segment=segment)
    services.menu_version_save(menu=menu, buttons=buttons)
    return services.menu_publish(menu=menu)


def _click(deliver, account, openid, key):
    deliver(account, wechat_payload("click.xml", openid=openid, to=account.app_id, key=key))
    return EngagementEvent.objects.filter(event_type="wechat.click", properties__key=key).latest("id")


def _event_xml(account, openid, event, key, extra=""):
    return (
        f"<xml><ToUserName><![CDATA[{account.app_id}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>1767000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
        f"<EventKey><![CDATA[{key}]]></EventKey>{extra}</xml>"
    )


def test_a_click_replies_rendered_for_the_customer(sandbox, oa_account, followers, deliver, settings):
    settings.CALLBACK_REPLAY_WINDOW_SECONDS = 0
    (customer, openid), = followers(1)
    default = _publish(oa_account, DEFAULT_BUTTONS)
    sandbox.control.set_interaction(oa_account.app_id, openid, kind="event")  # the click, as WeChat saw it
    event = _click(deliver, oa_account, openid, "TODAY")

    expected = {"menu_id": default.pk, "menu_item": "1", "menu_item_name": "今日推荐", "menu_action": "reply_text"}
    assert {k: event.properties.get(k) for k in expected} == expected
    reply = MenuReply.objects.get()
    assert reply.state == "sent"
    sent = sandbox.control.sent_messages(app_id=oa_account.app_id, api="custom")
    assert [m["payload"]["text"]["content"] for m in sent] == [f"{customer.display_name}，今天推荐新品"]

    # WeChat retries the same callback: one reply only.
    deliver(oa_account, wechat_payload("click.xml", openid=openid, to=oa_account.app_id, key="TODAY", create_time=str(event.occurred_at.timestamp())[:10]))
    assert MenuReply.objects.count() == 1


@pytest.mark.parametrize(
    ("action", "payload_key"),
    [
        ({"type": "reply_image", "media_id": "MEDIA_1"}, "image"),
        ({"type": "reply_article", "title": "{{ customer.display_name }}的新品", "url": "https://shop.example.com/a", "picurl": "https://shop.example.com/a.jpg"}, "news"),
        ({"type": "reply_miniprogram", "title": "去逛逛", "appid": "wxmp0001", "pagepath": "pages/index", "thumb_media_id": "THUMB"}, "miniprogrampage"),
    ],
)
def test_each_reply_kind_reaches_the_sandbox(sandbox, oa_account, followers, deliver, action, payload_key):
    (customer, openid), = followers(1)
    _publish(oa_account, [{"type": "click", "name": "试试", "key": "TRY", "action": action}])
    sandbox.control.set_interaction(oa_account.app_id, openid, kind="event")
    _click(deliver, oa_account, openid, "TRY")
    (sent,) = sandbox.control.sent_messages(app_id=oa_account.app_id, api="custom")
    assert sent["payload"]["msgtype"] == payload_key and sent["touser"] == openid
    if payload_key == "news":
        assert sent["payload"]["news"]["articles"][0]["title"] == f"{customer.display_name}的新品"


def test_a_reply_outside_the_window_is_recorded_as_failed(sandbox, oa_account, followers, deliver):
    (_, openid), = followers(1)
    _publish(oa_account, DEFAULT_BUTTONS)
    _click(deliver, oa_account, openid, "TODAY")  # the sandbox saw no click: no window
    reply = MenuReply.objects.get()
    assert (reply.state, reply.error_code) == ("failed", "45015")


def test_a_click_opens_a_conversation_through_the_service_hook(sandbox, oa_account, followers, deliver, requests_seen):
    (customer, openid), = followers(1)
    default = _publish(oa_account, DEFAULT_BUTTONS)
    _click(deliver, oa_account, openid, "HUMAN")
    (request,) = requests_seen
    assert (request.customer_id, request.openid, request.source) == (customer.pk, openid, "menu")
    assert request.context["menu_item"] == "3-1" and request.context["greeting"] == "您好" and request.context["menu_id"] == default.pk
    assert EngagementEvent.objects.filter(event_type="service.conversation_requested", customer=customer).count() == 1


def test_a_click_tags_the_customer(sandbox, oa_account, followers, deliver):
    (customer, openid), = followers(1)
    vip = TagFactory(name="点过会员")
    _publish(oa_account, [{"type": "click", "name": "会员", "key": "JOIN", "action": {"type": "tag_customer", "tag_ids": [vip.pk]}}])
    _click(deliver, oa_account, openid, "JOIN")
    assert CustomerTag.objects.filter(customer=customer, tag=vip).exists()


def test_a_click_records_interest_in_topics(sandbox, oa_account, followers, deliver, settings):
    (customer, openid), = followers(1)
    topic = TagFactory(name="护肤")
    _publish(oa_account, [{"type": "click", "name": "护肤", "key": "SKIN", "action": {"type": "record_topics", "topic_ids": [topic.pk]}}])
    event = _click(deliver, oa_account, openid, "SKIN")
    assert event.properties["topics"] == [topic.pk]
    from customers.engagement.learning import AFFINITY_WEIGHTS

    assert AFFINITY_WEIGHTS["wechat.click"] > 0


def test_view_scan_and_location_events_carry_the_menu_item(sandbox, oa_account, followers, deliver):
    (_, openid), = followers(1)
    default = _publish(oa_account, DEFAULT_BUTTONS)
    deliver(oa_account, _event_xml(oa_account, openid, "VIEW", "https://shop.example.com/"))
    deliver(oa_account, _event_xml(oa_account, openid, "scancode_push", "SCAN",
                                   "<ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult><![CDATA[PROD-1]]></ScanResult></ScanCodeInfo>"))
    deliver(oa_account, _event_xml(oa_account, openid, "view_miniprogram", "pages/index", "<MenuId>1</MenuId>"))
    view = EngagementEvent.objects.get(event_type="wechat.view")
    assert (view.properties["menu_id"], view.properties["menu_item"]) == (default.pk, "2")
    scan = EngagementEvent.objects.get(event_type="wechat.scancode_push")
    assert (scan.properties["menu_item"], scan.properties["scan_result"]) == ("3-2", "PROD-1")
    assert EngagementEvent.objects.get(event_type="wechat.view_miniprogram").properties["menu_item"] == "3-3"


def test_a_member_click_is_attributed_to_the_segments_menu(sandbox, oa_account, followers, deliver, vip_segment):
    (member, openid), = followers(1)
    _publish(oa_account, DEFAULT_BUTTONS + [])
    shared = [{**VIP_BUTTONS[0], "key": "TODAY"}]
    vip = _publish(oa_account, shared, segment=vip_segment([member]))
    event = _click(deliver, oa_account, openid, "TODAY")
    assert (event.properties["menu_id"], event.properties["menu_segment_id"]) == (vip.pk, vip.segment_id)
