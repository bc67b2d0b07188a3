"""Customer 360 (console/customer360): the profile cards, the timeline of every kind of entry with
keyset pagination, phone masking, and a customer with nothing at all."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryState, Suppression
from console.customer360 import timeline
from customers.models import ConsentCredit, CustomerTag, EngagementEvent, EngagementProfile, TagSource
from customers.services import customer_set_phone, event_record
from messaging.callbacks.models import InboundMessage
from messaging.callbacks.services import inbound_process
from tests.factories import CampaignFactory, ChannelIdentityFactory, CustomerFactory, DeliveryFactory, TagFactory

pytestmark = pytest.mark.django_db
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def _url(customer, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/admin/customers/customer/{customer.pk}/360/" + (f"?{query}" if query else "")


def _inbound(identity, fields: dict) -> InboundMessage:
    """A callback stored and processed by messaging's real pipeline (the event it records is the timeline's)."""
    fields = {"ToUserName": "gh_test", "FromUserName": identity.external_id, "CreateTime": str(int(timezone.now().timestamp())), **fields}
    message = InboundMessage.objects.create(
        account=identity.account, dedupe_key=f"test:{fields.get('MsgId') or fields.get('Event')}", msg_type=fields["MsgType"],
        event=fields.get("Event", ""), from_user=identity.external_id, raw_payload="<xml/>", parsed=fields,
    )
    assert inbound_process(inbound_id=message.pk)
    return message


def test_timeline_shows_every_kind_of_entry(admin_client_):
    identity = ChannelIdentityFactory(customer=CustomerFactory(display_name="Ada"))
    customer, account = identity.customer, identity.account
    sent_at = datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    pushed = CampaignFactory(account=account, name="Spring sale push")
    DeliveryFactory(campaign=pushed, customer=customer, identity=identity, state=DeliveryState.DELIVERED,
                    sent_at=sent_at, delivered_at=sent_at + timedelta(seconds=2))
    left_out = CampaignFactory(account=account, name="Too soon push", planned_at=timezone.now())
    Suppression.objects.create(campaign=left_out, customer=customer, reason="frequency_day")
    message = _inbound(identity, {"MsgType": "text", "Content": "有优惠吗", "MsgId": "77001"})
    _inbound(identity, {"MsgType": "event", "Event": "subscribe", "EventKey": ""})
    event_record(customer_id=customer.pk, event_type="link.click", account_id=account.pk, campaign_id=pushed.pk,
                 properties={"url": "https://shop.example.com/sale"}, dedupe_key="t-click")
    event_record(customer_id=customer.pk, event_type="conversion", account_id=account.pk, properties={"order_id": "SO1"}, dedupe_key="t-conv")
    event_record(customer_id=customer.pk, event_type="mp.preferences", account_id=account.pk, properties={"opted_in": [1]})

    page = admin_client_.get(_url(customer), **ZH)
    assert page.status_code == 200
    html = page.content.decode()
    for kind in ("push", "suppression", "message_in", "click", "conversion", "follow"):
        assert f'data-testid="timeline-entry" data-kind="{kind}"' in html, kind
    assert "Spring sale push" in html and "Too soon push" in html
    assert "已达每日上限" in html  # the suppression reason in the operator's language
    assert "有优惠吗" in html and f"/admin/messaging/inboundmessage/{message.pk}/change/" in html
    assert "2026-03-01 08:30:00" in html  # sent time in Asia/Shanghai
    assert "已关注" in html  # the identity's follow state
    assert "保存了偏好设置" in html  # the preference centre saved, named, not its event type
    # A filter shows one kind only.
    pushes = admin_client_.get(_url(customer, kind="pushes"), **ZH).content.decode()
    assert 'data-kind="push"' in pushes and 'data-kind="suppression"' in pushes and 'data-kind="message_in"' not in pushes


def test_profile_cards_show_tags_consent_and_engagement_in_the_customers_zone(admin_client_):
    identity = ChannelIdentityFactory(customer=CustomerFactory(timezone="Europe/Paris"))
    customer = identity.customer
    tag = TagFactory(name="coffee")
    CustomerTag.objects.create(customer=customer, tag=tag, source=TagSource.CHANNEL_CODE)
    ConsentCredit.objects.create(customer=customer, account=identity.account, template_id="TPL-1", remaining=2)
    EngagementProfile.objects.create(customer=customer, score=3.5, score_updated_at=timezone.now(), best_hour=20,
                                     ignored_push_streak=4, topic_affinity={str(tag.pk): 1.25})
    html = admin_client_.get(_url(customer), **ZH).content.decode()
    assert "coffee" in html
    assert "TPL-1" in html and "剩余 2 次" in html
    assert "20:00–21:00" in html and "Europe/Paris" in html
    assert 'data-testid="c360-streak">4<' in html
    assert "1.25" in html


def test_timeline_pages_are_newest_first_without_gaps_or_repeats(admin_client_, monkeypatch):
    identity = ChannelIdentityFactory()
    customer, account = identity.customer, identity.account
    start = timezone.now() - timedelta(days=200)
    EngagementEvent.objects.bulk_create([
        EngagementEvent(customer=customer, account=account, event_type="wechat.click", occurred_at=start + timedelta(hours=i))
        for i in range(130)
    ])
    EngagementEvent.objects.create(customer=customer, event_type="push.sent", occurred_at=start)  # shown as its delivery
    campaigns = [CampaignFactory(account=account, planned_at=start + timedelta(hours=3 * i, minutes=1)) for i in range(40)]
    for i, campaign in enumerate(campaigns):
        if i % 3 == 0:
            DeliveryFactory(campaign=campaign, customer=customer, state="sent", sent_at=campaign.planned_at)
        elif i % 7 == 1:
            Suppression.objects.create(campaign=campaign, customer=customer, reason="fatigue")
    # Probe the campaigns a few at a time, so the suppressions' source stops early on most pages.
    monkeypatch.setattr(timeline, "CAMPAIGN_PROBE", 4)
    expected = 130 + len(range(0, 40, 3)) + len([i for i in range(40) if i % 3 and i % 7 == 1])

    seen, cursor, pages = [], None, 0
    while True:
        page = timeline.timeline_page(customer_id=customer.pk, cursor=cursor)
        assert len(page.entries) <= timeline.PAGE_SIZE
        seen += [e.key for e in page.entries]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
        assert pages < 20
    assert len(seen) == expected == len(set(seen))
    assert seen == sorted(seen, reverse=True)

    first = admin_client_.get(_url(customer), **ZH).content.decode()
    assert first.count('data-testid="timeline-entry"') == timeline.PAGE_SIZE
    assert 'data-testid="c360-timeline-older"' in first
    older = timeline.timeline_page(customer_id=customer.pk).next_cursor
    second = admin_client_.get(_url(customer, before=older), **ZH).content.decode()
    # Bounded work per page: with campaigns probed 4 at a time a page may end early, never empty.
    assert 0 < second.count('data-testid="timeline-entry"') <= timeline.PAGE_SIZE
    assert 'data-testid="c360-timeline-newest"' in second


def test_a_customer_with_nothing_renders_and_a_bad_cursor_is_not_a_500(admin_client_):
    customer = CustomerFactory(display_name="Nobody")
    page = admin_client_.get(_url(customer), **ZH)
    assert page.status_code == 200
    assert 'data-testid="c360-timeline-empty"' in page.content.decode()
    assert admin_client_.get(_url(customer, before="garbage"), **ZH).status_code == 200
    assert admin_client_.get(_url(customer, kind="nonsense"), **ZH).status_code == 200
    assert admin_client_.get("/admin/customers/customer/999999/360/").status_code == 404
    assert admin_client_.get("/admin/customers/customer/abc/360/").status_code == 404


def _staff(*perms: str) -> Client:
    user = get_user_model().objects.create_user("viewer360", password="pw-viewer-123", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_phone_is_masked_without_the_personal_data_permission():
    customer = CustomerFactory()
    customer_set_phone(customer=customer, phone="13812345678")
    customer.save()
    viewer = _staff("customers.view_customer")
    masked = viewer.get(_url(customer)).content.decode()
    assert "13812345678" not in masked and "138****5678" in masked
    assert 'data-testid="c360-phone">138****5678<' in masked
    viewer_user = get_user_model().objects.get(username="viewer360")
    viewer_user.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    unmasked = Client()
    unmasked.force_login(viewer_user)
    assert "13812345678" in unmasked.get(_url(customer)).content.decode()
    # No view permission at all: refused.
    assert _other_staff().get(_url(customer)).status_code == 403


def _other_staff() -> Client:
    user = get_user_model().objects.create_user("nobody360", password="pw-nobody-123", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_changelist_rows_link_to_the_360_page_and_the_edit_form_links_back(admin_client_):
    customer = CustomerFactory(display_name="Linked")
    listing = admin_client_.get("/admin/customers/customer/").content.decode()
    assert f"/admin/customers/customer/{customer.pk}/360/" in listing
    form = admin_client_.get(f"/admin/customers/customer/{customer.pk}/change/", **ZH).content.decode()
    assert f"/admin/customers/customer/{customer.pk}/360/" in form and "客户 360" in form


def test_campaigns_and_deliveries_left_unsent_still_show(admin_client_):
    identity = ChannelIdentityFactory()
    campaign = CampaignFactory(account=identity.account, name="Planned only")
    DeliveryFactory(campaign=campaign, customer=identity.customer, state=DeliveryState.PLANNED)
    html = admin_client_.get(_url(identity.customer), **ZH).content.decode()
    assert "Planned only" in html and "推送（未发送）" in html
    assert Delivery.objects.count() == 1 and Campaign.objects.count() == 1
