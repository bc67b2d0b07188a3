"""Drafts (草稿箱) and publishing (发布能力), with the PUBLISHJOBFINISH event.

Pages:
- 新建草稿 https://developers.weixin.qq.com/doc/offiaccount/Draft_Box/Add_draft.html — 1 to 8
  articles; title ≤32 characters, author ≤16, digest ≤128, content under 20,000 characters and
  1 MB; thumb_media_id a permanent material (40007 otherwise).
- 获取草稿 / 修改草稿 https://developers.weixin.qq.com/doc/offiaccount/Draft_Box/Get_draft.html,
  https://developers.weixin.qq.com/doc/offiaccount/Draft_Box/Update_draft.html — media_id + index.
- 发布接口 https://developers.weixin.qq.com/doc/offiaccount/Publish/Publish.html — freepublish/submit
  answers publish_id and msg_data_id; the result comes as the PUBLISHJOBFINISH event
  (https://developers.weixin.qq.com/doc/offiaccount/Publish/Callback_on_finish.html) with
  publish_status 0 success, 1 publishing, 2 originality failure, 3 failure, 4 rejected by review.
- 发布状态轮询 https://developers.weixin.qq.com/doc/offiaccount/Publish/Get_status.html — freepublish/get.
- 全局返回码: 40007 invalid media_id, 45002 content over the limit, 45003 title over the limit,
  45004 description (digest) over the limit, 45110 author over the limit, 53503 the draft did not
  pass the publish check.
"""

from __future__ import annotations

import secrets

from messaging.sandbox.eventpost import Callback
from messaging.sandbox.events import oa_event_fields, render_xml
from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.content_store import Draft, PublishJob, content_store
from messaging.sandbox.handlers.materials import oa_only
from messaging.sandbox.state import ApiError, App

FIELD_LIMITS = {"title": (32, 45003), "author": (16, 45110), "digest": (128, 45004), "content": (20_000, 45002)}
CONTENT_MAX_BYTES = 1024 * 1024
PUBLISH_SUCCESS = 0


def _check_article(ctx: Ctx, article: dict) -> dict:
    if not isinstance(article, dict):
        raise ApiError(47001, "data format error")
    for name in ("title", "content"):
        if not article.get(name):
            raise ApiError(47003, f"argument invalid! {name} missing")
    for name, (limit, errcode) in FIELD_LIMITS.items():
        if len(str(article.get(name) or "")) > limit:
            raise ApiError(errcode, f"{name} size out of limit")
    if len(str(article["content"]).encode()) >= CONTENT_MAX_BYTES:
        raise ApiError(45002, "content size out of limit")
    thumb = content_store(ctx.app).media.get(article.get("thumb_media_id") or "")
    if thumb is None or not thumb.permanent or thumb.kind not in ("image", "thumb"):
        raise ApiError(40007, "invalid media_id")
    return {**article, "url": "", "thumb_url": thumb.url}


def draft_add(ctx: Ctx) -> dict:
    oa_only(ctx)
    articles = ctx.body.get("articles")
    if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
        raise ApiError(47003, "argument invalid! articles size")
    checked = [_check_article(ctx, a) for a in articles]
    now = ctx.state.now()
    media_id = secrets.token_urlsafe(32)
    content_store(ctx.app).drafts[media_id] = Draft(media_id=media_id, articles=checked, created_at=now, updated_at=now)
    return {"media_id": media_id, "_no_errcode": True}


def _draft(ctx: Ctx) -> Draft:
    draft = content_store(ctx.app).drafts.get(ctx.body.get("media_id") or "")
    if draft is None:
        raise ApiError(40007, "invalid media_id")
    return draft


def draft_get(ctx: Ctx) -> dict:
    draft = _draft(ctx)
    return {"news_item": draft.articles, "_no_errcode": True}


def draft_update(ctx: Ctx) -> dict:
    draft = _draft(ctx)
    index = ctx.body.get("index")
    if not isinstance(index, int) or not 0 <= index < len(draft.articles):
        raise ApiError(47003, "argument invalid! index")
    draft.articles[index] = _check_article(ctx, ctx.body.get("articles"))
    draft.updated_at = ctx.state.now()
    return {}


