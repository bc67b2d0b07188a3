"""Article statistics fed to the engagement profile as aggregate signals: a day's reads per topic of
the account's mpnews campaigns (fetched from the sandbox's datacube) are stored by customers'
service, and a topic whose articles are read more starts the click prediction from a higher prior.
All numbers hand-counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import CampaignCounters
from customers.engagement.article_signals import topic_read_lifts
from customers.engagement.models import TopicReadStat
from customers.engagement.prediction import click_estimates
from messaging.content.articles import article_draft_create, article_publish
from messaging.content.materials import material_upload
from messaging.content.statistics import account_yesterday, article_stats_fetch
from tests.factories import CampaignFactory, CustomerFactory, TagFactory

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200


@pytest.mark.django_db(transaction=True)
def test_article_reads_per_topic_become_the_topics_prior(oa_account, sandbox):
    cover = material_upload(account=oa_account, kind="thumb", name="c.jpg", data=JPEG)
    shoes, coats = TagFactory(name="shoes"), TagFactory(name="coats")
    yesterday = account_yesterday(oa_account)
    published = {}
    for title, readers, tag in (("鞋子上新", 300, shoes), ("大衣 8 折", 100, coats)):
        article = article_publish(article=article_draft_create(account=oa_account, items=[{"title": title, "content": "x", "thumb_media_id": cover.media_id}]))
        campaign = CampaignFactory(account=oa_account, message_type="mass", content={"msgtype": "mpnews", "media_id": article.media_id})
        campaign.topics.set([tag])
        CampaignCounters.objects.create(campaign=campaign, first_sent_at=timezone.now() - timedelta(days=2))
        published[title] = (readers, article)
    for entry in sandbox.control.call("content", app_id=oa_account.app_id)["articles"].values():
        [title] = entry["titles"]
        sandbox.control.call("article_reads", app_id=oa_account.app_id, msgid=f"{entry['msg_data_id']}_1", day=yesterday.isoformat(),
                             int_page_read_user=published[title][0], int_page_read_count=published[title][0], target_user=1000)
    # A text campaign on the same topic and an old one do not count.
    CampaignFactory(account=oa_account, message_type="mass", content={"text": "鞋子上新"}).topics.set([shoes])

    assert article_stats_fetch(account=oa_account, day=yesterday) == 2
    stored = {(s.topic_id, s.readers, s.targets) for s in TopicReadStat.objects.filter(account=oa_account, day=yesterday)}
    assert stored == {(shoes.pk, 300, 1000), (coats.pk, 100, 1000)}
    article_stats_fetch(account=oa_account, day=yesterday)  # fetched again: the same rows
    assert TopicReadStat.objects.count() == 2

    # By hand: the account reads 400 / 2000 = 0.2; shoes (300 + 200·0.2) / (1000 + 200) = 0.28333,
    # lift 1.41667; coats (100 + 40) / 1200 = 0.11667, lift 0.58333.
    lifts = topic_read_lifts(account_id=oa_account.pk, now=timezone.now())
    assert lifts == {str(shoes.pk): pytest.approx(1.416667, abs=1e-5), str(coats.pk): pytest.approx(0.583333, abs=1e-5)}

    # A customer without history and no organic signal: the population's prior rate 0.5 / 10 times the lift.
    customer = CustomerFactory()
    now = timezone.now()
    plain = click_estimates(customer_ids=[customer.pk], topic_ids=[shoes.pk], now=now)[customer.pk][0]
    with_shoes = click_estimates(customer_ids=[customer.pk], topic_ids=[shoes.pk], now=now, account_id=oa_account.pk)[customer.pk][0]
    with_coats = click_estimates(customer_ids=[customer.pk], topic_ids=[coats.pk], now=now, account_id=oa_account.pk)[customer.pk][0]
    assert (plain, with_shoes, with_coats) == (pytest.approx(0.05), pytest.approx(0.05 * 1.416667, abs=1e-6), pytest.approx(0.05 * 0.583333, abs=1e-6))
