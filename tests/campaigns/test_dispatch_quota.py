"""WeChat's quotas during a campaign, against the real sandbox (which enforces them as WeChat does):
a quota met mid-campaign defers the rest to the next quota day instead of failing it, and the limits
known in advance (template daily quota, mass sends per day and minute, the customer-service window)
are respected before the call.

The quota day is driven explicitly: the product's quota clock (messaging.channels.quota.quota_now) is
set to the last seconds of the previous Beijing day, then past its midnight, and the sandbox's clock
advanced by a day; nothing sleeps.
"""

from collections import Counter
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone, translation

from campaigns import dispatch, selectors, services
from campaigns.models import CampaignCounters, Delivery
from campaigns.wizard.views import progress_payload
from messaging.channels import get_adapter, quota
from messaging.channels.base import OutboundMessage, Recipient
from tests.factories import CampaignFactory

TEMPLATE_CONTENT = {
    "template_id": "TPL-ORDER",
    "template_keys": ["first", "keyword1"],
    "fields": {"first": "Hi {{ customer.display_name }}", "keyword1": "Your order shipped"},
    "url": "https://shop.example.com/orders",
}


class QuotaClock:
    """The product's quota clock, set by the test (the sandbox keeps its own, advanced alongside)."""

    def __init__(self, monkeypatch, at):
        self.at = at
        monkeypatch.setattr(quota, "quota_now", lambda: self.at)

    def turn_the_day(self, sandbox) -> None:
        """Past the next midnight in Beijing, on both sides."""
        self.at = quota.next_quota_day(self.at) + timedelta(seconds=1)
        sandbox.control.advance_clock(24 * 3600)


@pytest.fixture
def quota_clock(monkeypatch):
    """The last 10 minutes of yesterday's quota day (so the deferred sends' send_after, the next
    midnight, is already past for the database's clock and the quota clock alone holds them)."""
    today_starts = quota.next_quota_day(timezone.now()) - timedelta(days=1)
    return QuotaClock(monkeypatch, today_starts - timedelta(minutes=10))


def plan(campaign):
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.campaign_plan(campaign_id=campaign.pk)


def template_campaign(account, segment):
    return CampaignFactory(
        account=account, segment=segment, scheduled_now=True, message_type="template", priority_class="transactional", content=TEMPLATE_CONTENT
    )


def template_calls(sandbox, account):
    return [r["errcode"] for r in sandbox.control.requests("message/template/send", app_id=account.app_id)]


def states(campaign):
    return Counter(Delivery.objects.filter(campaign=campaign).values_list("state", flat=True))


def drain(campaign_id, rounds=10):
    for _ in range(rounds):
        result = dispatch.campaign_dispatch(campaign_id=campaign_id, budget_seconds=30)
        if result.requeue_in is None:
            return result
    raise AssertionError(f"dispatch did not finish: {result}")


def _hit_45009_mid_campaign(sandbox, sandbox_oa, sandbox_followers, static_segment, settings):
    # One send at a time, so the calls are exact: with a thread pool, the calls already in flight when
    # 45009 comes back meet it too (at most one per thread); none is started after it.
    settings.CAMPAIGN_DISPATCH_THREADS = 1
    sandbox.control.app_settings(sandbox_oa.app_id, template_quota=3)
    people = sandbox_followers(sandbox_oa, 6)
    campaign = template_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan(campaign)
    result = dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
    return campaign, people, result


