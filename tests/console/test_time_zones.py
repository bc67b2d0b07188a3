"""Operators read times in TIME_ZONE (Asia/Shanghai): an event at 2026-01-01 17:00 UTC is on their
2026-01-02, in the report trends and on the console's pages."""

from datetime import UTC, date, datetime

import pytest

from campaigns.reports.selectors import trends_daily
from customers.models import EngagementEvent
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db

EVENING_UTC = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)  # 2026-01-02 01:00 in Shanghai


@pytest.fixture
def late_push():
    delivery = DeliveryFactory(state="sent", sent_at=EVENING_UTC)
    EngagementEvent.objects.create(
        customer=delivery.customer, account=delivery.account, event_type="wechat.unsubscribe", occurred_at=EVENING_UTC
    )
    return delivery


def test_trends_count_a_late_utc_evening_on_the_operators_next_day(settings, late_push):
    assert settings.TIME_ZONE == "Asia/Shanghai"
    rows = {r["day"]: r for r in trends_daily(account_id=late_push.account_id, days=3, until=date(2026, 1, 3))}
    assert (rows["2026-01-02"]["sent"], rows["2026-01-02"]["unfollows"]) == (1, 1)
    assert (rows["2026-01-01"]["sent"], rows["2026-01-01"]["unfollows"]) == (0, 0)


def test_console_pages_show_the_operators_clock(client, admin_user, late_push):
    client.force_login(admin_user)
    page = client.get("/admin/campaigns/delivery/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2026年1月2日 01:00" in page, page[:3000]
    response = client.get(f"/api/v1/deliveries/?campaign={late_push.campaign_id}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    if response.status_code == 200:
        assert "2026-01-02T01:00:00+08:00" in response.content.decode()
