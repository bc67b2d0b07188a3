"""The campaign funnel counters are kept by the code that records each fact (dispatch, WeChat's delivery
reports, tracked clicks, planning) and equal a recount of the rows — retries and duplicates included."""

from django.test import Client
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.counters import _counts_from_rows, campaign_counters_get, campaign_counters_refresh
from campaigns.dispatch.record import Outcome, outcomes_record
from campaigns.models import CampaignCounters, Delivery
from campaigns.receivers import delivery_report_apply
from campaigns.reports.selectors import campaign_funnel
from campaigns.selectors import campaign_stats
from messaging.reports import DeliveryReport
from messaging.sandbox.registration import sandbox_register_account
from tests.campaigns.test_dispatch import scheduled_campaign
from tests.factories import ChannelAccountFactory

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42"


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_counters_equal_the_truth_after_dispatch_reports_clicks_and_retries(
    sandbox, live_server, settings, static_segment, sandbox_followers, contact_policy, campaigns_eager
):
    settings.PUBLIC_BASE_URL = live_server.url
    account = ChannelAccountFactory(kind="oa", api_base_url=sandbox.base_url, rate_limit_per_second=1000)
    sandbox_register_account(account)
    people = sandbox_followers(account, 6)
    (_, dnd_identity), (_, gone_identity), (_, blocker_identity) = people[:3]
    dnd_identity.do_not_disturb = True
    dnd_identity.save()
    gone_identity.follow_state = "unfollowed"
    gone_identity.save()
    sandbox.control.set_outcome(account.app_id, blocker_identity.external_id, "user block")
    campaign = scheduled_campaign(account, static_segment([c for c, _ in people]))

    services.campaign_plan(campaign_id=campaign.pk)  # plans, then dispatches inline on commit
    assert sandbox.control.flush_callbacks(timeout=20)  # WeChat's TEMPLATESENDJOBFINISH reports

    # Clicks: two on one delivery (counted once), one on another.
    clicked = [identity for _, identity in people[3:5]]
    client = Client()
    for identity, times in zip(clicked, (2, 1), strict=True):
        message = sandbox.control.sent_messages(app_id=account.app_id, api="template", touser=identity.external_id)[0]
        for _ in range(times):
            assert client.get(_path(message["payload"]["url"]), HTTP_USER_AGENT=BROWSER).status_code == 302

    expected = {"sent": 4, "delivered": 3, "failed": 1, "clicked": 2, "mutes": 1}
    kept = campaign_counters_get(campaign=campaign)
    assert {key: kept[key] for key in expected} == expected
    assert kept["suppressed_by_reason"] == {"do_not_disturb": 1, "unfollowed": 1}
    assert kept["first_sent_at"] is not None

    # Retries: WeChat repeats its reports, a late duplicate outcome arrives, dispatch runs again.
    for delivery in Delivery.objects.filter(campaign=campaign).exclude(msgid=""):
        status = "user_block" if delivery.state == "failed" else "delivered"
        report = DeliveryReport(account_id=account.pk, msgid=delivery.msgid, status=status, raw_status=status, occurred_at=timezone.now())
        assert delivery_report_apply(report) == 0
    a_sent = Delivery.objects.filter(campaign=campaign, state="delivered").first()
    outcomes_record([Outcome(a_sent.pk, "sent", msgid=a_sent.msgid)])
    campaign.refresh_from_db()
    dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=5)

    kept = campaign_counters_get(campaign=campaign)
    assert {key: kept[key] for key in expected} == expected
    truth = _counts_from_rows([campaign.pk])[campaign.pk]
    assert {key: kept[key] for key in expected} == {key: truth[key] for key in expected}
    assert kept["suppressed_by_reason"] == truth["suppressed_by_reason"]

    # The readers see the kept counts.
    funnel = campaign_funnel(campaign)
    assert (funnel.audience, funnel.planned, funnel.sent, funnel.delivered, funnel.failed, funnel.clicked) == (6, 4, 4, 3, 1, 2)
    assert funnel.suppressed == {"unfollowed": 1, "do_not_disturb": 1}
    stats = campaign_stats(campaign=campaign)
    assert (stats["clicked"], stats["failed"], stats["delivered"]) == (2, 1, 3)


def test_refresh_recounts_rows_written_by_hand(eng_campaign, eng_make_delivery):
    now = timezone.now()
    eng_make_delivery(state="delivered", sent_at=now, delivered_at=now, clicked_at=now)
    eng_make_delivery(state="failed", sent_at=now, error_code="43101")
    CampaignCounters.objects.filter(pk=eng_campaign.pk).delete()

    assert campaign_counters_refresh(campaign_ids=[eng_campaign.pk]) == 1
    kept = campaign_counters_get(campaign=eng_campaign)
    assert {k: kept[k] for k in ("sent", "delivered", "failed", "clicked", "mutes")} == {
        "sent": 2, "delivered": 1, "failed": 1, "clicked": 1, "mutes": 1
    }
