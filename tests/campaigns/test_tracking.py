import pytest
from django.test import Client

from campaigns.models import Delivery
from campaigns.tracking.bots import is_bot_request
from campaigns.tracking.models import TrackedLink
from campaigns.tracking.services import tracked_url, tracking_token_make, tracking_token_parse
from customers.models import EngagementEvent
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db

IPHONE_WECHAT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.42(0x18002a2b) NetType/WIFI Language/zh_CN"
)


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_click_records_event_sets_clicked_at_and_redirects_to_original(eng_campaign, eng_make_delivery):
    tag_ids = []

    tag = TagFactory()
    eng_campaign.topics.add(tag)
    tag_ids.append(tag.pk)
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://shop.example.com/p/1?x=1")
    assert "/r/" in url and "shop.example.com" not in url

    response = Client().get(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT)

    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/p/1?x=1"
    event = EngagementEvent.objects.get(event_type="link.click")
    assert (event.customer_id, event.delivery_id, event.campaign_id) == (delivery.customer_id, delivery.pk, eng_campaign.pk)
    assert event.properties["user_agent"] == IPHONE_WECHAT
    assert event.properties["topics"] == tag_ids
    assert Delivery.objects.get(pk=delivery.pk).clicked_at == event.occurred_at


def test_double_click_counts_once_and_keeps_first_click_time(eng_campaign, eng_make_delivery):
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://a.example/")
    client = Client()
    client.get(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT)
    first = Delivery.objects.get(pk=delivery.pk).clicked_at
    client.get(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT)
    assert EngagementEvent.objects.filter(event_type="link.click").count() == 1
    assert Delivery.objects.get(pk=delivery.pk).clicked_at == first


@pytest.mark.parametrize("position", [0, 3, -1, -5])
def test_tampered_token_is_404_and_records_nothing(eng_campaign, eng_make_delivery, position):
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://a.example/")
    token = url.rsplit("/", 1)[1]
    chars = list(token)
    chars[position] = "Z" if chars[position] != "Z" else "Y"
    tampered = "".join(chars)

    response = Client().get(f"/r/{tampered}", HTTP_USER_AGENT=IPHONE_WECHAT)

    assert response.status_code == 404
    assert not EngagementEvent.objects.exists()
    assert Delivery.objects.get(pk=delivery.pk).clicked_at is None


def test_token_for_another_delivery_cannot_be_forged_by_swapping_ids(eng_campaign, eng_make_delivery):
    mine, other = eng_make_delivery(), eng_make_delivery()
    url = tracked_url(delivery_id=mine.pk, campaign_id=eng_campaign.pk, customer_id=mine.customer_id, url="https://a.example/")
    link, _delivery, _customer, sig = url.rsplit("/", 1)[1].split(".")
    other_ids = tracking_token_make(link_id=1, delivery_id=other.pk, customer_id=other.customer_id).split(".")[1:3]
    swapped = ".".join([link, *other_ids, sig])
    assert tracking_token_parse(swapped) is None
    assert Client().get(f"/r/{swapped}", HTTP_USER_AGENT=IPHONE_WECHAT).status_code == 404
    assert Delivery.objects.filter(clicked_at__isnull=False).count() == 0


def test_unknown_link_and_garbage_tokens_are_404():
    client = Client()
    assert client.get("/r/" + tracking_token_make(link_id=999999, delivery_id=1, customer_id=1)).status_code == 404
    for junk in ["x", "a.b.c", "....", "javascript:alert(1)", "a" * 200]:
        assert client.get(f"/r/{junk}", HTTP_USER_AGENT=IPHONE_WECHAT).status_code == 404


def test_redirect_target_comes_only_from_the_stored_link(eng_campaign, eng_make_delivery):
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://a.example/x")
    response = Client().get(_path(url) + "?next=https://evil.example/", HTTP_USER_AGENT=IPHONE_WECHAT)
    assert response["Location"] == "https://a.example/x"


def test_same_campaign_url_is_one_link_row_and_non_web_links_are_unchanged(eng_campaign, eng_make_delivery):
    d1, d2 = eng_make_delivery(), eng_make_delivery()
    u1 = tracked_url(delivery_id=d1.pk, campaign_id=eng_campaign.pk, customer_id=d1.customer_id, url="https://a.example/")
    u2 = tracked_url(delivery_id=d2.pk, campaign_id=eng_campaign.pk, customer_id=d2.customer_id, url="https://a.example/")
    assert u1 != u2
    assert TrackedLink.objects.count() == 1
    assert tracked_url(delivery_id=d1.pk, campaign_id=eng_campaign.pk, customer_id=d1.customer_id, url="pages/index?id=1") == "pages/index?id=1"
    assert tracked_url(delivery_id=None, campaign_id=None, customer_id=None, url="javascript:alert(1)") == "javascript:alert(1)"


@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        "   ",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Sogou web spider/4.0(+http://www.sogou.com/docs/help/webmasters.htm#07)",
        "Mozilla/5.0 (Linux; Android 10) WeChatSpider",
        "Mozilla/5.0 MicroMessenger/8.0 Preview",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "TelegramBot (like TwitterBot)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "curl/8.4.0",
        "python-requests/2.31",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    ],
)
def test_bot_and_preview_fetches_redirect_but_are_not_clicks(eng_campaign, eng_make_delivery, user_agent):
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://a.example/")

    response = Client().get(_path(url), HTTP_USER_AGENT=user_agent)

    assert response.status_code == 302
    assert not EngagementEvent.objects.exists()
    assert Delivery.objects.get(pk=delivery.pk).clicked_at is None
    assert TrackedLink.objects.get().bot_fetches == 1


def test_head_requests_and_prefetches_are_not_clicks(eng_campaign, eng_make_delivery):
    delivery = eng_make_delivery()
    url = tracked_url(delivery_id=delivery.pk, campaign_id=eng_campaign.pk, customer_id=delivery.customer_id, url="https://a.example/")
    client = Client()
    assert client.head(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT).status_code == 302
    assert client.get(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT, HTTP_SEC_PURPOSE="prefetch").status_code == 302
    assert client.post(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT).status_code == 405
    assert not EngagementEvent.objects.exists()


@pytest.mark.parametrize(
    "user_agent",
    [
        IPHONE_WECHAT,
        "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231002 MicroMessenger/8.0.43.2480(0x28002B51) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ],
)
def test_real_browsers_are_counted(user_agent):
    assert not is_bot_request(method="GET", user_agent=user_agent, meta={})


def test_click_on_link_without_delivery_counts_anonymously(eng_campaign):
    url = tracked_url(delivery_id=None, campaign_id=eng_campaign.pk, customer_id=None, url="https://a.example/")
    assert Client().get(_path(url), HTTP_USER_AGENT=IPHONE_WECHAT).status_code == 302
    assert TrackedLink.objects.get().anonymous_clicks == 1
    assert not EngagementEvent.objects.exists()
