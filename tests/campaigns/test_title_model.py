"""The title model learns what the brand's own history shows (numbers and questions inside the
first 16 characters earn clicks), predicts with an interval, and its backtest beats the naive
baseline on later campaigns; the command prints both errors."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import CampaignCounters
from campaigns.titles.backtest import account_history, backtest
from campaigns.titles.features import Title, title_features
from campaigns.titles.model import Example, TitleModel
from tests.factories import CampaignFactory

STEMS = ["春季新品上市", "会员专享福利", "周末咖啡时光", "门店活动预告", "新口味尝鲜", "年终感恩回馈"]


def history_title(rng: random.Random) -> tuple[str, float]:
    """A title and its true click rate: 3% base, +2 points with a number, +1.5 with a question,
    −1 when it runs past 16 characters."""
    number, question, long = rng.random() < 0.5, rng.random() < 0.4, rng.random() < 0.3
    text = rng.choice(STEMS) + (f" 第{rng.randint(2, 9)}杯半价" if number else "") + ("，你来吗？" if question else "")
    if long:
        text += " 详情点击查看活动规则与门店地址"
    rate = 0.03 + 0.02 * number + 0.015 * question - 0.01 * (len(text) > 16)
    return text, max(rate, 0.005)


def test_features_read_like_a_marketer_would():
    assert title_features(Title("周末 第2杯半价，你来吗？", key_words=("半价", "门店")), []) == [1.0, 1.3, 1.0, 1.0, 1.0, 1.0]


def test_the_model_recovers_the_effects_and_states_its_uncertainty():
    rng = random.Random(7)
    examples = []
    for _ in range(200):
        text, rate = history_title(rng)
        clicks = sum(rng.random() < rate for _ in range(2000))
        examples.append(Example(Title(text), clicks / 2000, 2000))
    model = TitleModel(examples)
    weights = dict(model.explain())
    assert 0.015 < weights["has a number"] < 0.025 and 0.01 < weights["is a question"] < 0.02
    plain, strong = model.predict(Title("会员专享福利")), model.predict(Title("会员专享 第2杯半价，你来吗？"))
    assert strong.rate - plain.rate > 0.025
    assert 0 < plain.sd < 0.01 and plain.interval[0] < plain.rate < plain.interval[1]


@pytest.mark.django_db
def test_the_backtest_beats_the_naive_baseline_and_the_command_prints_it(plan_account):
    rng = random.Random(11)
    start = timezone.now() - timedelta(days=120)
    for day in range(60):
        text, rate = history_title(rng)
        campaign = CampaignFactory(account=plan_account, message_type="mass", state="completed", content={"text": text})
        sent = 1000
        CampaignCounters.objects.create(campaign=campaign, sent=sent, clicked=sum(rng.random() < rate for _ in range(sent)),
                                        first_sent_at=start + timedelta(days=2 * day))
    examples = account_history(account_id=plan_account.pk)
    assert [e.title.text for e in examples][:1] and len(examples) == 60
    result = backtest(examples)
    assert (result.train, result.test) == (42, 18)
    assert result.model_mae < 0.7 * result.baseline_mae
    out = io.StringIO()
    call_command("title_model_backtest", account=plan_account.pk, stdout=out)
    printed = out.getvalue()
    assert f"model {result.model_mae:.4f}, naive baseline {result.baseline_mae:.4f}" in printed
    print(printed)
