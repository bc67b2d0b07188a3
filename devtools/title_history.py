"""A synthetic history of completed mass campaigns for an account, so the title model (campaigns.titles)
has something to learn from on a demo or test account: titles whose true click rate is 3%, +2
points with a number, +1.5 with a question, −1 past 16 characters (the history of
tests/campaigns/test_title_model.py), each sent to `sends` people with binomial clicks."""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import ChannelAccount
from campaigns.models import Campaign, CampaignCounters, CampaignState
from customers.segments.services import segment_create

STEMS = ["春季新品上市", "会员专享福利", "周末咖啡时光", "门店活动预告", "新口味尝鲜", "年终感恩回馈"]
NAME_PREFIX = "标题历史 #"


def history_title(rng: random.Random) -> tuple[str, float]:
    number, question, long = rng.random() < 0.5, rng.random() < 0.4, rng.random() < 0.3
    text = rng.choice(STEMS) + (f" 第{rng.randint(2, 9)}杯半价" if number else "") + ("，你来吗？" if question else "")
    if long:
        text += " 详情点击查看活动规则与门店地址"
    rate = 0.03 + 0.02 * number + 0.015 * question - 0.01 * (len(text) > 16)
    return text, max(rate, 0.005)


@transaction.atomic
def title_history_seed(*, account: ChannelAccount, campaigns: int = 40, sends: int = 1000, seed: int = 11) -> int:
    """Create the history (once: an account that has it already gets nothing more); returns how many were created."""
    if Campaign.objects.filter(account=account, name__startswith=NAME_PREFIX).exists():
        return 0
    rng = random.Random(seed)
    segment = segment_create(name=f"{NAME_PREFIX}{account.pk}", kind="static")
    start = timezone.now() - timedelta(days=2 * campaigns + 7)
    for n in range(campaigns):
        text, rate = history_title(rng)
        campaign = Campaign.objects.create(name=f"{NAME_PREFIX}{n + 1} {text}"[:128], account=account, message_type="mass", priority_class="marketing",
                                           content={"msgtype": "text", "text": text}, segment_id=segment.pk, state=CampaignState.COMPLETED)
        CampaignCounters.objects.create(campaign=campaign, sent=sends, clicked=sum(rng.random() < rate for _ in range(sends)),
                                        first_sent_at=start + timedelta(days=2 * n))
    return campaigns
