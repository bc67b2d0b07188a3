"""Article statistics from WeChat's data statistics API (图文分析数据接口): each day, yesterday's
reads, shares and favourites per article (`datacube/getarticlesummary`) and the target users from
the totals (`datacube/getarticletotal`). Two calls per service account a day, well within the API's
allowance; a day is fetched again idempotently (one row per account, msgid and day)."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import ChannelAccount
from messaging.content import wechat
from messaging.content.models import ArticleDailyStat

# Sent after a day of an account's article statistics is stored (kwargs: account, day): the app
# that knows which articles went out on which topics (campaigns, above messaging) turns them into
# the engagement profile's aggregate signals (customers.engagement.article_signals).
article_stats_stored = Signal()

# datacube is not under cgi-bin: the full URL (the client's session sends it to the account's host).
DATACUBE = "https://api.weixin.qq.com/datacube/"


def _post(account: ChannelAccount, api: str, day: date) -> list[dict]:
    body = {"begin_date": day.isoformat(), "end_date": day.isoformat()}
    answer = wechat.call(account, gettext("the article statistics"), lambda client: client.post(DATACUBE + api, data=body))
    return answer.get("list") or []


def account_yesterday(account: ChannelAccount) -> date:
    return timezone.now().astimezone(ZoneInfo(account.timezone or "Asia/Shanghai")).date() - timedelta(days=1)


def article_stats_fetch(*, account: ChannelAccount, day: date) -> int:
    """Store one day's numbers of every article of the account; returns how many rows were written."""
    targets: dict[str, int] = {}
    for row in _post(account, "getarticletotal", day):
        details = row.get("details") or []
        if details:
            targets[str(row.get("msgid"))] = int(details[-1].get("target_user") or 0)
    written = 0
    for row in _post(account, "getarticlesummary", day):
        msgid = str(row.get("msgid") or "")
        if not msgid:
            continue
        ArticleDailyStat.objects.update_or_create(
            account=account, msgid=msgid, ref_date=day,
            defaults={
                "title": str(row.get("title") or "")[:128],
                "read_users": int(row.get("int_page_read_user") or 0), "read_count": int(row.get("int_page_read_count") or 0),
                "share_users": int(row.get("share_user") or 0), "share_count": int(row.get("share_count") or 0),
                "favourite_users": int(row.get("add_to_fav_user") or 0), "favourite_count": int(row.get("add_to_fav_count") or 0),
                "target_users": targets.get(msgid, 0),
            },
        )
        written += 1
    article_stats_stored.send(sender=ArticleDailyStat, account=account, day=day)
    return written
