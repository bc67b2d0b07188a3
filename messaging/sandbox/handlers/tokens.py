"""Access tokens: /cgi-bin/token, /cgi-bin/stable_token (service account, mini-program), WeCom gettoken."""

from __future__ import annotations

from messaging.sandbox.handlers import Ctx
from messaging.sandbox.state import ApiError


def token(ctx: Ctx) -> dict:
    if ctx.query.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    app = ctx.state.authenticate(ctx.query.get("appid", ""), ctx.query.get("secret", ""), kind="oa")
    if app.kind == "wecom":
        raise ApiError(40013, "invalid appid")
    value, ttl = ctx.state.issue_token(app)
    ctx.app = app
    return {"access_token": value, "expires_in": ttl, "_no_errcode": True}


def stable_token(ctx: Ctx) -> dict:
    if ctx.body.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    app = ctx.state.authenticate(ctx.body.get("appid", ""), ctx.body.get("secret", ""), kind="oa")
    if app.kind == "wecom":
        raise ApiError(40013, "invalid appid")
    value, ttl = ctx.state.issue_token(app, stable=True, force=bool(ctx.body.get("force_refresh")))
    ctx.app = app
    return {"access_token": value, "expires_in": ttl, "_no_errcode": True}


def gettoken(ctx: Ctx) -> dict:
    corp_id = ctx.query.get("corpid", "")
    app = ctx.state.apps.get(corp_id)
    if app is not None and app.kind != "wecom":
        raise ApiError(40013, "invalid corpid")
    try:
        app = ctx.state.authenticate(corp_id, ctx.query.get("corpsecret", ""), kind="wecom")
    except ApiError as exc:
        if exc.errcode == 40013:
            raise ApiError(40013, "invalid corpid") from None
        raise
    value, ttl = ctx.state.issue_token(app)
    ctx.app = app
    return {"errcode": 0, "errmsg": "ok", "access_token": value, "expires_in": ttl}


ROUTES = {
    "/cgi-bin/token": token,
    "/cgi-bin/stable_token": stable_token,
    "/cgi-bin/gettoken": gettoken,
}
