"""WeChat's own customer-service (kf) accounts of a service account and their sessions with followers.

Pages (checked 2026-12, 客服账号管理 and 会话控制 of the service-account docs):
- 添加客服账号 https://developers.weixin.qq.com/doc/service/api/customer/servicermanage/api_addkfaccount
  `POST customservice/kfaccount/add {"kf_account", "nickname"}`: `kf_account` is `prefix@公众号微信号`,
  the prefix at most 10 characters of English letters, digits or underscores, the suffix the account's
  WeChat ID (at most 30 characters); `nickname` at most 16 characters; at most 100 kf accounts per
  account. Codes: 65400 API unavailable (the new customer service not enabled), 65403 illegal
  nickname, 65404 illegal kf account, 65405 too many accounts, 65406 the account exists.
- 修改客服账号 (api_updatekfaccount) `kfaccount/update {"kf_account", "nickname"}`: 65401 unknown
  account, 65403 illegal nickname.
- 删除客服账号 (api_delkfaccount) `kfaccount/del {"kf_account"}` (older clients, wechatpy among them,
  pass it in the query): 65401 unknown account.
- 设置客服账号的头像 (api_uploadkfheadimg) `kfaccount/uploadheadimg?kf_account=` with the image as the
  multipart field `media`, a jpg (640×640 recommended): 40005 not a jpg, 40009 empty file, 65401.
- 获取所有客服账号 (api_getkflist) `cgi-bin/customservice/getkflist` → `{"kf_list": [{kf_account,
  kf_nick, kf_id, kf_headimgurl, kf_wx | invite_wx, invite_expire_time, invite_status}]}`.
- 获取在线客服列表 (api_getonlinekflist) `cgi-bin/customservice/getonlinekflist` →
  `{"kf_online_list": [{kf_account, status (1 web online), kf_id, accepted_case}]}`.
- 创建会话 https://developers.weixin.qq.com/doc/service/api/customer/messctrl/api_createkfsession
  `kfsession/create {"kf_account", "openid"}`: the kf account must be bound to a WeChat user (65402)
  and online (65415); 65401 unknown account; 40003 invalid openid; an existing session with the same
  kf answers 0 (会话控制, Session_control.html); the customer with another kf: 65414.
- 关闭会话 (api_closesession) `kfsession/close {"kf_account", "openid"}`: 65413 no such session.
- 获取客户会话状态 (api_getkfsession) `kfsession/getsession?openid=` → `{"createtime", "kf_account"}`,
  kf_account empty when nobody serves the customer.
- 获取客服会话列表 (api_getkfsessionlist) `kfsession/getsessionlist?kf_account=` → `{"sessionlist":
  [{"createtime", "openid"}]}`.
- 获取未接入会话列表 (api_getwaitcase) `kfsession/getwaitcase` → `{"count", "waitcaselist":
  [{"latest_time", "openid"}]}`, at most 100 entries, in order of arrival.
- 会话状态通知事件 (https://developers.weixin.qq.com/doc/offiaccount/Customer_Service/Session_control.html):
  `kf_create_session` and `kf_close_session` carry `KfAccount`, `kf_switch_session` `FromKfAccount`
  and `ToKfAccount`; posted to the callback URL when a session opens, closes or moves.
[unverified] `CloseType` on kf_close_session is not on the pages above: the sandbox does not send it
(the product keeps it when WeChat does). Sending `message/custom/send` with `customservice.kf_account`
naming an unknown kf account answers 65401 here; the pages give no code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from messaging.sandbox.eventpost import Callback
from messaging.sandbox.events import oa_event_fields, render_xml
from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError, App

MAX_KF_ACCOUNTS = 100
PREFIX_RE = re.compile(r"^[A-Za-z0-9_]{1,10}$")
SUFFIX_CHARS = 30
NICKNAME_CHARS = 16
WAITCASE_LIST_MAX = 100


@dataclass
class KfStore:
    enabled: bool = True  # the new customer service is switched on (65400 otherwise)
    wechat_id: str = ""  # the account's WeChat ID: the suffix of every kf account
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # kf_account -> getkflist entry + online
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # openid -> {"kf_account", "createtime"}
    waiting: dict[str, int] = field(default_factory=dict)  # openid -> latest_time, in arrival order
    next_id: int = 1001


def kf_store(app: App) -> KfStore:
    if app.kf is None:
        app.kf = KfStore(wechat_id=app.original_id or app.app_id)
    return app.kf


def _store(ctx: Ctx) -> KfStore:
    if ctx.app.kind != "oa":
        raise ApiError(48001, "api unauthorized")
    store = kf_store(ctx.app)
    if not store.enabled:
        raise ApiError(65400, "please enable new custom service or wait for a while if you have enabled")
    return store


def _known(store: KfStore, kf_account: Any) -> dict[str, Any]:
    found = store.accounts.get(kf_account) if isinstance(kf_account, str) else None
    if found is None:
        raise ApiError(65401, "invalid custom service account")
    return found


def _check_nickname(nickname: Any) -> str:
    if not isinstance(nickname, str) or not nickname.strip() or len(nickname) > NICKNAME_CHARS:
        raise ApiError(65403, "illegal nickname")
    return nickname


def _check_kf_account(store: KfStore, kf_account: Any) -> str:
    if not isinstance(kf_account, str) or kf_account.count("@") != 1:
        raise ApiError(65404, "illegal custom service account")
    prefix, suffix = kf_account.split("@")
    if not PREFIX_RE.match(prefix) or len(suffix) > SUFFIX_CHARS or suffix != store.wechat_id:
        raise ApiError(65404, "illegal custom service account")
    return kf_account


def post_session_event(ctx_or_app: Ctx | App, poster: Any, openid: str, at: int, event: str, **fields: Any) -> str:
    """Post a session event (会话状态通知事件) to the app's callback URL, as WeChat does; returns its XML."""
    app = ctx_or_app.app if isinstance(ctx_or_app, Ctx) else ctx_or_app
    xml = render_xml({**oa_event_fields(app, openid, at), "Event": event, **fields})
    if app.callback_url and poster is not None:
        poster.enqueue(Callback.for_app(app, xml, openid))
    return xml


