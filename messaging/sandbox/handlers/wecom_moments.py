"""Customer moments (客户朋友圈) as WeCom does them.

企业发表内容到客户的朋友圈 (https://developer.work.weixin.qq.com/document/path/95094; the same text for
service providers at /96351): `externalcontact/add_moment_task` answers a `jobid` (an asynchronous job,
valid 24 hours); `visible_range.sender_list.user_list` (≤ 100,000 staff members) and `department_list`
name who publishes (omitted: every staff member in the app's visible range);
`external_contact_list.tag_list` limits the customers who see it to corp tags; `text.content` at most
2000 characters (4000 bytes), else 'invalid text size'; `attachments` may not be empty together with
the text: at most 9 images, or 1 video, or 1 link, one kind only ('invalid attachments msgtype' /
'invalid attachments size'); an image or video by `media_id`, a link by `title`, `url` and the
picture's `media_id`. Unknown senders and tags are no error: the job result lists them in
`invalid_sender_list` / `invalid_external_contact_list`. `get_moment_task_result` (GET, `jobid`):
status 1 started, 2 running, 3 done with `result` {errcode, moment_id, invalid lists}.

获取客户朋友圈全部的发表记录 (https://developer.work.weixin.qq.com/document/path/93333):
`get_moment_list` (start/end ≤ 30 days apart, limit ≤ 20), `get_moment_task` (per staff member
publish_status 0 not published / 1 published; limit ≤ 1000), `get_moment_customer_list` (the chosen
visible customers; limit ≤ 1000), `get_moment_send_result` (who can see it after publishing;
limit ≤ 5000), `get_moment_comments` (`comment_list` and `like_list` of one staff member's moment,
entries {external_userid | userid, create_time}).

The pages give messages without codes for the text, attachment and jobid checks: the sandbox answers
40058 (missing or bad argument, 全局错误码 /90313) with WeCom's message [unverified]; an unknown
moment_id also answers 40058 [unverified].

Media: page 95094 asks for the images', the video's and the link picture's `media_id` from 上传附件资源
(`media/upload_attachment` with attachment_type=1, https://developer.work.weixin.qq.com/document/path/95098;
handlers/media.py). A media_id of anything else — a temporary media_id from `media/upload`, one of
attachment_type 2, an expired or unknown one — is refused with 40007 (不合法的media_id参数): the
pages name no code of their own for it [unverified].
"""

from __future__ import annotations

import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.media import media_id_check
from messaging.sandbox.state import ApiError, App

TEXT_MAX_CHARS = 2000
TEXT_MAX_BYTES = 4000
MAX_IMAGES = 9
MAX_SENDERS = 100_000
JOB_SECONDS = 24 * 3600
LIST_WINDOW_SECONDS = 30 * 24 * 3600
MOMENT_ATTACHMENT = 1  # upload_attachment's attachment_type for 朋友圈
LIMITS = {"list": 20, "task": 1000, "customers": 1000, "send_result": 5000}


def _attachments(ctx: Ctx, items) -> None:
    if items in (None, []):
        return
    if not isinstance(items, list):
        raise ApiError(40058, "invalid attachments")
    kinds = {item.get("msgtype") if isinstance(item, dict) else None for item in items}
    if len(kinds) != 1 or not kinds <= {"image", "video", "link"}:
        raise ApiError(40058, "invalid attachments msgtype")
    kind = kinds.pop()
    if len(items) > (MAX_IMAGES if kind == "image" else 1):
        raise ApiError(40058, "invalid attachments size")
    for item in items:
        body = item.get(kind)
        if not isinstance(body, dict):
            raise ApiError(40058, f"invalid {kind}")
        if kind == "link":
            if not body.get("title") or not str(body.get("url", "")).startswith(("http://", "https://")):
                raise ApiError(40058, "invalid link")
            if body.get("media_id"):
                media_id_check(ctx, body["media_id"], media_type="image", attachment_type=MOMENT_ATTACHMENT)
        else:
            media_id_check(ctx, body.get("media_id"), media_type=kind, attachment_type=MOMENT_ATTACHMENT)