def test_45009_mid_campaign_defers_the_rest_to_the_next_quota_day_and_the_stats_say_so(
    sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, quota_clock, settings
):
    campaign, _people, result = _hit_45009_mid_campaign(sandbox, sandbox_oa, sandbox_followers, static_segment, settings)
    turn = quota.next_quota_day(quota_clock.at)

    # Three sent, the fourth call met 45009, the other two were not even tried: nothing failed.
    assert template_calls(sandbox, sandbox_oa) == [0, 0, 0, 45009]
    assert states(campaign) == {"sent": 3, "planned": 3}
    waiting = Delivery.objects.filter(campaign=campaign, state="planned")
    assert set(waiting.values_list("send_after", "error_code")) == {(turn, "quota_deferred")}
    assert set(waiting.values_list("attempts", flat=True)) == {0}
    assert result.deferred >= 1 and result.failed == 0
    # The pump comes back by itself (its task re-enqueues), within a minute, until the day turns.
    assert result.requeue_in is not None and result.requeue_in <= 60

    counters = CampaignCounters.objects.get(pk=campaign.pk)
    assert (counters.deferred_until, counters.deferred_reason, counters.deferred_count, counters.failed) == (turn, "45009", 3, 0)
    stats = selectors.campaign_stats(campaign=campaign)
    assert stats["deferred"]["until"] == turn and stats["deferred"]["active"] and stats["failed"] == 0
    assert stats["progress"]["deferred"]["reason"] == "45009"
    local = f"{timezone.localtime(turn):%Y-%m-%d %H:%M}"
    with translation.override("en"):
        note = progress_payload(campaign)["deferred_note"]
    assert note.startswith(f"Deferred until {local} by WeChat's quota") and "midnight Beijing time" in note and "3 deliveries" in note
    with translation.override("zh-hans"):
        note_zh = progress_payload(campaign)["deferred_note"]
    assert local in note_zh and "配额" in note_zh

    # Another slice before the day turns sends nothing and calls WeChat no more.
    dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)
    assert template_calls(sandbox, sandbox_oa) == [0, 0, 0, 45009]
    assert states(campaign) == {"sent": 3, "planned": 3}


def test_deferred_sends_go_out_once_each_after_the_quota_day_turns(
    sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, quota_clock, settings
):
    campaign, people, _result = _hit_45009_mid_campaign(sandbox, sandbox_oa, sandbox_followers, static_segment, settings)
    quota_clock.turn_the_day(sandbox)

    drain(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert states(campaign) == {"sent": 6}
    sent = Counter(m["touser"] for m in sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="template"))
    assert sent == Counter({identity.external_id: 1 for _, identity in people})
    assert template_calls(sandbox, sandbox_oa) == [0, 0, 0, 45009, 0, 0, 0]
    # The report still tells what happened, in the past tense.
    deferred = selectors.campaign_stats(campaign=campaign)["deferred"]
    assert deferred["reason"] == "45009" and not deferred["active"]
    assert progress_payload(campaign)["deferred_note"] == ""


def test_the_template_quota_is_counted_and_defers_before_the_call(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, quota_clock):
    sandbox_oa.template_daily_quota = 3
    sandbox_oa.save(update_fields=["template_daily_quota"])
    people = sandbox_followers(sandbox_oa, 5)
    campaign = template_campaign(sandbox_oa, static_segment([c for c, _ in people]))
    plan(campaign)

    dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)

    # The 4th send of the quota day never reached WeChat (which would have taken it: its quota is 100,000).
    assert template_calls(sandbox, sandbox_oa) == [0, 0, 0]
    assert states(campaign) == {"sent": 3, "planned": 2}
    counters = CampaignCounters.objects.get(pk=campaign.pk)
    assert (counters.deferred_reason, counters.deferred_count, counters.deferred_until) == ("template_daily_quota", 2, quota.next_quota_day(quota_clock.at))
    with translation.override("en"):
        assert "daily quota of template messages" in progress_payload(campaign)["deferred_note"]

    quota_clock.turn_the_day(sandbox)
    drain(campaign.pk)
    assert states(campaign) == {"sent": 5}
    assert template_calls(sandbox, sandbox_oa) == [0] * 5


def _mass(key: str) -> OutboundMessage:
    return OutboundMessage("mass", {"msgtype": "text", "text": {"content": "hello"}}, key)


def test_the_101st_mass_send_of_the_day_is_deferred_without_a_wechat_call(
    sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, quota_clock
):
    adapter = get_adapter(sandbox_oa)
    pair = [Recipient(f"r{i}", openid) for i, openid in enumerate(sandbox.control.add_followers(sandbox_oa.app_id, 2))]
    answers = []
    for call in range(100):
        if call == 60:
            # The 61st call of a minute waits for the next minute, before the call (WeChat: 60 a minute).
            refused = adapter.send_batch(pair, _mass("m-60"))["r0"]
            assert (refused.error_code, refused.defer_until) == ("mass_minute_limit", quota.next_minute(quota_clock.at))
            quota_clock.at += timedelta(seconds=60)
            sandbox.control.advance_clock(60)
        answers.append(adapter.send_batch(pair, _mass(f"m-{call}"))["r0"].status)
    assert answers == ["sent"] * 100
    assert len(sandbox.control.requests("message/mass/send", app_id=sandbox_oa.app_id)) == 100

    people = sandbox_followers(sandbox_oa, 3)
    campaign = CampaignFactory(
        account=sandbox_oa, segment=static_segment([c for c, _ in people]), scheduled_now=True, message_type="mass", content={"text": "Spring sale"}
    )
    plan(campaign)
    quota_clock.at += timedelta(seconds=60)
    sandbox.control.advance_clock(60)
    dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)

    assert len(sandbox.control.requests("message/mass/send", app_id=sandbox_oa.app_id)) == 100
    assert states(campaign) == {"planned": 3}
    counters = CampaignCounters.objects.get(pk=campaign.pk)
    assert (counters.deferred_reason, counters.deferred_count) == ("mass_daily_limit", 3)

    quota_clock.turn_the_day(sandbox)
    drain(campaign.pk)
    assert states(campaign) == {"sent": 3}
    assert [r["errcode"] for r in sandbox.control.requests("message/mass/send", app_id=sandbox_oa.app_id)] == [0] * 101


