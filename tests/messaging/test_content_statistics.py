"""Article statistics: the sandbox reports what users did with a published article (datacube, with
its date limits); the daily poll stores it once per day; a campaign shows its article's numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from wechatpy.exceptions import WeChatClientException

from campaigns.article_stats import campaign_article_stats
from campaigns.models import CampaignCounters
from messaging.content.articles import article_draft_create, article_publish
from messaging.content.materials import material_upload
from messaging.content.models import ArticleDailyStat
from messaging.content.statistics import account_yesterday, article_stats_fetch
from messaging.content.tasks import article_stats_poll_all_task
from tests.factories import CampaignFactory

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200


@pytest.mark.django_db(transaction=True)
def test_yesterdays_reads_are_stored_once_and_shown_for_the_campaign(oa_account, sandbox):
    cover = material_upload(account=oa_account, kind="thumb", name="c.jpg", data=JPEG)
    article = article_publish(article=article_draft_create(account=oa_account, items=[{"title": "周末新品", "content": "x", "thumb_media_id": cover.media_id}]))
    [published] = sandbox.control.call("content", app_id=oa_account.app_id)["articles"].values()
    yesterday = account_yesterday(oa_account)
    msgid = f"{published['msg_data_id']}_1"
    sandbox.control.call("article_reads", app_id=oa_account.app_id, msgid=msgid, day=yesterday.isoformat(),
                         int_page_read_user=120, int_page_read_count=150, share_user=7, share_count=9, add_to_fav_user=3, target_user=900)

    assert article_stats_poll_all_task() == {str(oa_account.pk): 1}
    assert article_stats_fetch(account=oa_account, day=yesterday) == 1  # fetched again: the same row
    stat = ArticleDailyStat.objects.get()
    assert (stat.msgid, stat.title, stat.read_users, stat.read_count, stat.share_users, stat.favourite_users, stat.target_users) == (
        msgid, "周末新品", 120, 150, 7, 3, 900)

    campaign = CampaignFactory(account=oa_account, message_type="mass", content={"msgtype": "mpnews", "media_id": article.media_id})
    CampaignCounters.objects.create(campaign=campaign, first_sent_at=timezone.now() - timedelta(days=2))
    shown = campaign_article_stats(campaign)
    assert shown["total"]["read_users"] == 120 and shown["days"] == 1
    assert campaign_article_stats(CampaignFactory(account=oa_account, message_type="mass", content={"text": "x"})) is None


@pytest.mark.parametrize(("begin", "end", "errcode"), [
    ("2026-12-01", "2026-12-02", 61501),  # more than one day
    ("2099-01-01", "2099-01-01", 61501),  # not yet over
    ("yesterday", "yesterday", 61500),
])
def test_the_sandbox_enforces_the_datacube_date_rules(sandbox, begin, end, errcode):
    sandbox.control.register_app(kind="oa", app_id="wxcube", secret="s")
    client = sandbox.wechat_client("wxcube", "s")
    with pytest.raises(WeChatClientException) as caught:
        client.post("https://api.weixin.qq.com/datacube/getarticlesummary", data={"begin_date": begin, "end_date": end})
    assert caught.value.errcode == errcode
