"""A variant test's report: each variant with its 16-character preview, reached, clicks, rate, 95%
confidence interval and P(beats all), and the decision with its reason."""

from __future__ import annotations

import string
from dataclasses import asdict
from typing import Any

from django.utils.translation import gettext

from campaigns.models import Campaign
from campaigns.rendering import variant_content
from campaigns.variants.decision import FALLBACK_VARIANT, Metric, Reason, variant_numbers
from campaigns.variants.models import VariantTest, VariantTestMode, VariantTestState

TITLE_PREVIEW_CHARS = 16


def variant_label(variant: int) -> str:
    return string.ascii_uppercase[variant]


def variant_title(content: dict[str, Any]) -> str:
    """What the chat list shows of a message: its title, or its text's first line."""
    if content.get("title"):
        return str(content["title"])
    return str(content.get("text") or content.get("body") or "").split("\n", 1)[0]


def metric_text(metric: str) -> str:
    if metric == Metric.READS:
        return gettext("reads per message reached (WeChat's article statistics)")
    return gettext("clicks per message reached")


def reason_text(test: VariantTest) -> str:
    threshold = f"{test.threshold:.0%}"
    if test.mode == VariantTestMode.SPLIT:
        return gettext("Split test: every variant goes to its share of the audience; there is no rest to send a winner to.")
    if test.state == VariantTestState.TESTING:
        return gettext("Testing: the decision comes %(when)s, after the wait.") % {"when": test.decide_at.strftime("%Y-%m-%d %H:%M UTC") if test.decide_at else "—"}
    winner = variant_label(test.winner if test.winner is not None else FALLBACK_VARIANT)
    if test.reason == Reason.SIGNIFICANT:
        best = max(test.detail.get("variants", []), key=lambda v: v["p_best"], default={"p_best": 0})
        return gettext("Variant %(winner)s won on %(metric)s: the probability that it beats all the others is %(p)s, at least %(threshold)s, and every variant reached %(min)d messages. It was sent to the rest.") % {
            "winner": winner, "metric": metric_text(test.detail.get("metric", Metric.CLICKS)), "p": f"{best['p_best']:.1%}", "threshold": threshold, "min": test.min_sample}
    if test.reason == Reason.TOO_FEW:
        return gettext("No winner: a variant reached fewer than %(min)d messages. The fallback, variant %(winner)s (the first), was sent to the rest.") % {
            "min": test.min_sample, "winner": winner}
    return gettext("No winner on %(metric)s: no variant beats all the others with a probability of at least %(threshold)s. The fallback, variant %(winner)s (the first), was sent to the rest.") % {
        "metric": metric_text(test.detail.get("metric", Metric.CLICKS)), "threshold": threshold, "winner": winner}


def variant_test_report(campaign: Campaign) -> dict[str, Any] | None:
    test = VariantTest.objects.filter(campaign=campaign).first()
    if test is None:
        return None
    content = campaign.content or {}
    rows = []
    all_numbers = variant_numbers(test)
    metric = test.detail.get("metric") if test.state == VariantTestState.DECIDED and test.detail.get("metric") else (
        all_numbers[0].metric if all_numbers else Metric.CLICKS)
    for numbers in all_numbers:
        title = variant_title(variant_content(content, numbers.variant))
        rows.append({
            **asdict(numbers), "label": variant_label(numbers.variant), "preview": title[:TITLE_PREVIEW_CHARS],
            "truncated": len(title) > TITLE_PREVIEW_CHARS, "winner": test.winner == numbers.variant,
        })
    return {
        "mode": test.mode, "mode_display": test.get_mode_display(), "state": test.state, "variants": rows,
        "winner": variant_label(test.winner) if test.winner is not None else None, "reason": test.reason,
        "reason_text": reason_text(test), "threshold": test.threshold, "min_sample": test.min_sample,
        "cell_percent": test.cell_percent, "decided_at": test.decided_at,
        "metric": metric, "reads": metric == Metric.READS,
        "method": gettext("The metric: %(metric)s; 95%% Wilson intervals; the winner needs a Bayesian probability to beat all the others (Beta(1+successes, 1+failures) posteriors) of at least %(threshold)s and at least %(min)d messages per variant.") % {
            "metric": metric_text(metric), "threshold": f"{test.threshold:.0%}", "min": test.min_sample},
    }
