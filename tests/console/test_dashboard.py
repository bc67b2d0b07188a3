"""The operator's dashboard (the admin index): figures on the operator's local days, the in-flight
endpoint, health that answers quickly when the broker is down, and who may see it."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from campaigns.models import CampaignState, DeliveryState
from console.dashboard import health
from console.dashboard.selectors import dashboard_data
from customers.engagement.daily import daily_counts_rebuild
from customers.engagement.models import AccountDailyCount
from customers.services.events import event_record, events_record_bulk
from customers.services.identity import Refusal, identity_record_refusal
from scrm import health as scrm_health
from scrm.heartbeat import heartbeat_record
from tests.factories import (
    CampaignFactory,
    ChannelAccountFactory,
    ChannelIdentityFactory,
    CustomerFactory,
    DeliveryFactory,
)

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_health():
    health.health_cache_clear()
    yield
    health.health_cache_clear()


def _local(day_offset: int, hour: int) -> datetime:
    today = timezone.now().astimezone(SHANGHAI).date()
    return datetime.combine(today + timedelta(days=day_offset), datetime.min.time(), tzinfo=SHANGHAI).replace(hour=hour)


def _series_at(data: dict, day) -> int:
    return data["series"]["days"].index(day.isoformat())


def test_follows_and_unfollows_land_on_the_operators_local_day():
    account = ChannelAccountFactory(name="Brand OA")
    other = ChannelAccountFactory(name="Other OA")
    people = [CustomerFactory() for _ in range(4)]
    # 00:30 in Shanghai is still the previous day in UTC: the chart must use the local day.
    yesterday_early = _local(-1, 0).replace(minute=30)
    for person in people[:3]:
        event_record(customer_id=person.pk, event_type="wechat.subscribe", account_id=account.pk, occurred_at=yesterday_early)
    event_record(customer_id=people[3].pk, event_type="wechat.unsubscribe", account_id=account.pk, occurred_at=_local(-1, 22))
    event_record(customer_id=people[0].pk, event_type="wechat.subscribe", account_id=other.pk, occurred_at=yesterday_early)

    data = dashboard_data(account_id=account.pk)
    i = _series_at(data, yesterday_early.date())
    assert (data["series"]["follows"][i], data["series"]["unfollows"][i], data["series"]["net"][i]) == (3, 1, 2)
    assert sum(data["series"]["follows"]) == 3 and data["audience"]["net_growth"] == 2
    everyone = dashboard_data()
    assert everyone["series"]["follows"][i] == 4


def test_bulk_recording_counts_unfollows_after_a_push_and_mutes():
    account = ChannelAccountFactory()
    pushed, not_pushed = CustomerFactory(), CustomerFactory()
    now = timezone.now()
    events_record_bulk(
        [{"customer_id": pushed.pk, "account_id": account.pk, "event_type": "push.sent", "occurred_at": now - timedelta(hours=3)}]
    )
    events_record_bulk(
        [
            {"customer_id": c.pk, "account_id": account.pk, "event_type": "wechat.unsubscribe", "occurred_at": now}
            for c in (pushed, not_pushed)
        ]
    )
    identity = ChannelIdentityFactory(customer=pushed, account=account)
    identity_record_refusal(identity_ids=[identity.pk], refusal=Refusal.TEMPLATE_BLOCKED, at=now)
    identity_record_refusal(identity_ids=[identity.pk], refusal=Refusal.TEMPLATE_BLOCKED, at=now)  # already muted

    data = dashboard_data(account_id=account.pk)
    assert sum(data["series"]["unfollows"]) == 2
    assert data["disturbance"]["unfollows_after_push"] == 1
    assert data["disturbance"]["mutes"] == 1
    assert data["disturbance"]["pushes"] == 1


def test_rebuild_recounts_the_event_store():
    account = ChannelAccountFactory()
    customer = CustomerFactory()
    at = _local(-2, 10)
    event_record(customer_id=customer.pk, event_type="wechat.subscribe", account_id=account.pk, occurred_at=at)
    AccountDailyCount.objects.all().delete()
    daily_counts_rebuild(since=at.date() - timedelta(days=1))
    assert AccountDailyCount.objects.get(account=account, metric="wechat.subscribe").day == at.date()


def test_dashboard_renders_charts_for_an_admin_in_chinese(admin_user):
    account = ChannelAccountFactory(name="品牌服务号")
    web = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    web.force_login(admin_user)
    response = web.get("/admin/", {"account": account.pk})
    assert response.status_code == 200
    page = response.content.decode()
    for chart in ("dash-chart-follows", "dash-chart-pushes", "dash-chart-disturbance"):
        assert f'id="{chart}"' in page
    assert "每日关注与取关" in page and "品牌服务号" in page
    # Garbage in the selector shows all accounts, never an error.
    assert web.get("/admin/", {"account": "x'1"}).status_code == 200


def test_dashboard_renders_for_a_viewer_without_campaign_links():
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    campaign = CampaignFactory(state=CampaignState.SENDING)
    DeliveryFactory(campaign=campaign, state=DeliveryState.SENT, sent_at=timezone.now())
    web = Client()
    web.force_login(viewer)
    response = web.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="dash-in-flight"' in page and campaign.name in page
    assert f"/admin/campaigns/campaign/{campaign.pk}/change/" not in page


def test_in_flight_endpoint_reports_live_progress(admin_user):
    campaign = CampaignFactory(state=CampaignState.SENDING)
    for state in (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.PLANNED, DeliveryState.PLANNED):
        DeliveryFactory(campaign=campaign, state=state, sent_at=timezone.now() if state != DeliveryState.PLANNED else None)
    CampaignFactory(state=CampaignState.COMPLETED)
    web = Client()
    web.force_login(admin_user)
    body = web.get("/admin/dashboard/in-flight.json").json()
    assert [(c["id"], c["done"], c["total"], c["percent"]) for c in body["campaigns"]] == [(campaign.pk, 2, 4, 50.0)]
    fragment = web.get("/admin/dashboard/in-flight/")
    assert fragment.status_code == 200 and f'data-campaign="{campaign.pk}"' in fragment.content.decode()
    assert Client().get("/admin/dashboard/in-flight.json").status_code == 302  # not logged in: to the login page


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_says_quickly_when_the_broker_is_unreachable(admin_user, settings, monkeypatch):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=_closed_port(), socket_connect_timeout=5, socket_timeout=5)
    monkeypatch.setattr(scrm_health, "get_redis", lambda: dead)
    started = time.perf_counter()
    result = health.system_health(fresh=True)
    assert time.perf_counter() - started < 0.5
    assert result["checks"]["broker"]["status"] == "down"
    assert result["checks"]["worker"]["status"] == "unknown" and result["checks"]["database"]["status"] == "ok"
    assert result["cache_usable"] is False
    web = Client()
    web.force_login(admin_user)
    started = time.perf_counter()
    response = web.get("/admin/")
    assert response.status_code == 200 and time.perf_counter() - started < 2
    assert 'data-check="broker" data-status="down"' in response.content.decode()


def test_health_reads_the_heartbeats():
    heartbeat_record("worker")
    heartbeat_record("beat")
    result = health.system_health(fresh=True)
    assert {name: check["status"] for name, check in result["checks"].items()} == {
        "web": "ok", "database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"
    }


def test_chart_data_is_json_for_unfold(admin_user):
    account = ChannelAccountFactory()
    event_record(customer_id=CustomerFactory().pk, event_type="wechat.subscribe", account_id=account.pk)
    web = Client()
    web.force_login(admin_user)
    response = web.get("/admin/", {"account": account.pk})
    charts = response.context["charts"]
    follows = json.loads(charts["follows"]["data"])
    assert len(follows["labels"]) == 30 and follows["datasets"][1]["data"][-1] == 1
