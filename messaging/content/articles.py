"""Article drafts and publishing: draft/add, draft/update, draft/get, freepublish/submit, the
PUBLISHJOBFINISH event and freepublish/get (新建草稿 / 发布能力 pages, cited in the sandbox's
messaging/sandbox/handlers/articles.py, whose limits are checked here before the call).

A draft's media_id is what a mass send of type mpnews carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import ChannelAccount
from messaging.content import wechat
from messaging.content.models import Article, ArticleState
from messaging.errors import MessagingError
from scrm.errors import ApplicationError

MAX_ARTICLES = 8
# field -> (max characters, label) as 新建草稿 documents them.
FIELD_LIMITS = {"title": 32, "author": 16, "digest": 128, "content": 20_000, "content_source_url": 1024}
CONTENT_MAX_BYTES = 1024 * 1024
ITEM_FIELDS = ("title", "author", "digest", "content", "content_source_url", "thumb_media_id",
               "need_open_comment", "only_fans_can_comment")
# freepublish publish_status: 0 success, 1 publishing, 2 originality check failed, 3 failed,
# 4 rejected by review, 5 all deleted by the user after success, 6 all banned after success.
PUBLISH_SUCCESS, PUBLISH_RUNNING = 0, 1


def article_items_clean(items: Any) -> list[dict[str, Any]]:
    """The draft's articles as draft/add takes them; a 400 naming the first problem."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ARTICLES:
        raise ApplicationError(gettext("A draft has 1 to 8 articles."), code=MessagingError.ARTICLE_INVALID)
    clean = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApplicationError(code=MessagingError.ARTICLE_INVALID, detail={"index": index})
        row = {k: item[k] for k in ITEM_FIELDS if k in item}
        for name in ("title", "content", "thumb_media_id"):
            if not str(row.get(name) or "").strip():
                raise ApplicationError(gettext("Article %(n)d needs a %(field)s.") % {"n": index + 1, "field": name},
                                       code=MessagingError.ARTICLE_INVALID, detail={"index": index, "field": name})
        for name, limit in FIELD_LIMITS.items():
            if len(str(row.get(name) or "")) > limit:
                raise ApplicationError(
                    gettext("Article %(n)d: %(field)s is longer than %(limit)d characters.") % {"n": index + 1, "field": name, "limit": limit},
                    code=MessagingError.ARTICLE_INVALID, detail={"index": index, "field": name, "limit": limit},
                )
        if len(row["content"].encode()) >= CONTENT_MAX_BYTES:
            raise ApplicationError(gettext("Article %(n)d: the content must be under 1 MB.") % {"n": index + 1},
                                   code=MessagingError.ARTICLE_INVALID, detail={"index": index, "field": "content"})
        for flag in ("need_open_comment", "only_fans_can_comment"):
            row[flag] = 1 if row.get(flag) else 0
        clean.append(row)
    return clean


def article_draft_create(*, account: ChannelAccount, items: list[dict[str, Any]]) -> Article:
    """Create the draft on WeChat (draft/add) and keep it with its media_id."""
    wechat.service_account_check(account)
    clean = article_items_clean(items)
    answer = wechat.post(account, gettext("the draft"), "draft/add", {"articles": clean})
    return Article.objects.create(account=account, items=clean, media_id=answer["media_id"])


def _editable(article: Article) -> None:
    if article.state != ArticleState.DRAFT:
        raise ApplicationError(code=MessagingError.ARTICLE_NOT_EDITABLE, detail={"article": article.pk, "state": article.state})


def article_draft_update(*, article: Article, index: int, item: dict[str, Any]) -> Article:
    """Replace one article of the draft (draft/update)."""
    _editable(article)
    if not isinstance(index, int) or not 0 <= index < len(article.items):
        raise ApplicationError(code=MessagingError.ARTICLE_INVALID, detail={"index": index})
    [clean] = article_items_clean([item])
    wechat.post(article.account, gettext("the draft"), "draft/update", {"media_id": article.media_id, "index": index, "articles": clean})
    items = list(article.items)
    items[index] = clean
    Article.objects.filter(pk=article.pk).update(items=items, updated_at=timezone.now())
    article.items = items
    return article


