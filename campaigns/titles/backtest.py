"""The title model's backtest on an account's past campaigns: train on the earlier ones, test on the
later ones, and compare the mean absolute error with the naive baseline (the training campaigns'
average click rate, weighted by sends)."""

from __future__ import annotations

from dataclasses import dataclass

from campaigns.models import Campaign, CampaignCounters, CampaignState
from campaigns.titles.features import Title
from campaigns.titles.model import Example, TitleModel
from campaigns.validation import campaign_title

MIN_SENDS = 20


def account_history(*, account_id: int) -> list[Example]:
    """Completed campaigns of the account, oldest first: title, click rate per message sent, sends."""
    rows = (
        CampaignCounters.objects.filter(campaign__account_id=account_id, campaign__state=CampaignState.COMPLETED, sent__gte=MIN_SENDS)
        .select_related("campaign").order_by("first_sent_at", "campaign_id")
    )
    campaigns = {c.pk: c for c in Campaign.objects.filter(pk__in=[r.campaign_id for r in rows]).prefetch_related("topics")}
    out = []
    for row in rows:
        campaign = campaigns[row.campaign_id]
        title = Title(text=campaign_title(campaign), topics=tuple(t.name for t in campaign.topics.all()),
                      key_words=tuple((campaign.content or {}).get("key_words") or ()))
        out.append(Example(title=title, rate=row.clicked / row.sent, sends=row.sent))
    return out


@dataclass(frozen=True)
class BacktestResult:
    train: int
    test: int
    model_mae: float
    baseline_mae: float
    coverage: float  # share of test campaigns inside the model's 95% interval


def backtest(examples: list[Example], *, train_share: float = 0.7) -> BacktestResult:
    cut = max(2, int(len(examples) * train_share))
    train, test = examples[:cut], examples[cut:]
    if not test:
        raise ValueError("too few campaigns to test on")
    model = TitleModel(train)
    baseline = sum(e.rate * e.sends for e in train) / sum(e.sends for e in train)
    model_errors, baseline_errors, inside = [], [], 0
    for example in test:
        prediction = model.predict(example.title)
        model_errors.append(abs(prediction.rate - example.rate))
        baseline_errors.append(abs(baseline - example.rate))
        low, high = prediction.interval
        inside += int(low <= example.rate <= high)
    return BacktestResult(train=len(train), test=len(test), model_mae=sum(model_errors) / len(test),
                          baseline_mae=sum(baseline_errors) / len(test), coverage=inside / len(test))