def draft_delete(ctx: Ctx) -> dict:
    draft = _draft(ctx)
    del content_store(ctx.app).drafts[draft.media_id]
    return {}


def draft_count(ctx: Ctx) -> dict:
    return {"total_count": len(content_store(ctx.app).drafts), "_no_errcode": True}


def publish_event_xml(app: App, job: PublishJob, at: int) -> str:
    info: dict = {"publish_id": job.publish_id, "publish_status": job.status}
    if job.status == PUBLISH_SUCCESS:
        info["article_id"] = job.article_id
        info["article_detail"] = {
            "count": len(job.article_urls),
            "item": [{"idx": i + 1, "article_url": url} for i, url in enumerate(job.article_urls)],
        }
    else:
        info["fail_idx"] = job.fail_idx or [1]
    # The event comes from the account's owner account (the doc's sample: an openid).
    return render_xml({**oa_event_fields(app, "mphelper", at), "Event": "PUBLISHJOBFINISH", "PublishEventInfo": info})


def freepublish_submit(ctx: Ctx) -> dict:
    oa_only(ctx)
    state, app = ctx.state, ctx.app
    store = content_store(app)
    draft = _draft(ctx)
    publish_id = 2_247_000_000 + store.next_id()
    job = PublishJob(publish_id=publish_id, media_id=draft.media_id, status=store.publish_outcome, created_at=state.now())
    if job.status == PUBLISH_SUCCESS:
        job.article_id = secrets.token_urlsafe(24)
        msg_data_id = 2_247_483_000 + publish_id % 1000
        job.article_urls = [f"http://mp.weixin.qq.com/s?__biz={app.app_id}&mid={msg_data_id}&idx={i + 1}" for i in range(len(draft.articles))]
        store.articles[job.article_id] = {"publish_id": publish_id, "msg_data_id": msg_data_id, "articles": list(draft.articles),
                                          "urls": list(job.article_urls), "published_at": state.now()}
        # The draft keeps its media_id: a mass send of type mpnews names it [unverified: whether
        # WeChat takes a published draft's media_id for mpnews; the product sends it so].
    else:
        job.fail_idx = [1]
    store.publish_jobs[publish_id] = job
    if app.auto_report and app.callback_url:
        ctx.poster.enqueue(Callback.for_app(app, publish_event_xml(app, job, int(state.now())), "mphelper"))
    return {"publish_id": str(publish_id), "msg_data_id": str(publish_id)}


def freepublish_get(ctx: Ctx) -> dict:
    try:
        job = content_store(ctx.app).publish_jobs[int(ctx.body.get("publish_id"))]
    except (KeyError, TypeError, ValueError):
        raise ApiError(40007, "invalid publish_id") from None
    answer: dict = {"publish_id": str(job.publish_id), "publish_status": job.status, "article_id": job.article_id}
    if job.status == PUBLISH_SUCCESS:
        answer["article_detail"] = {"count": len(job.article_urls),
                                    "item": [{"idx": i + 1, "article_url": u} for i, u in enumerate(job.article_urls)]}
    answer["fail_idx"] = job.fail_idx
    return answer


def freepublish_batchget(ctx: Ctx) -> dict:
    offset, count = ctx.body.get("offset", 0), ctx.body.get("count", 20)
    if not isinstance(offset, int) or not isinstance(count, int) or offset < 0 or not 1 <= count <= 20:
        raise ApiError(47003, "argument invalid! offset or count")
    rows = list(content_store(ctx.app).articles.items())
    page = rows[offset : offset + count]
    items = [{"article_id": aid, "content": {"news_item": a["articles"]}, "update_time": int(a["published_at"])} for aid, a in page]
    return {"total_count": len(rows), "item_count": len(items), "item": items, "_no_errcode": True}


ROUTES = {
    "/cgi-bin/draft/add": draft_add,
    "/cgi-bin/draft/get": draft_get,
    "/cgi-bin/draft/update": draft_update,
    "/cgi-bin/draft/delete": draft_delete,
    "/cgi-bin/draft/count": draft_count,
    "/cgi-bin/freepublish/submit": freepublish_submit,
    "/cgi-bin/freepublish/get": freepublish_get,
    "/cgi-bin/freepublish/batchget": freepublish_batchget,
}