def article_draft_fetch(*, article: Article) -> Article:
    """Read the draft back from WeChat (draft/get): edits made in WeChat's own editor come back."""
    answer = wechat.post(article.account, gettext("the draft"), "draft/get", {"media_id": article.media_id})
    items = [{k: item[k] for k in ITEM_FIELDS if k in item} for item in answer.get("news_item") or []]
    if items:
        Article.objects.filter(pk=article.pk).update(items=items, updated_at=timezone.now())
        article.items = items
    return article


def article_publish(*, article: Article) -> Article:
    """Submit the draft for publishing (freepublish/submit); the result comes as PUBLISHJOBFINISH."""
    _editable(article)
    answer = wechat.post(article.account, gettext("the publishing"), "freepublish/submit", {"media_id": article.media_id})
    updated = Article.objects.filter(pk=article.pk, state=ArticleState.DRAFT).update(
        state=ArticleState.PUBLISHING, publish_id=str(answer["publish_id"]), updated_at=timezone.now(),
    )
    article.refresh_from_db()
    if not updated:
        raise ApplicationError(code=MessagingError.ARTICLE_NOT_EDITABLE, detail={"article": article.pk, "state": article.state})
    return article


@dataclass(frozen=True)
class PublishResult:
    account_id: int
    publish_id: str
    status: int
    article_id: str = ""
    article_urls: tuple[str, ...] = ()
    fail_idx: tuple[int, ...] = ()


@transaction.atomic
def article_publish_finished(*, result: PublishResult) -> bool:
    """Record a publish job's outcome (from the event or freepublish/get); a repeat changes nothing.
    Returns whether a row changed."""
    if result.status == PUBLISH_RUNNING:
        return False
    state = ArticleState.PUBLISHED if result.status == PUBLISH_SUCCESS else ArticleState.FAILED
    changed = Article.objects.filter(
        account_id=result.account_id, publish_id=result.publish_id, state=ArticleState.PUBLISHING,
    ).update(
        state=state, publish_status=result.status, article_id=result.article_id, article_urls=list(result.article_urls),
        fail_idx=list(result.fail_idx), published_at=timezone.now() if state == ArticleState.PUBLISHED else None,
        updated_at=timezone.now(),
    )
    return bool(changed)


def publish_result_parse(account_id: int, info: dict[str, Any]) -> PublishResult:
    """A PublishResult from the event's PublishEventInfo or freepublish/get's answer (same names)."""
    detail = info.get("article_detail") or {}
    items = detail.get("item") or []
    if isinstance(items, dict):
        items = [items]
    urls = tuple(str(i.get("article_url", "")) for i in sorted(items, key=lambda i: int(i.get("idx") or 0)) if isinstance(i, dict))
    fail = info.get("fail_idx") or []
    if not isinstance(fail, list):
        fail = [fail]
    return PublishResult(
        account_id=account_id, publish_id=str(info.get("publish_id", "")), status=int(info.get("publish_status", 3)),
        article_id=str(info.get("article_id") or ""), article_urls=urls, fail_idx=tuple(int(i) for i in fail if str(i).isdigit()),
    )


def article_publish_refresh(*, article: Article) -> Article:
    """Ask WeChat for the job's state (freepublish/get): for a PUBLISHJOBFINISH that never came."""
    if article.state != ArticleState.PUBLISHING:
        return article
    answer = wechat.post(article.account, gettext("the publishing"), "freepublish/get", {"publish_id": article.publish_id})
    article_publish_finished(result=publish_result_parse(article.account_id, answer))
    article.refresh_from_db()
    return article
