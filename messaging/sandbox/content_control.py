"""Control calls for content: the outcome of the next publish jobs, and what the sandbox holds."""

from __future__ import annotations

from typing import Any

from messaging.sandbox.handlers.content_store import content_store
from messaging.sandbox.handlers.datacube import record_reads


def set_publish_outcome(server, params: dict) -> dict:
    """publish_status of the following freepublish/submit jobs (0 success, 2–4 failures)."""
    app = server.state.apps[params["app_id"]]
    status = int(params.get("status", 0))
    if status not in (0, 2, 3, 4):
        raise ValueError("status is 0, 2, 3 or 4")
    content_store(app).publish_outcome = status
    return {"status": status}


def content(server, params: dict) -> dict:
    app = server.state.apps[params["app_id"]]
    store = content_store(app)
    return {
        "materials": [{"media_id": m.media_id, "kind": m.kind, "permanent": m.permanent, "filename": m.filename}
                      for m in store.media.values()],
        "drafts": {k: d.articles for k, d in store.drafts.items()},
        "publish_jobs": {str(k): {"status": j.status, "media_id": j.media_id, "article_id": j.article_id}
                         for k, j in store.publish_jobs.items()},
        "articles": {k: {"msg_data_id": a["msg_data_id"], "titles": [i.get("title") for i in a["articles"]]}
                     for k, a in store.articles.items()},
    }


def article_reads(server, params: dict) -> dict:
    """What users did with a published article on a day: msgid "<msg_data_id>_<index>", day, and
    counters (int_page_read_user, int_page_read_count, share_user, add_to_fav_user, target_user …)."""
    app = server.state.apps[params["app_id"]]
    counts = {k: v for k, v in params.items() if k not in ("app_id", "msgid", "day")}
    return record_reads(content_store(app), msgid=str(params["msgid"]), day=str(params["day"]), **counts)


ROUTES: dict[str, Any] = {"set_publish_outcome": set_publish_outcome, "content": content, "article_reads": article_reads}
