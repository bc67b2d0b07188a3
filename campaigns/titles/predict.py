"""The title model in the wizard: the predicted click rate, with its uncertainty, of a campaign's
title and of each variant, from the account's own history (campaigns.titles.backtest.account_history)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext

from campaigns.models import CampaignCounters, CampaignState
from campaigns.rendering import variant_content
from campaigns.titles.backtest import MIN_SENDS, account_history
from campaigns.titles.features import Title
from campaigns.titles.model import Prediction, TitleModel
from campaigns.variants.selectors import variant_label, variant_title

# Fewer completed campaigns than this and the model says nothing (it has more weights than that).
MIN_HISTORY = 12
MODEL_SECONDS = 600


def _model(account_id: int) -> tuple[TitleModel | None, int, float]:
    """The account's model (cached while its history is unchanged), the history's size and its
    average click rate (the naive baseline)."""
    counted = CampaignCounters.objects.filter(campaign__account_id=account_id, campaign__state=CampaignState.COMPLETED, sent__gte=MIN_SENDS)
    latest = counted.order_by("-campaign_id").values_list("campaign_id", flat=True).first()
    key = f"title-model:{account_id}:{counted.count()}:{latest}"
    cached = cache.get(key)
    if cached is None:
        history = account_history(account_id=account_id)
        sends = sum(e.sends for e in history)
        baseline = sum(e.rate * e.sends for e in history) / sends if sends else 0.0
        model = TitleModel(history) if len(history) >= MIN_HISTORY else None
        cached = (model, len(history), baseline)
        cache.set(key, cached, MODEL_SECONDS)
    return cached


def _shown(text: str, prediction: Prediction) -> dict[str, Any]:
    low, high = prediction.interval
    return {"text": text, "rate": round(prediction.rate, 4), "sd": round(prediction.sd, 4), "low": round(low, 4), "high": round(high, 4)}


def title_predictions(*, account_id: int, content: dict[str, Any], topics: list[str]) -> dict[str, Any]:
    """{available, campaigns, baseline, title: {text, rate, sd, low, high}, variants: [{label, …}], note}."""
    model, n, baseline = _model(account_id)
    if model is None:
        return {"available": False, "campaigns": n, "note": gettext(
            "No prediction yet: the title model needs %(min)d completed campaigns of this account with at least %(sends)d messages each; it has %(n)d.",
        ) % {"n": n, "sends": MIN_SENDS, "min": MIN_HISTORY}}
    key_words = tuple(content.get("key_words") or ())

    def predict(text: str) -> dict[str, Any]:
        return _shown(text, model.predict(Title(text=text, topics=tuple(topics), key_words=key_words)))

    variants = content.get("variants") or []
    return {
        "available": True, "campaigns": n, "baseline": round(baseline, 4),
        "title": predict(variant_title({k: v for k, v in content.items() if k != "variants"})),
        "variants": [{"label": variant_label(i), **predict(variant_title(variant_content(content, i)))} for i in range(len(variants))],
        "note": gettext("Predicted from %(n)d past campaigns of this account (their average: %(baseline)s); ± is the 95%% interval of the expected rate.") % {
            "n": n, "baseline": f"{baseline:.1%}"},
    }