def test_customer_service_messages_beyond_the_window_are_held_with_their_reason(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    now = timezone.now()
    sandbox_now = sandbox.control.advance_clock(0)
    people = sandbox_followers(sandbox_oa, 5)
    windows = {
        # name: (kind, seconds ago, messages already sent in the window)
        "message_window": ("message", 3600, 0),
        "message_window_closed": ("message", 49 * 3600, 0),
        "follow_window": ("event", 10, 0),
        "message_window_used": ("message", 3600, 5),
        "follow_window_closed": ("event", 120, 0),
    }
    by_name = {}
    for (name, (kind, ago, used)), (customer, identity) in zip(windows.items(), people, strict=True):
        identity.last_interaction_at = now - timedelta(seconds=ago)
        identity.cs_window_kind, identity.cs_window_sends = kind, used
        identity.save()
        sandbox.control.set_interaction(sandbox_oa.app_id, identity.external_id, at=sandbox_now - ago, kind=kind)
        by_name[name] = identity
    campaign = CampaignFactory(account=sandbox_oa, segment=static_segment([c for c, _ in people]), scheduled_now=True, content={"text": "Your parcel"})
    # Planning holds who is already out of a window; the send-time take holds the rest.
    with TestCase.captureOnCommitCallbacks(execute=False):
        services.campaign_plan(campaign_id=campaign.pk)
    drain(campaign.pk)

    sent_to = {m["touser"] for m in sandbox.control.sent_messages(app_id=sandbox_oa.app_id, api="custom")}
    assert sent_to == {by_name["message_window"].external_id, by_name["follow_window"].external_id}
    # Nobody outside a window was tried: WeChat never answered 45015 or 45047.
    assert [r["errcode"] for r in sandbox.control.requests("message/custom/send")] == [0, 0]
    reasons = dict(campaign.suppressions.values_list("customer_id", "reason"))
    reasons.update(Delivery.objects.filter(campaign=campaign, state="suppressed").values_list("customer_id", "error_code"))
    assert {name: reasons.get(identity.customer_id) for name, identity in by_name.items()} == {
        "message_window": None,
        "message_window_closed": "outside_cs_window",
        "follow_window": None,
        "message_window_used": "cs_quota_used",
        "follow_window_closed": "outside_cs_window",
    }
    assert Delivery.objects.filter(campaign=campaign, state="failed").count() == 0
    by_name["message_window"].refresh_from_db()
    assert by_name["message_window"].cs_window_sends == 1


def test_the_window_is_taken_at_send_time_so_a_window_used_up_since_planning_is_held(
    sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy
):
    (customer, identity), = sandbox_followers(sandbox_oa, 1)
    identity.last_interaction_at, identity.cs_window_kind, identity.cs_window_sends = timezone.now(), "event", 2
    identity.save()
    sandbox.control.set_interaction(sandbox_oa.app_id, identity.external_id, kind="event")
    first = CampaignFactory(account=sandbox_oa, segment=static_segment([customer]), scheduled_now=True, content={"text": "One"})
    second = CampaignFactory(account=sandbox_oa, segment=static_segment([customer]), scheduled_now=True, content={"text": "Two"})
    plan(first)
    plan(second)  # both planned while one message of the follow's 3 is left
    drain(first.pk)
    drain(second.pk)

    assert [r["errcode"] for r in sandbox.control.requests("message/custom/send")] == [0]
    assert Delivery.objects.get(campaign=second).error_code == "cs_quota_used"
