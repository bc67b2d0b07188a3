"""Service-account sends: template, mass send (list and tag), customer-service, subscribe (bizsend)."""

from __future__ import annotations

from messaging.sandbox.eventpost import Callback
from messaging.sandbox.events import mass_report_xml, template_report_xml
from messaging.sandbox.handlers import Ctx
from messaging.sandbox.handlers.customservice import kf_store
from messaging.sandbox.handlers.mass_content import mass_content_check
from messaging.sandbox.handlers.templates import template_in_library
from messaging.sandbox.limits import (
    CUSTOM_WINDOWS,
    MASS_CALLS_PER_DAY,
    MASS_CALLS_PER_MINUTE,
    MASS_DEDUPE_SECONDS,
)
from messaging.sandbox.state import (
    MASS_PER_USER_PER_MONTH,
    TEMPLATE_DEDUPE_SECONDS,
    ApiError,
    App,
)

REPORT_STATUS = {
    "success": "success",
    "user block": "failed:user block",
    "system failed": "failed: system failed",
}


def report_status(app: App, openid: str) -> str:
    outcome = app.outcomes.get(openid, "success")
    return REPORT_STATUS.get(outcome, outcome)


def _forget_old_client_msg_ids(app: App, now: float) -> None:
    for key in [k for k, (_msgid, at) in app.template_dedupe.items() if now - at >= TEMPLATE_DEDUPE_SECONDS]:
        del app.template_dedupe[key]


def template_send(ctx: Ctx) -> dict:
    state, app, body = ctx.state, ctx.app, ctx.body
    openid = body.get("touser")
    client_msg_id = body.get("client_msg_id") or ""
    now = state.now()
    if client_msg_id:
        seen = app.template_dedupe.get((openid, client_msg_id))
        if seen and now - seen[1] < TEMPLATE_DEDUPE_SECONDS:
            return {"errcode": 0, "errmsg": "ok", "msgid": seen[0]}
    if app.kind != "oa":
        raise ApiError(48001, "api unauthorized")
    # Only a template of the account's library may be sent (40037 otherwise), as on WeChat.
    template_in_library(ctx, body.get("template_id"))
    if not isinstance(body.get("data", {}), dict):
        raise ApiError(47003, "argument invalid! data.data invalid")
    state.user(app, openid, following=True)
    app.calls.take("template", state.today(), limit=app.template_quota,
                   error=ApiError(45009, "reach max api daily quota limit"))
    state.count_send(app)
    msgid = state.next_msgid()
    if client_msg_id:
        if len(app.template_dedupe) > 100_000:
            _forget_old_client_msg_ids(app, now)
        app.template_dedupe[(openid, client_msg_id)] = (msgid, now)
    state.record_send(app, "template", msgid=msgid, touser=openid, client_msg_id=client_msg_id, payload=body)
    if app.auto_report and app.callback_url:
        xml = template_report_xml(app, openid, msgid, report_status(app, openid), int(now))
        ctx.poster.enqueue(Callback.for_app(app, xml, openid))
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


def _check_mass_content(ctx: Ctx) -> str:
    body = ctx.body
    mass_content_check(ctx, body)
    clientmsgid = body.get("clientmsgid") or ""
    if len(clientmsgid.encode()) > 64:
        raise ApiError(45067, "clientmsgid size out of limit")
    return clientmsgid


def _mass_deliver(ctx: Ctx, api: str, openids: list[str], clientmsgid: str) -> dict:
    """Deliver to each user under the monthly limit; others are filtered, as WeChat's FilterCount counts."""
    state, app = ctx.state, ctx.app
    now = state.now()
    if clientmsgid and clientmsgid in app.mass_dedupe:
        msg_id, at = app.mass_dedupe[clientmsgid]
        if now - at < MASS_DEDUPE_SECONDS:
            raise ApiError(45065, "clientmsgid exist", msg_id=msg_id)
    app.calls.take("mass", int(now // 60), limit=MASS_CALLS_PER_MINUTE,
                   error=ApiError(45011, "api minute-quota reach limit  mustslower  retry next minute"))
    app.calls.take("mass-day", state.today(), limit=MASS_CALLS_PER_DAY,
                   error=ApiError(45009, "reach max api daily quota limit"))
    state.count_send(app)
    month = state.month()
    delivered, filtered, errors = [], [], []
    for openid in openids:
        user = app.users.get(openid)
        if user is None or not user.subscribe or app.mass_month.get((openid, month), 0) >= MASS_PER_USER_PER_MONTH:
            filtered.append(openid)
            continue
        app.mass_month[(openid, month)] = app.mass_month.get((openid, month), 0) + 1
        (delivered if report_status(app, openid) == "success" else errors).append(openid)
    msg_id = state.next_msgid()
    if clientmsgid:
        app.mass_dedupe[clientmsgid] = (msg_id, now)
    state.record_send(
        app, api, msgid=msg_id, touser=list(openids), delivered=delivered, filtered=filtered, errors=errors,
        clientmsgid=clientmsgid, payload=ctx.body,
    )
    if app.auto_report and app.callback_url:
        xml = mass_report_xml(app, msg_id, total=len(openids), filtered=len(filtered), sent=len(delivered),
                              errors=len(errors), at=int(state.now()))
        ctx.poster.enqueue(Callback.for_app(app, xml, "mphelper"))
    return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_id % 10**10}