def kf_add(ctx: Ctx) -> dict:
    store = _store(ctx)
    kf_account = _check_kf_account(store, ctx.body.get("kf_account"))
    nickname = _check_nickname(ctx.body.get("nickname"))
    if kf_account in store.accounts:
        raise ApiError(65406, "custom service account exists")
    if len(store.accounts) >= MAX_KF_ACCOUNTS:
        raise ApiError(65405, "custom service account number reach limit")
    store.accounts[kf_account] = {
        "kf_account": kf_account, "kf_nick": nickname, "kf_id": str(store.next_id), "kf_headimgurl": "",
        "kf_wx": "", "online": 0,
    }
    store.next_id += 1
    return {}


def kf_update(ctx: Ctx) -> dict:
    store = _store(ctx)
    found = _known(store, ctx.body.get("kf_account"))
    found["kf_nick"] = _check_nickname(ctx.body.get("nickname"))
    return {}


def kf_delete(ctx: Ctx) -> dict:
    store = _store(ctx)
    kf_account = ctx.arg("kf_account")
    _known(store, kf_account)
    del store.accounts[kf_account]
    for openid in [o for o, s in store.sessions.items() if s["kf_account"] == kf_account]:
        del store.sessions[openid]
    return {}


def kf_upload_headimg(ctx: Ctx) -> dict:
    store = _store(ctx)
    found = _known(store, ctx.query.get("kf_account"))
    media = (ctx.extra.get("files") or {}).get("media")
    if media is None:
        raise ApiError(41005, "media data missing")
    if not media.data:
        raise ApiError(40009, "invalid image size")
    if media.content_type not in ("image/jpeg", "image/jpg") and not media.filename.lower().endswith((".jpg", ".jpeg")):
        raise ApiError(40005, "invalid file type")
    if not media.data.startswith(b"\xff\xd8"):
        raise ApiError(40005, "invalid file type")
    found["kf_headimgurl"] = f"http://mmbiz.qpic.cn/sandbox/kf/{found['kf_id']}/0"
    return {}


