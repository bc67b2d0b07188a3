"""Mini-program: jscode2session (codes issued over the control API, each usable once) and subscribe/send."""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.official import consume_consent
from messaging.sandbox.state import ApiError


def jscode2session(ctx: Ctx) -> dict:
    app = ctx.state.authenticate(ctx.query.get("appid", ""), ctx.query.get("secret", ""), kind="miniprogram")
    ctx.app = app
    if ctx.query.get("grant_type", "authorization_code") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    code = ctx.query.get("js_code", "")
    entry = app.login_codes.get(code)
    if entry is None or entry["used"]:
        raise ApiError(40029, "invalid code")
    entry["used"] = True
    answer = {"openid": entry["openid"], "session_key": entry["session_key"], "_no_errcode": True}
    if entry.get("unionid"):
        answer["unionid"] = entry["unionid"]
    return answer


def subscribe_send(ctx: Ctx) -> dict:
    return consume_consent(ctx, "subscribe")


PUBLIC_ROUTES = {"/sns/jscode2session": jscode2session}
ROUTES = {"/cgi-bin/message/subscribe/send": subscribe_send}