def add_moment_task(ctx: Ctx) -> dict:
    app, body, now = ctx.app, ctx.body, ctx.state.now()
    content = (body.get("text") or {}).get("content") or ""
    if not isinstance(content, str) or len(content) > TEXT_MAX_CHARS or len(content.encode()) > TEXT_MAX_BYTES:
        raise ApiError(40058, "invalid text size")
    attachments = body.get("attachments") or []
    if not content and not attachments:
        raise ApiError(40058, "text and attachments are both empty")
    _attachments(ctx, attachments)
    visible = body.get("visible_range") or {}
    senders = (visible.get("sender_list") or {}).get("user_list")
    departments = (visible.get("sender_list") or {}).get("department_list") or []
    tags = (visible.get("external_contact_list") or {}).get("tag_list") or []
    if senders is not None and (not isinstance(senders, list) or len(senders) > MAX_SENDERS):
        raise ApiError(40058, f"sender_list.user_list holds at most {MAX_SENDERS} userids")
    if not isinstance(tags, list) or not isinstance(departments, list):
        raise ApiError(40058, "invalid visible_range")
    if senders is None and not departments:
        senders = list(app.staff)
    senders = list(dict.fromkeys(senders or []))
    known_tags = {t["id"] for g in app.corp_tag_groups.values() for t in g["tag"]}
    jobid = "job" + secrets.token_hex(16)
    moment_id = "mom" + secrets.token_hex(16)
    valid_senders = [s for s in senders if s in app.staff]
    valid_tags = [t for t in tags if t in known_tags]
    app.moment_jobs[jobid] = {
        "created_at": now, "polls": 0, "moment_id": moment_id,
        "result": {
            "errcode": 0, "errmsg": "ok", "moment_id": moment_id,
            "invalid_sender_list": {"user_list": [s for s in senders if s not in app.staff], "department_list": list(departments)},
            "invalid_external_contact_list": {"tag_list": [t for t in tags if t not in known_tags]},
        },
    }
    app.moments[moment_id] = {
        "moment_id": moment_id, "creator": "", "create_time": int(now), "create_type": 0,
        "visible_type": 0 if tags else 1, "text": {"content": content}, "attachments": attachments,
        "tags": valid_tags, "senders": {s: {"published": False, "visible": _visible(app, s, valid_tags if tags else None)}
                                        for s in valid_senders},
        "comments": {}, "likes": {},
    }
    return {"jobid": jobid}


def _visible(app: App, staff: str, tags: list[str] | None) -> list[str]:
    """The staff member's customers the moment is for: all, or those with one of the corp tags."""
    rows = []
    for external, relations in app.follows.items():
        info = relations.get(staff)
        if info is None:
            continue
        if tags is not None and not {t["tag_id"] for t in info["tags"]} & set(tags):
            continue
        rows.append(external)
    return rows


def get_moment_task_result(ctx: Ctx) -> dict:
    job = ctx.app.moment_jobs.get(ctx.arg("jobid") or "")
    if job is None or ctx.state.now() - job["created_at"] > JOB_SECONDS:
        raise ApiError(40058, "invalid jobid")
    # The job runs in the background: started, then running, then done (one step per query).
    job["polls"] += 1
    status = min(job["polls"], 3)
    answer = {"status": status, "type": "add_moment_task"}
    if status == 3:
        answer["result"] = dict(job["result"])
    return answer


def _moment(ctx: Ctx) -> dict:
    moment = ctx.app.moments.get(ctx.body.get("moment_id") or "")
    if moment is None:
        raise ApiError(40058, "invalid moment_id")
    return moment


def _page(ctx: Ctx, rows: list, kind: str) -> tuple[list, str]:
    try:
        limit = int(ctx.body.get("limit") or LIMITS[kind])
        start = int(ctx.body.get("cursor") or 0)
    except (TypeError, ValueError):
        raise ApiError(40058, "invalid cursor or limit") from None
    limit = LIMITS[kind] if limit <= 0 or limit > LIMITS[kind] else limit
    return rows[start:start + limit], (str(start + limit) if start + limit < len(rows) else "")