def mass_send(ctx: Ctx) -> dict:
    openids = ctx.body.get("touser")
    if not isinstance(openids, list) or not 2 <= len(openids) <= 10000:
        raise ApiError(40130, "invalid openid list size, at least two openid")
    if not all(isinstance(o, str) and o for o in openids):
        raise ApiError(40003, "invalid openid")
    clientmsgid = _check_mass_content(ctx)
    return _mass_deliver(ctx, "mass", list(dict.fromkeys(openids)), clientmsgid)


def mass_sendall(ctx: Ctx) -> dict:
    app = ctx.app
    filt = ctx.body.get("filter") or {}
    clientmsgid = _check_mass_content(ctx)
    if filt.get("is_to_all"):
        openids = [o for o in app.order if app.users[o].subscribe]
    else:
        tag_id = filt.get("tag_id", filt.get("group_id"))
        try:
            tag_id = int(tag_id)
        except (TypeError, ValueError):
            raise ApiError(40050, "invalid tag id") from None
        if tag_id not in app.tags:
            raise ApiError(40050, "invalid tag id")
        openids = [o for o in app.order if app.users[o].subscribe and tag_id in app.users[o].tags]
    return _mass_deliver(ctx, "mass_all", openids, clientmsgid)


def custom_send(ctx: Ctx) -> dict:
    state, app, body = ctx.state, ctx.app, ctx.body
    openid = body.get("touser")
    msgtype = body.get("msgtype")
    if not msgtype or not isinstance(body.get(msgtype), dict):
        raise ApiError(40008, "invalid message type")
    user = state.user(app, openid)
    kf_account = (body.get("customservice") or {}).get("kf_account") if isinstance(body.get("customservice"), dict) else None
    if kf_account is not None and kf_account not in kf_store(app).accounts:
        raise ApiError(65401, "invalid custom service account")  # [unverified] see handlers/customservice.py
    window, allowed = CUSTOM_WINDOWS[user.interaction_kind]
    if not user.subscribe or user.last_interaction is None or state.now() - user.last_interaction > window:
        raise ApiError(45015, "response out of time limit or subscription is canceled")
    if user.custom_sends >= allowed:
        raise ApiError(45047, "out of response count limit")
    state.count_send(app)
    user.custom_sends += 1
    msgid = state.next_msgid()
    state.record_send(app, "custom", msgid=msgid, touser=openid, payload=body)
    return {"errcode": 0, "errmsg": "ok"}


def consume_consent(ctx: Ctx, api: str) -> dict:
    """Subscribe messages (service account bizsend and mini-program send): one consent credit per send."""
    state, app, body = ctx.state, ctx.app, ctx.body
    openid = body.get("touser")
    template_id = body.get("template_id")
    if not template_id:
        raise ApiError(40037, "invalid template_id")
    if not isinstance(body.get("data"), dict):
        raise ApiError(47003, "argument invalid! data invalid")
    state.user(app, openid)
    key = (openid, template_id)
    if app.consent.get(key, 0) <= 0:
        raise ApiError(43101, "user refuse to accept the msg")
    state.count_send(app)
    app.consent[key] -= 1
    msgid = state.next_msgid()
    state.record_send(app, api, msgid=msgid, touser=openid, template_id=template_id, payload=body)
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


def bizsend(ctx: Ctx) -> dict:
    return consume_consent(ctx, "bizsend")


ROUTES = {
    "/cgi-bin/message/template/send": template_send,
    "/cgi-bin/message/mass/send": mass_send,
    "/cgi-bin/message/mass/sendall": mass_sendall,
    "/cgi-bin/message/custom/send": custom_send,
    "/cgi-bin/message/subscribe/bizsend": bizsend,
}
