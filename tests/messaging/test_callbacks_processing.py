"""Processing of every event type: real encrypted callbacks posted to the view, processed by the
task, and the resulting customer state checked."""

from __future__ import annotations

import pytest

from customers.models import ChannelIdentity, ConsentCredit, EngagementEvent
from messaging.callbacks import services
from messaging.callbacks.models import InboundMessage
from tests.factories import ChannelIdentityFactory
from tests.plugins.callbacks import wechat_payload

pytestmark = pytest.mark.django_db

T0 = 1_760_000_000


def _identity(account, openid) -> ChannelIdentity:
    return ChannelIdentity.objects.select_related("customer").get(account=account, external_id=openid)


def test_subscribe_creates_a_following_customer_and_records_the_event(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("subscribe.xml", openid="o-new", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-new")
    assert identity.kind == "oa_openid"
    assert identity.follow_state == "following"
    assert int(identity.followed_at.timestamp()) == T0
    assert list(EngagementEvent.objects.filter(customer=identity.customer).values_list("event_type", flat=True)) == ["wechat.subscribe"]
    row = InboundMessage.objects.get(account=callback_oa_account)
    assert row.state == "processed"
    assert row.attempts == 1
    assert row.processed_at is not None


def test_processing_a_message_twice_changes_nothing_the_second_time(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("subscribe.xml", openid="o-twice", create_time=str(T0)))
    row = InboundMessage.objects.get(account=callback_oa_account)
    identity = _identity(callback_oa_account, "o-twice")
    before = (identity.followed_at, EngagementEvent.objects.count(), ChannelIdentity.objects.count())
    assert services.inbound_process(inbound_id=row.pk) is False
    identity.refresh_from_db()
    assert (identity.followed_at, EngagementEvent.objects.count(), ChannelIdentity.objects.count()) == before
    row.refresh_from_db()
    assert row.attempts == 1


def test_subscribe_for_a_known_openid_keeps_the_customer(deliver, callback_oa_account):
    known = ChannelIdentityFactory(account=callback_oa_account, external_id="o-known", follow_state="unfollowed")
    deliver(callback_oa_account, wechat_payload("subscribe.xml", openid="o-known", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-known")
    assert identity.customer_id == known.customer_id
    assert identity.follow_state == "following"


def test_subscribe_with_qrscene_records_the_scene(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("subscribe_qrscene.xml", openid="o-qr", scene="spring_poster", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-qr")
    assert identity.subscribe_scene == "spring_poster"
    event = EngagementEvent.objects.get(customer=identity.customer)
    assert event.properties["scene"] == "spring_poster"


def test_unsubscribe_marks_the_identity_unfollowed(deliver, callback_oa_account):
    ChannelIdentityFactory(account=callback_oa_account, external_id="o-leaving", follow_state="following")
    deliver(callback_oa_account, wechat_payload("unsubscribe.xml", openid="o-leaving", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-leaving")
    assert identity.follow_state == "unfollowed"
    assert int(identity.unfollowed_at.timestamp()) == T0
    assert EngagementEvent.objects.filter(customer=identity.customer, event_type="wechat.unsubscribe").count() == 1


def test_an_older_subscribe_after_an_unsubscribe_does_not_refollow(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("unsubscribe.xml", openid="o-order", create_time=str(T0 + 10)))
    deliver(callback_oa_account, wechat_payload("subscribe.xml", openid="o-order", create_time=str(T0)))
    assert _identity(callback_oa_account, "o-order").follow_state == "unfollowed"


def test_scan_records_the_scene(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("scan.xml", openid="o-scan", scene="store_42", create_time=str(T0)))
    event = EngagementEvent.objects.get(customer=_identity(callback_oa_account, "o-scan").customer)
    assert event.event_type == "wechat.scan"
    assert event.properties["scene"] == "store_42"


def test_click_and_view_are_recorded_as_engagement(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("click.xml", openid="o-menu", key="V1001_NEWS", create_time=str(T0)))
    deliver(callback_oa_account, wechat_payload("view.xml", openid="o-menu", url="https://shop.example.com/", create_time=str(T0 + 1)))
    identity = _identity(callback_oa_account, "o-menu")
    events = {e.event_type: e.properties for e in EngagementEvent.objects.filter(customer=identity.customer)}
    assert events["wechat.click"]["key"] == "V1001_NEWS"
    assert events["wechat.view"]["url"] == "https://shop.example.com/"
    assert int(identity.customer.last_engaged_at.timestamp()) == T0 + 1


def test_text_message_opens_the_service_window_and_records_engagement(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("text.xml", openid="o-chat", content="你好", msg_id="777", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-chat")
    assert int(identity.last_interaction_at.timestamp()) == T0
    event = EngagementEvent.objects.get(customer=identity.customer)
    assert event.event_type == "wechat.message"
    assert event.properties == {"msg_type": "text", "msg_id": "777", "content": "你好"}
    assert event.account_id == callback_oa_account.pk


def test_image_message_also_opens_the_window(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("image.xml", openid="o-img", create_time=str(T0)))
    identity = _identity(callback_oa_account, "o-img")
    assert identity.last_interaction_at is not None
    assert EngagementEvent.objects.get(customer=identity.customer).properties["msg_type"] == "image"


@pytest.mark.parametrize(
    ("raw_status", "status"),
    [("success", "delivered"), ("failed:user block", "user_block"), ("failed: system failed", "system_failed")],
)
def test_template_job_finish_dispatches_the_delivery_report(deliver, callback_oa_account, delivery_reports, raw_status, status):
    ChannelIdentityFactory(account=callback_oa_account, external_id="o-tpl")
    deliver(callback_oa_account, wechat_payload("template_finish.xml", openid="o-tpl", msg_id="200163836", status=raw_status, create_time=str(T0)))
    [report] = delivery_reports
    assert (report.account_id, report.msgid, report.status, report.raw_status, report.external_id) == (
        callback_oa_account.pk, "200163836", status, raw_status, "o-tpl"
    )
    assert int(report.occurred_at.timestamp()) == T0
    assert _identity(callback_oa_account, "o-tpl").refuses_template is (status == "user_block")


def test_mass_send_finish_is_stored_and_processed(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("mass_finish.xml", msg_id="1000001625"))
    row = InboundMessage.objects.get(account=callback_oa_account)
    assert row.state == "processed"
    assert row.parsed["SentCount"] == "75"


def test_subscribe_popup_accept_adds_a_credit_and_reject_revokes(deliver, callback_oa_account):
    identity = ChannelIdentityFactory(account=callback_oa_account, external_id="o-pop")
    ConsentCredit.objects.create(customer=identity.customer, account=callback_oa_account, template_id="TPL_NO", remaining=2)
    deliver(callback_oa_account, wechat_payload("subscribe_msg_popup.xml", openid="o-pop", template_accept="TPL_YES", template_reject="TPL_NO"))
    credits = dict(ConsentCredit.objects.filter(customer=identity.customer).values_list("template_id", "remaining"))
    assert credits == {"TPL_YES": 1, "TPL_NO": 0}


def test_two_popup_accepts_are_two_credits_but_a_retry_is_not(deliver, callback_oa_account):
    xml = wechat_payload("subscribe_msg_popup.xml", openid="o-pop2", template_accept="TPL_A", template_reject="TPL_R", create_time=str(T0))
    deliver(callback_oa_account, xml)
    deliver(callback_oa_account, xml)  # WeChat's retry
    deliver(callback_oa_account, wechat_payload("subscribe_msg_popup.xml", openid="o-pop2", template_accept="TPL_A", template_reject="TPL_R", create_time=str(T0 + 5)))
    assert ConsentCredit.objects.get(template_id="TPL_A").remaining == 2


def test_consent_credit_is_not_added_twice_when_processing_is_forced_again(deliver, callback_oa_account):
    deliver(callback_oa_account, wechat_payload("subscribe_msg_popup.xml", openid="o-pop3", template_accept="TPL_A", template_reject="TPL_R"))
    row = InboundMessage.objects.get(account=callback_oa_account)
    InboundMessage.objects.filter(pk=row.pk).update(state="received")
    assert services.inbound_process(inbound_id=row.pk) is True
    assert ConsentCredit.objects.get(template_id="TPL_A").remaining == 1


def test_subscribe_msg_change_reject_revokes_the_credit(deliver, callback_oa_account):
    identity = ChannelIdentityFactory(account=callback_oa_account, external_id="o-chg")
    ConsentCredit.objects.create(customer=identity.customer, account=callback_oa_account, template_id="TPL_C", remaining=3)
    deliver(callback_oa_account, wechat_payload("subscribe_msg_change.xml", openid="o-chg", template_id="TPL_C"))
    assert ConsentCredit.objects.get(customer=identity.customer, template_id="TPL_C").remaining == 0


def test_subscribe_msg_sent_event_reports_delivery(deliver, callback_oa_account, delivery_reports):
    deliver(callback_oa_account, wechat_payload("subscribe_msg_sent.xml", openid="o-sent", template_id="TPL_S", msg_id="1700827132819554304", error_code="0", error_status="success"))
    [report] = delivery_reports
    assert (report.msgid, report.status, report.external_id) == ("1700827132819554304", "delivered", "o-sent")


def test_subscribe_msg_sent_with_43101_is_a_user_block_and_revokes(deliver, callback_oa_account, delivery_reports):
    identity = ChannelIdentityFactory(account=callback_oa_account, external_id="o-ref")
    ConsentCredit.objects.create(customer=identity.customer, account=callback_oa_account, template_id="TPL_S", remaining=1)
    deliver(callback_oa_account, wechat_payload("subscribe_msg_sent.xml", openid="o-ref", template_id="TPL_S", msg_id="1", error_code="43101", error_status="user refuse to accept the msg"))
    assert delivery_reports[0].status == "user_block"
    assert ConsentCredit.objects.get(customer=identity.customer).remaining == 0


def test_mini_program_push_event_is_recorded_for_the_mp_identity(deliver, callback_mp_account):
    deliver(callback_mp_account, wechat_payload("mp_user_enter_tempsession.xml", openid="o-mp", create_time=str(T0)))
    identity = _identity(callback_mp_account, "o-mp")
    assert identity.kind == "mp_openid"
    assert int(identity.last_interaction_at.timestamp()) == T0
    assert EngagementEvent.objects.get(customer=identity.customer).event_type == "mp.user_enter_tempsession"


def test_mini_program_customer_service_message_is_mp_engagement(deliver, callback_mp_account):
    deliver(callback_mp_account, wechat_payload("text.xml", openid="o-mp2", content="help"))
    assert EngagementEvent.objects.get(customer=_identity(callback_mp_account, "o-mp2").customer).event_type == "mp.message"


def test_mini_program_subscribe_popup_adds_credit(deliver, callback_mp_account):
    deliver(callback_mp_account, wechat_payload("subscribe_msg_popup.xml", openid="o-mp3", template_accept="MP_TPL", template_reject="MP_NO"))
    identity = _identity(callback_mp_account, "o-mp3")
    assert ConsentCredit.objects.get(customer=identity.customer, template_id="MP_TPL").remaining == 1


def test_unknown_event_is_stored_and_marked_processed(deliver, callback_oa_account):
    xml = wechat_payload("click.xml", key="k").replace("CLICK", "location_select")
    deliver(callback_oa_account, xml)
    assert InboundMessage.objects.get(account=callback_oa_account).state == "processed"


# --- WeCom ------------------------------------------------------------------------------------


def test_wecom_del_external_contact_unfollows_and_records_who_removed(deliver, callback_wecom_account):
    ChannelIdentityFactory(account=callback_wecom_account, external_id="wmEXT9", follow_state="following", owner_staff_id="lisi")
    deliver(callback_wecom_account, wechat_payload("wecom_del_external_contact.xml", to=callback_wecom_account.app_id, staff="lisi", external_userid="wmEXT9", create_time=str(T0)))
    identity = _identity(callback_wecom_account, "wmEXT9")
    assert identity.follow_state == "unfollowed"
    event = EngagementEvent.objects.get(customer=identity.customer)
    assert (event.event_type, event.properties["removed_by"], event.properties["staff"]) == ("wecom.del_contact", "staff", "lisi")


def test_wecom_del_follow_user_unfollows_removed_by_customer(deliver, callback_wecom_account):
    ChannelIdentityFactory(account=callback_wecom_account, external_id="wmEXT8", follow_state="following")
    deliver(callback_wecom_account, wechat_payload("wecom_del_follow_user.xml", to=callback_wecom_account.app_id, staff="lisi", external_userid="wmEXT8"))
    identity = _identity(callback_wecom_account, "wmEXT8")
    assert identity.follow_state == "unfollowed"
    assert EngagementEvent.objects.get(customer=identity.customer).properties["removed_by"] == "customer"


def test_wecom_app_message_from_staff_is_stored_but_creates_no_customer(deliver, callback_wecom_account):
    deliver(callback_wecom_account, wechat_payload("text.xml", to=callback_wecom_account.app_id, openid="zhangsan"))
    assert InboundMessage.objects.get(account=callback_wecom_account).state == "processed"
    assert not ChannelIdentity.objects.filter(account=callback_wecom_account).exists()