def get_moment_list(ctx: Ctx) -> dict:
    body = ctx.body
    try:
        start, end = int(body["start_time"]), int(body["end_time"])
    except (KeyError, TypeError, ValueError):
        raise ApiError(40058, "start_time and end_time are required") from None
    if end < start or end - start > LIST_WINDOW_SECONDS:
        raise ApiError(40058, "the time range is at most 30 days")
    rows = [
        {k: m[k] for k in ("moment_id", "creator", "create_time", "create_type", "visible_type", "text")}
        for m in ctx.app.moments.values()
        if start < m["create_time"] < end and int(body.get("filter_type", 2)) in (0, 2)
    ]
    page, cursor = _page(ctx, rows, "list")
    return {"next_cursor": cursor, "moment_list": page}


def get_moment_task(ctx: Ctx) -> dict:
    moment = _moment(ctx)
    rows = [{"userid": s, "publish_status": 1 if v["published"] else 0} for s, v in moment["senders"].items()]
    page, cursor = _page(ctx, rows, "task")
    return {"next_cursor": cursor, "task_list": page}


def _sender(ctx: Ctx, moment: dict) -> dict:
    userid = ctx.body.get("userid")
    if userid not in moment["senders"]:
        raise ApiError(60111, "invalid userid")
    return moment["senders"][userid]


def get_moment_customer_list(ctx: Ctx) -> dict:
    moment = _moment(ctx)
    sender = _sender(ctx, moment)
    rows = [{"userid": ctx.body["userid"], "external_userid": e} for e in sender["visible"]]
    page, cursor = _page(ctx, rows, "customers")
    return {"next_cursor": cursor, "customer_list": page}


def get_moment_send_result(ctx: Ctx) -> dict:
    moment = _moment(ctx)
    sender = _sender(ctx, moment)
    rows = [{"external_userid": e} for e in sender["visible"]] if sender["published"] else []
    page, cursor = _page(ctx, rows, "send_result")
    return {"next_cursor": cursor, "customer_list": page}


def get_moment_comments(ctx: Ctx) -> dict:
    moment = _moment(ctx)
    userid = ctx.body.get("userid")
    _sender(ctx, moment)
    return {
        "comment_list": [dict(c) for c in moment["comments"].get(userid, [])],
        "like_list": [dict(like) for like in moment["likes"].get(userid, [])],
    }


# --- what staff members and customers do (the control API) --------------------------------------


def moment_publish(app: App, moment_id: str, userid: str) -> dict:
    """The staff member publishes the moment in the WeCom client."""
    moment = app.moments.get(moment_id)
    if moment is None or userid not in moment["senders"]:
        raise ValueError("unknown moment or staff member not asked to publish it")
    moment["senders"][userid]["published"] = True
    return {"moment_id": moment_id, "userid": userid, "visible": len(moment["senders"][userid]["visible"])}


def moment_interact(app: App, moment_id: str, userid: str, external_userid: str, *, kind: str, at: int) -> dict:
    """A customer who sees the staff member's published moment comments on it or likes it (a like
    once; a second like is no change)."""
    moment = app.moments.get(moment_id)
    sender = (moment or {}).get("senders", {}).get(userid)
    if sender is None or not sender["published"] or external_userid not in sender["visible"]:
        raise ValueError("the customer cannot see this staff member's moment")
    if kind == "like":
        likes = moment["likes"].setdefault(userid, [])
        if not any(like["external_userid"] == external_userid for like in likes):
            likes.append({"external_userid": external_userid, "create_time": at})
    elif kind == "comment":
        moment["comments"].setdefault(userid, []).append({"external_userid": external_userid, "create_time": at})
    else:
        raise ValueError("kind must be comment or like")
    return {"moment_id": moment_id, "userid": userid, "external_userid": external_userid, "kind": kind}


ROUTES = {
    "/cgi-bin/externalcontact/add_moment_task": add_moment_task,
    "/cgi-bin/externalcontact/get_moment_task_result": get_moment_task_result,
    "/cgi-bin/externalcontact/get_moment_list": get_moment_list,
    "/cgi-bin/externalcontact/get_moment_task": get_moment_task,
    "/cgi-bin/externalcontact/get_moment_customer_list": get_moment_customer_list,
    "/cgi-bin/externalcontact/get_moment_send_result": get_moment_send_result,
    "/cgi-bin/externalcontact/get_moment_comments": get_moment_comments,
}
