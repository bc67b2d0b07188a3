"""Variant tests: stable-hash assignment (the SQL agrees with the Python formula), split and
test-cells modes, the winner chosen only when significant and sent to the rest, the stated fallback
otherwise, and a report whose numbers equal hand-counted fixtures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import dispatch, services
from campaigns.models import CampaignCounters, Delivery
from campaigns.validation import variants_problem
from campaigns.variants.assign import variant_of
from campaigns.variants.decision import Reason, variant_test_decide_if_due
from campaigns.variants.models import VariantTest
from campaigns.variants.selectors import variant_test_report
from campaigns.variants.stats import Arm, probability_to_beat_all, wilson_interval
from messaging.content.models import Article, ArticleDailyStat
from tests.factories import CampaignFactory, DeliveryFactory

TEXTS = ["春季新品 8 折 今天开抢", "你的春季衣橱 少了这一件？"]


def test_wilson_interval_matches_the_hand_computed_formula():
    # 30 of 100, z = 1.96: centre (0.3 + 1.9208/100) / 1.038415 = 0.30740, half 0.08914.
    low, high = wilson_interval(30, 100)
    assert (round(low, 4), round(high, 4)) == (0.2189, 0.3958)
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_probability_to_beat_all_is_symmetric_and_follows_the_evidence():
    assert probability_to_beat_all([Arm(100, 10), Arm(100, 10)]) == pytest.approx([0.5, 0.5], abs=1e-3)
    # Beta(2, 1) vs Beta(1, 2): P(X > Y) = 5/6 exactly.
    assert probability_to_beat_all([Arm(1, 1), Arm(1, 0)])[0] == pytest.approx(5 / 6, abs=2e-3)
    three = probability_to_beat_all([Arm(1000, 50), Arm(1000, 80), Arm(1000, 52)])
    assert three[1] > 0.99 and sum(three) == pytest.approx(1.0)


@pytest.mark.parametrize(("content", "problem"), [
    ({"variants": [{"text": "a"}]}, "2 to 8 variants"),
    ({"variants": [{"text": str(n)} for n in range(9)]}, "2 to 8 variants"),
    ({"variants": [{"text": "a"}, {}]}, "each variant is an object of the content keys it changes"),
    ({"variants": [{"text": "a"}, {"text": "b"}], "variant_test": {"mode": "cells", "cell_percent": 50}}, "each test cell is 1–50% and the cells leave a rest"),
    ({"variants": [{"text": "a"}, {"text": "b"}], "variant_test": {"mode": "race"}}, "mode is split or cells"),
    ({"variants": [{"text": "a"}, {"text": "b"}], "variant_test": {"mode": "cells", "cell_percent": 10}}, ""),
])
def test_variant_settings_are_checked(content, problem):
    assert variants_problem(content) == problem


def mass_test(account, segment, **settings):
    content = {"msgtype": "text", "text": TEXTS[0], "variants": [{"text": t} for t in TEXTS], "variant_test": settings}
    campaign = CampaignFactory(account=account, segment=segment, scheduled_now=True, message_type="mass", content=content)
    services.campaign_plan(campaign_id=campaign.pk)
    return campaign


def pump(campaign, times: int = 3):
    for _ in range(times):
        dispatch.campaign_dispatch(campaign_id=campaign.pk, budget_seconds=30)


def sent_texts(sandbox) -> list[tuple[str, list[str]]]:
    return [(r["body"]["text"]["content"], r["body"]["touser"]) for r in sandbox.control.requests(path="/cgi-bin/message/mass/send") if r["errcode"] == 0]


@pytest.mark.django_db(transaction=True)
def test_split_mode_assigns_every_customer_by_the_stable_hash_and_sends_each_variant_as_its_own_list(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 40)
    campaign = mass_test(sandbox_oa, static_segment([c for c, _ in people]), mode="split")
    test = VariantTest.objects.get(campaign=campaign)
    rows = list(Delivery.objects.filter(campaign=campaign).values_list("customer_id", "variant", "variant_test_cell"))
    assert all(v == variant_of(campaign=campaign, customer_id=c, test=test) and cell for c, v, cell in rows)
    assert {v for _, v, _ in rows} == {0, 1}
    pump(campaign)
    by_text = {text: set(touser) for text, touser in sent_texts(sandbox)}
    openid = {c.pk: i.external_id for c, i in people}
    assert by_text == {TEXTS[v]: {openid[c] for c, vv, _ in rows if vv == v} for v in (0, 1)}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("clicks", "reason", "winner"), [
    ((1, 12), Reason.SIGNIFICANT, 1),       # B clearly better: it goes to the rest
    ((6, 7), Reason.NOT_SIGNIFICANT, 0),    # a difference chance explains: the fallback, A
])
def test_cells_mode_sends_the_winner_to_the_rest_only_when_significant(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy, clicks, reason, winner):
    people = sandbox_followers(sandbox_oa, 120)
    campaign = mass_test(sandbox_oa, static_segment([c for c, _ in people]), mode="cells", cell_percent=25, wait_minutes=60, min_sample=10)
    pump(campaign)
    cells = Delivery.objects.filter(campaign=campaign, variant_test_cell=True)
    rest = Delivery.objects.filter(campaign=campaign, variant_test_cell=False)
    assert set(cells.values_list("state", flat=True)) == {"sent"}
    assert set(rest.values_list("state", "variant")) == {("planned", None)}
    assert len(sent_texts(sandbox)) == 2  # one list per variant, nothing yet to the rest

    # Clicks of the cells (as tracked links record them), then the wait ends.
    for variant, n in enumerate(clicks):
        ids = list(cells.filter(variant=variant).order_by("id").values_list("id", flat=True)[:n])
        Delivery.objects.filter(pk__in=ids).update(clicked_at=timezone.now())
    VariantTest.objects.filter(campaign=campaign).update(decide_at=timezone.now() - timedelta(seconds=1))
    pump(campaign)

    test = VariantTest.objects.get(campaign=campaign)
    assert (test.state, test.reason, test.winner) == ("decided", reason, winner)
    assert set(rest.values_list("state", "variant")) == {("sent", winner)}
    rest_openids = set(rest.values_list("identity__external_id", flat=True))
    [(text, touser)] = [(t, u) for t, u in sent_texts(sandbox)[2:]]
    assert (text, set(touser)) == (TEXTS[winner], rest_openids)
    report = variant_test_report(campaign)
    assert report["winner"] == "AB"[winner] and report["reason"] == reason


@pytest.mark.django_db(transaction=True)
def test_too_few_messages_per_variant_fall_back_to_the_first(sandbox, sandbox_oa, sandbox_followers, static_segment, contact_policy):
    people = sandbox_followers(sandbox_oa, 30)
    campaign = mass_test(sandbox_oa, static_segment([c for c, _ in people]), mode="cells", cell_percent=20, min_sample=100)
    pump(campaign)
    Delivery.objects.filter(campaign=campaign, variant_test_cell=True, variant=1).update(clicked_at=timezone.now())
    VariantTest.objects.filter(campaign=campaign).update(decide_at=timezone.now())
    pump(campaign)
    test = VariantTest.objects.get(campaign=campaign)
    assert (test.reason, test.winner) == (Reason.TOO_FEW, 0)


@pytest.mark.django_db
def test_the_report_equals_hand_counted_fixtures(plan_account):
    content = {"text": "x", "variants": [{"text": "春季新品 8 折 今天开抢 限量 200 件"}, {"text": "短标题"}], "variant_test": {"mode": "cells", "cell_percent": 10, "min_sample": 50}}
    campaign = CampaignFactory(account=plan_account, message_type="mass", content=content, state="sending")
    VariantTest.objects.create(campaign=campaign, mode="cells", variant_count=2, cell_percent=10, min_sample=50)
    # A: 60 reached (50 sent + 10 delivered), 9 clicked, 5 failed (not reached, clicks ignored).
    # B: 80 reached, 20 clicked. The rest (not cells) counts for nothing.
    for variant, states in ((0, [("sent", 45, 0), ("sent", 5, 5), ("delivered", 6, 0), ("delivered", 4, 4), ("failed", 5, 5)]),
                            (1, [("sent", 60, 0), ("sent", 20, 20)])):
        for state, n, clicked in states:
            for k in range(n):
                DeliveryFactory(campaign=campaign, account=plan_account, state=state, variant=variant, variant_test_cell=True,
                                clicked_at=timezone.now() if k < clicked else None)
    DeliveryFactory.create_batch(7, campaign=campaign, account=plan_account, state="sent", variant=1, variant_test_cell=False, clicked_at=timezone.now())
    report = variant_test_report(campaign)
    a, b = report["variants"]
    assert (a["label"], a["reached"], a["clicked"], a["rate"]) == ("A", 60, 9, 0.15)
    assert (b["label"], b["reached"], b["clicked"], b["rate"]) == ("B", 80, 20, 0.25)
    assert (round(a["ci_low"], 4), round(a["ci_high"], 4)) == tuple(round(x, 4) for x in wilson_interval(9, 60))
    # By hand: p 0.25, z² 3.8415 → centre 0.26145, half 0.09339.
    assert (round(b["ci_low"], 4), round(b["ci_high"], 4)) == (0.1681, 0.3548)
    assert a["preview"] == "春季新品 8 折 今天开抢 限量" and a["truncated"] and b["preview"] == "短标题"
    assert 0.9 < b["p_best"] < 0.95 and a["p_best"] == pytest.approx(1 - b["p_best"])


def article_test(account, reads_by_title: dict[str, list[tuple[int, int]]]):
    """An mpnews cells test of two articles: A 100 reached (2 clicked), B 100 reached (1 clicked),
    10 held in the rest; `reads_by_title`: (days ago, readers) rows of datacube per title."""
    titles = ["春季新品 8 折 今天开抢", "你的春季衣橱 少了这一件？"]
    for n, title in enumerate(titles):
        Article.objects.create(account=account, items=[{"title": title}], media_id=f"draft-{n}", state="published")
    content = {"msgtype": "mpnews", "media_id": "draft-0", "variants": [{"media_id": "draft-0"}, {"media_id": "draft-1"}],
               "variant_test": {"mode": "cells", "cell_percent": 10, "min_sample": 50}}
    campaign = CampaignFactory(account=account, message_type="mass", content=content, state="sending")
    CampaignCounters.objects.create(campaign=campaign, first_sent_at=timezone.now() - timedelta(days=2))
    VariantTest.objects.create(campaign=campaign, mode="cells", variant_count=2, cell_percent=10, min_sample=50,
                               decide_at=timezone.now() - timedelta(minutes=1))
    for variant, clicks in ((0, 2), (1, 1)):
        for k in range(100):
            DeliveryFactory(campaign=campaign, account=account, state="sent", variant=variant, variant_test_cell=True,
                            clicked_at=timezone.now() if k < clicks else None)
    DeliveryFactory.create_batch(10, campaign=campaign, account=account, state="planned", variant=None, variant_test_cell=False,
                                 send_after=timezone.now() + timedelta(days=365))
    today = timezone.now().date()
    for n, title in enumerate(titles):
        for days_ago, readers in reads_by_title.get(title, []):
            ArticleDailyStat.objects.create(account=account, msgid=f"100{n}_1", title=title, ref_date=today - timedelta(days=days_ago), read_users=readers)
    return campaign, titles


@pytest.mark.django_db
def test_an_article_test_is_decided_on_reads_per_delivered_when_statistics_exist(plan_account):
    # A: 6 + 4 readers since the first send (the 25 of 10 days ago came before it); B: 18 + 12.
    # Clicks alone (2 vs 1) would have kept A; reads per delivered: A 10/100, B 30/100.
    campaign, (title_a, title_b) = article_test(plan_account, {"春季新品 8 折 今天开抢": [(1, 6), (0, 4), (10, 25)],
                                                               "你的春季衣橱 少了这一件？": [(1, 18), (0, 12)]})
    assert variant_test_decide_if_due(campaign_id=campaign.pk)
    test = VariantTest.objects.get(campaign=campaign)
    assert (test.reason, test.winner, test.detail["metric"]) == (Reason.SIGNIFICANT, 1, "reads")
    assert set(Delivery.objects.filter(campaign=campaign, variant_test_cell=False).values_list("variant", flat=True)) == {1}
    report = variant_test_report(campaign)
    a, b = report["variants"]
    assert (a["reached"], a["clicked"], a["reads"], a["rate"]) == (100, 2, 10, 0.10)
    assert (b["reached"], b["clicked"], b["reads"], b["rate"]) == (100, 1, 30, 0.30)
    # By hand: p 0.3, n 100 → centre 0.30740, half 0.08914.
    assert (round(b["ci_low"], 4), round(b["ci_high"], 4)) == (0.2189, 0.3958)
    assert report["reads"] and "按每条送达消息的阅读人数（微信图文统计）胜出" in report["reason_text"]
    assert report["method"].startswith("指标：每条送达消息的阅读人数")


@pytest.mark.django_db
def test_an_article_test_without_statistics_is_decided_on_clicks(plan_account):
    campaign, _ = article_test(plan_account, {"春季新品 8 折 今天开抢": [(10, 25)]})  # only before the first send
    assert variant_test_decide_if_due(campaign_id=campaign.pk)
    test = VariantTest.objects.get(campaign=campaign)
    assert (test.reason, test.winner, test.detail["metric"]) == (Reason.NOT_SIGNIFICANT, 0, "clicks")
    report = variant_test_report(campaign)
    assert [v["reads"] for v in report["variants"]] == [None, None] and [v["rate"] for v in report["variants"]] == [0.02, 0.01]
    assert report["reason_text"].startswith("按每条送达消息的点击没有胜出版本")
