"""Article drafts and publishing through the sandbox: draft/add, draft/update, draft/get,
freepublish/submit, the PUBLISHJOBFINISH event through the callback path, and freepublish/get."""

from __future__ import annotations

import pytest

from messaging.content.articles import (
    article_draft_create,
    article_draft_fetch,
    article_draft_update,
    article_publish,
    article_publish_refresh,
)
from messaging.content.materials import material_upload
from messaging.content.models import Article, ArticleState
from messaging.sandbox.handlers.articles import publish_event_xml
from messaging.sandbox.handlers.content_store import content_store
from scrm.errors import ApplicationError

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 200


def draft(account, **item):
    cover = material_upload(account=account, kind="image", name="cover.jpg", data=JPEG)
    body = {"title": "春季新品 限时 8 折", "content": "<p>hello</p>", "thumb_media_id": cover.media_id, "digest": "新品上市", **item}
    return article_draft_create(account=account, items=[body])


def publish_event(sandbox, account, article) -> str:
    app = sandbox.server.state.apps[account.app_id]
    job = content_store(app).publish_jobs[int(article.publish_id)]
    return publish_event_xml(app, job, 1_700_000_000)


@pytest.mark.django_db(transaction=True)
def test_a_draft_is_created_updated_read_back_and_published_through_the_event(sandbox_oa, sandbox, deliver):
    article = draft(sandbox_oa)
    assert article.media_id and article.state == ArticleState.DRAFT
    assert sandbox.control.call("content", app_id=sandbox_oa.app_id)["drafts"][article.media_id][0]["title"] == "春季新品 限时 8 折"

    article_draft_update(article=article, index=0, item={**article.items[0], "title": "春季新品 今天 8 折"})
    assert sandbox.control.call("content", app_id=sandbox_oa.app_id)["drafts"][article.media_id][0]["title"] == "春季新品 今天 8 折"
    Article.objects.filter(pk=article.pk).update(items=[])
    assert article_draft_fetch(article=Article.objects.get(pk=article.pk)).items[0]["title"] == "春季新品 今天 8 折"

    article = article_publish(article=Article.objects.get(pk=article.pk))
    assert article.state == ArticleState.PUBLISHING and article.publish_id
    xml = publish_event(sandbox, sandbox_oa, article)
    deliver(sandbox_oa, xml, encrypted=True)
    deliver(sandbox_oa, xml, encrypted=True)  # WeChat's retry changes nothing
    article.refresh_from_db()
    assert article.state == ArticleState.PUBLISHED and article.publish_status == 0
    assert article.article_id and article.article_urls[0].startswith("http://mp.weixin.qq.com/s?")
    with pytest.raises(ApplicationError) as caught:
        article_publish(article=article)
    assert caught.value.code == "article_not_editable"


@pytest.mark.django_db(transaction=True)
def test_a_failed_publish_is_recorded_by_polling_when_no_event_came(sandbox_oa, sandbox):
    sandbox.control.call("set_publish_outcome", app_id=sandbox_oa.app_id, status=4)
    article = article_publish(article=draft(sandbox_oa))
    article = article_publish_refresh(article=article)
    assert (article.state, article.publish_status, article.fail_idx) == (ArticleState.FAILED, 4, [1])


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("item", "field"), [
    ({"title": "标" * 33}, "title"),
    ({"author": "作" * 17}, "author"),
    ({"digest": "摘" * 129}, "digest"),
    ({"content": ""}, "content"),
])
def test_articles_over_wechats_limits_are_refused_before_the_call(sandbox_oa, sandbox, item, field):
    with pytest.raises(ApplicationError) as caught:
        draft(sandbox_oa, **item)
    assert (caught.value.code, caught.value.detail["field"]) == ("article_invalid", field)
    assert sandbox.control.requests(path="/cgi-bin/draft/add") == []


@pytest.mark.parametrize(("article", "errcode"), [
    ({"title": "标" * 33, "content": "x"}, 45003),
    ({"title": "t", "content": "x", "author": "作" * 17}, 45110),
    ({"title": "t", "content": "x", "digest": "摘" * 129}, 45004),
    ({"title": "t", "content": "x" * 20_001}, 45002),
    ({"title": "t", "content": "x", "thumb_media_id": "unknown"}, 40007),
])
def test_the_sandbox_refuses_drafts_over_the_documented_limits(sandbox, article, errcode):
    from wechatpy.exceptions import WeChatClientException

    sandbox.control.register_app(kind="oa", app_id="wxdrafts", secret="s")
    client = sandbox.wechat_client("wxdrafts", "s")
    cover = client.post("material/add_material", params={"type": "thumb"}, files={"media": ("c.jpg", JPEG, "image/jpeg")})
    with pytest.raises(WeChatClientException) as caught:
        client.post("draft/add", data={"articles": [{"thumb_media_id": cover["media_id"], **article}]})
    assert caught.value.errcode == errcode
