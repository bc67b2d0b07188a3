"""Article statistics (图文分析数据接口,
https://developers.weixin.qq.com/doc/offiaccount/Analytics/Graphic_Analysis_Data_Interface.html).

`datacube/getarticlesummary` (a day's reads per article) and `datacube/getarticletotal` (the
totals per day since the send) take begin_date and end_date (YYYY-MM-DD): at most 1 day apart, the
end no later than yesterday. 61500 bad date format, 61501 date range error. Msgids are
"<msg_data_id>_<index>" of the send. The numbers are what the sandbox was told users did (control
call `article_reads`, which the audience simulator or a test drives), so they are consistent with
the simulated reads.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.content_store import content_store
from messaging.sandbox.handlers.materials import oa_only
from messaging.sandbox.state import ApiError

MAX_DAYS = {"getarticlesummary": 1, "getarticletotal": 1}
COUNTERS = ("int_page_read_user", "int_page_read_count", "ori_page_read_user", "ori_page_read_count",
            "share_user", "share_count", "add_to_fav_user", "add_to_fav_count")


def _dates(ctx: Ctx, api: str) -> list[str]:
    try:
        begin = date.fromisoformat(str(ctx.body.get("begin_date")))
        end = date.fromisoformat(str(ctx.body.get("end_date")))
    except ValueError:
        raise ApiError(61500, "date format error") from None
    yesterday = date.fromisoformat(time.strftime("%Y-%m-%d", time.localtime(ctx.state.now()))) - timedelta(days=1)
    if end < begin or (end - begin).days + 1 > MAX_DAYS[api] or end > yesterday:
        raise ApiError(61501, "date range error")
    return [(begin + timedelta(days=k)).isoformat() for k in range((end - begin).days + 1)]


def _titles(store, msgid: str) -> str:
    data_id, _, index = msgid.partition("_")
    for article in store.articles.values():
        if str(article["msg_data_id"]) == data_id:
            items = article["articles"]
            i = int(index or 1) - 1
            return items[i].get("title", "") if 0 <= i < len(items) else ""
    return ""


def getarticlesummary(ctx: Ctx) -> dict:
    oa_only(ctx)
    days = _dates(ctx, "getarticlesummary")
    store = content_store(ctx.app)
    rows = [{"ref_date": day, "msgid": msgid, "title": _titles(store, msgid), **{k: stats.get(k, 0) for k in COUNTERS}}
            for (msgid, day), stats in sorted(store.article_stats.items()) if day in days]
    return {"list": rows, "_no_errcode": True}


def getarticletotal(ctx: Ctx) -> dict:
    oa_only(ctx)
    days = _dates(ctx, "getarticletotal")
    store = content_store(ctx.app)
    out = []
    for msgid in sorted({m for m, _d in store.article_stats}):
        details = []
        totals = dict.fromkeys(COUNTERS, 0)
        for (m, day), stats in sorted(store.article_stats.items()):
            if m != msgid or day > days[-1]:
                continue
            for key in COUNTERS:
                totals[key] += stats.get(key, 0)
            details.append({"stat_date": day, "target_user": stats.get("target_user", 0), **totals})
        if details:
            out.append({"ref_date": days[0], "msgid": msgid, "title": _titles(store, msgid), "details": details})
    return {"list": out, "_no_errcode": True}


def record_reads(store, *, msgid: str, day: str, **counts: int) -> dict:
    stats = store.article_stats.setdefault((msgid, day), {})
    for key, value in counts.items():
        if key in COUNTERS or key == "target_user":
            stats[key] = stats.get(key, 0) + int(value)
    return stats


ROUTES = {
    "/datacube/getarticlesummary": getarticlesummary,
    "/datacube/getarticletotal": getarticletotal,
}
