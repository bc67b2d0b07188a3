"""Menu analytics: clicks and unique clickers per item, day, segment and version; conversations and
conversions within 7 days after a menu interaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.services import event_record
from menus.analytics import menu_analytics
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _menu_event(customer, at, item="1", version_id=11, version=2, segment_id=None, event_type="wechat.click", account_id=None):
    event_record(
        customer_id=customer.pk,
        event_type=event_type,
        occurred_at=at,
        account_id=account_id,
        properties={"menu_id": 5, "menu_version_id": version_id, "menu_version": version, "menu_segment_id": segment_id, "menu_item": item, "menu_item_name": f"item {item}"},
    )


def test_clicks_unique_clickers_and_follow_ups(oa_account):
    now = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    for customer in (a, a, b):
        _menu_event(customer, now, account_id=oa_account.pk)
    _menu_event(c, now, item="2", event_type="wechat.view", account_id=oa_account.pk, segment_id=9, version_id=12, version=1)
    _menu_event(a, now - timedelta(days=1), account_id=oa_account.pk)
    event_record(customer_id=a.pk, event_type="conversion", occurred_at=now + timedelta(days=3), account_id=oa_account.pk)
    event_record(customer_id=b.pk, event_type="wechat.message", occurred_at=now + timedelta(hours=1), account_id=oa_account.pk)
    event_record(customer_id=c.pk, event_type="conversion", occurred_at=now + timedelta(days=8), account_id=oa_account.pk)  # too late
    report = menu_analytics(account_id=oa_account.pk, start=(now - timedelta(days=1)).date(), end=now.date())

    today = [d for d in report["daily"] if d["day"] == now.date().isoformat()]
    assert [(d["item"], d["segment_id"], d["menu_version"], d["clicks"], d["unique_clickers"]) for d in today] == [
        ("2", 9, 1, 1, 1),
        ("1", None, 2, 3, 2),
    ]
    items = {r["item"]: r for r in report["items"]}
    assert (items["1"]["customers"], items["1"]["clicks"], items["1"]["conversations_7d"], items["1"]["conversions_7d"]) == (2, 4, 1, 1)
    assert (items["2"]["customers"], items["2"]["conversions_7d"]) == (1, 0)


def test_other_accounts_events_are_not_counted(oa_account):
    _menu_event(CustomerFactory(), timezone.now(), account_id=None)
    today = timezone.localdate()
    assert menu_analytics(account_id=oa_account.pk, start=today, end=today)["daily"] == []
