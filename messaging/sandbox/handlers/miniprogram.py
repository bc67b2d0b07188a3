"""Mini-program: jscode2session (codes issued over the control API, each usable once) and subscribe/send."""

from __future__ import annotations

import hashlib
import secrets

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.official import consume_consent
from messaging.sandbox.state import ApiError, User


def jscode2session(ctx: Ctx) -> dict:
    app = ctx.state.authenticate(ctx.query.get("appid", ""), ctx.query.get("secret", ""), kind="miniprogram")
    ctx.app = app
    if ctx.query.get("grant_type", "authorization_code") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    code = ctx.query.get("js_code", "")
    entry = app.login_codes.get(code)
    if entry is None and app.auto_followers and code:
        # Open mode: any fresh code logs in a user derived from it, so a real wx.login code can be tried.
        openid = "o" + hashlib.sha1(code.encode()).hexdigest()[:27]  # noqa: S324 (an id, not security)
        entry = app.login_codes[code] = {"openid": openid, "unionid": "", "used": False,
                                         "session_key": secrets.token_urlsafe(16)}
        ctx.state.add_user(app, User(openid=openid))
    if entry is None:
        raise ApiError(40029, "invalid code")
    if entry["used"]:
        # 小程序登录 code2Session (https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/user-login/code2Session.html):
        # a code works once; a second use answers 40163.
        raise ApiError(40163, "code been used")
    entry["used"] = True
    answer = {"openid": entry["openid"], "session_key": entry["session_key"], "_no_errcode": True}
    if entry.get("unionid"):
        answer["unionid"] = entry["unionid"]
    return answer


def subscribe_send(ctx: Ctx) -> dict:
    return consume_consent(ctx, "subscribe")


PUBLIC_ROUTES = {"/sns/jscode2session": jscode2session}
ROUTES = {"/cgi-bin/message/subscribe/send": subscribe_send}