def kf_list(ctx: Ctx) -> dict:
    store = _store(ctx)
    keys = ("kf_account", "kf_nick", "kf_id", "kf_headimgurl")
    return {"kf_list": [{k: a[k] for k in keys} | ({"kf_wx": a["kf_wx"]} if a["kf_wx"] else {}) for a in store.accounts.values()]}


def _accepted(store: KfStore, kf_account: str) -> int:
    return sum(1 for s in store.sessions.values() if s["kf_account"] == kf_account)


def kf_online_list(ctx: Ctx) -> dict:
    store = _store(ctx)
    return {"kf_online_list": [
        {"kf_account": a["kf_account"], "status": a["online"], "kf_id": a["kf_id"], "accepted_case": _accepted(store, a["kf_account"])}
        for a in store.accounts.values() if a["online"]
    ]}


def session_create(ctx: Ctx) -> dict:
    store = _store(ctx)
    kf_account = ctx.body.get("kf_account")
    found = _known(store, kf_account)
    openid = ctx.body.get("openid")
    ctx.state.user(ctx.app, openid)  # 40003
    if not found["kf_wx"]:
        raise ApiError(65402, "the custom service account need to bind a wechat user")
    if not found["online"]:
        raise ApiError(65415, "the worker is not online")
    current = store.sessions.get(openid)
    if current is not None:
        if current["kf_account"] == kf_account:
            return {}  # 会话控制: "如果该客服和用户会话已存在，则直接返回0"
        raise ApiError(65414, "the customer is being served by another worker")
    at = int(ctx.state.now())
    store.sessions[openid] = {"kf_account": kf_account, "createtime": at}
    store.waiting.pop(openid, None)
    post_session_event(ctx, ctx.poster, openid, at, "kf_create_session", KfAccount=kf_account)
    return {}


def session_close(ctx: Ctx) -> dict:
    store = _store(ctx)
    kf_account = ctx.body.get("kf_account")
    _known(store, kf_account)
    openid = ctx.body.get("openid")
    ctx.state.user(ctx.app, openid)
    current = store.sessions.get(openid)
    if current is None or current["kf_account"] != kf_account:
        raise ApiError(65413, "no session for this customer")
    del store.sessions[openid]
    post_session_event(ctx, ctx.poster, openid, int(ctx.state.now()), "kf_close_session", KfAccount=kf_account)
    return {}


def session_get(ctx: Ctx) -> dict:
    store = _store(ctx)
    openid = ctx.query.get("openid")
    ctx.state.user(ctx.app, openid)
    current = store.sessions.get(openid)
    return {"createtime": current["createtime"], "kf_account": current["kf_account"]} if current else {"createtime": 0, "kf_account": ""}


def session_list(ctx: Ctx) -> dict:
    store = _store(ctx)
    kf_account = ctx.query.get("kf_account")
    _known(store, kf_account)
    return {"sessionlist": [{"createtime": s["createtime"], "openid": o} for o, s in store.sessions.items() if s["kf_account"] == kf_account]}


def wait_case(ctx: Ctx) -> dict:
    store = _store(ctx)
    waiting = [{"latest_time": at, "openid": o} for o, at in store.waiting.items()]
    return {"count": len(waiting), "waitcaselist": waiting[:WAITCASE_LIST_MAX]}


ROUTES = {
    "/customservice/kfaccount/add": kf_add,
    "/customservice/kfaccount/update": kf_update,
    "/customservice/kfaccount/del": kf_delete,
    "/customservice/kfaccount/uploadheadimg": kf_upload_headimg,
    "/cgi-bin/customservice/getkflist": kf_list,
    "/cgi-bin/customservice/getonlinekflist": kf_online_list,
    "/customservice/kfsession/create": session_create,
    "/customservice/kfsession/close": session_close,
    "/customservice/kfsession/getsession": session_get,
    "/customservice/kfsession/getsessionlist": session_list,
    "/customservice/kfsession/getwaitcase": wait_case,
}
