"""MASSSENDJOBFINISH (aggregate counts only) is recorded against the campaign batch with that msgid
and shown in the campaign's stats; the account's daily quota is re-checked just before each send."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import CampaignBatchReport, Delivery
from campaigns.selectors import campaign_stats
from tests.factories import CampaignFactory, DeliveryFactory
from tests.plugins.callbacks import wechat_payload


def mass_campaign(account, segment):
    campaign = CampaignFactory(account=account, segment=segment, scheduled_now=True, message_type="mass", content={"text": "Spring sale"})
    services.campaign_plan(campaign_id=campaign.pk)
    return campaign


def drain(campaign):
    for _ in range(10):
        result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
        if result.requeue_in is None:
            return result
    raise AssertionError(result)


def finish_xml(account, msgid: str) -> str:
    """The fixture's counts: TotalCount 100, FilterCount 80, SentCount 75, ErrorCount 5."""
    return wechat_payload("mass_finish.xml", openid="mphelper", msg_id=msgid)


@pytest.mark.django_db(transaction=True)
def test_mass_send_finish_event_is_recorded_against_its_batch_and_shown_in_stats(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, deliver):
    people = sandbox_followers(sandbox_oa, 4)
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    drain(campaign)
    batch_key, msgid = Delivery.objects.filter(campaign=campaign).values_list("batch_key", "msgid").distinct().get()
    assert campaign_stats(campaign=campaign)["batch_reports"] == []

    deliver(sandbox_oa, finish_xml(sandbox_oa, msgid), encrypted=True)
    # WeChat retries an unanswered callback; a repeat must not add a second row.
    deliver(sandbox_oa, finish_xml(sandbox_oa, msgid), encrypted=True)

    report = CampaignBatchReport.objects.get(account_id=sandbox_oa.pk, msgid=msgid)
    assert (report.campaign_id, report.batch_key) == (campaign.pk, batch_key)
    [shown] = campaign_stats(campaign=campaign)["batch_reports"]
    assert {k: shown[k] for k in ("msgid", "status", "total", "filtered", "sent", "errors")} == {
        "msgid": msgid, "status": "send success", "total": 100, "filtered": 80, "sent": 75, "errors": 5,
    }


@pytest.mark.django_db(transaction=True)
def test_a_finish_event_for_another_msgid_does_not_show_in_the_campaign(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, deliver):
    people = sandbox_followers(sandbox_oa, 2)
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    drain(campaign)
    deliver(sandbox_oa, finish_xml(sandbox_oa, "999000111"), encrypted=True)
    assert CampaignBatchReport.objects.get(msgid="999000111").campaign_id is None
    assert campaign_stats(campaign=campaign)["batch_reports"] == []


def _sent_today(account, *, n: int, at: datetime):
    earlier = CampaignFactory(account=account, message_type="template", state="completed")
    DeliveryFactory.create_batch(n, campaign=earlier, state="sent", sent_at=at)


def _local_midnight(account) -> datetime:
    tz = ZoneInfo(account.timezone)
    return timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("quota", "earlier_offset", "sent", "over"), [
    (5, timedelta(minutes=1), 3, 0),    # 2 earlier today + 3 now = exactly the quota
    (4, timedelta(minutes=1), 2, 1),    # one over: the last one is suppressed
    (3, -timedelta(minutes=1), 3, 0),   # the 2 earlier ones were yesterday in the account's time zone
])
def test_account_daily_quota_is_rechecked_just_before_the_send(
    sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, quota, earlier_offset, sent, over
):
    people = sandbox_followers(sandbox_oa, 3)
    campaign = mass_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    # Planned under a generous quota; by send time other sends have used some of it.
    _sent_today(sandbox_oa, n=2, at=_local_midnight(sandbox_oa) + earlier_offset)
    sandbox_oa.daily_quota = quota
    sandbox_oa.save(update_fields=["daily_quota"])
    drain(campaign)
    states = list(Delivery.objects.filter(campaign=campaign).values_list("state", "error_code"))
    assert sorted(states) == sorted([("sent", "")] * sent + [("suppressed", "account_quota")] * over)
    assert campaign_stats(campaign=campaign)["suppressed_at_send"] == ({"account_quota": over} if over else {})
