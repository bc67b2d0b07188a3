"""Server side of the control API under /_sandbox/<name> (see the package docstring for each call).

Each function takes the server and the merged query/JSON parameters and returns a JSON-able dict; a
ValueError becomes HTTP 400 and an unknown app HTTP 404. They run with the state lock held, except
`flush_callbacks` (which waits for the posting threads) and `request_rates` (its own lock: a drill
reading it does not stall the APIs).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from messaging.sandbox import content_control, kf_control, wecom_groups_control
from messaging.sandbox.eventpost import Callback
from messaging.sandbox.events import apply_user_event, wecom_add_contact
from messaging.sandbox.handlers.wecom import confirm_task
from messaging.sandbox.handlers.wecom_moments import moment_interact, moment_publish
from messaging.sandbox.rates import request_rates
from messaging.sandbox.state import App, User

APP_SETTINGS = ("callback_url", "token", "encoding_aes_key", "original_id", "agent_id", "auto_report",
                "callback_encrypted", "auto_followers", "auto_templates", "callback_retries", "callback_timeout",
                "template_quota", "group_msg_period", "group_msg_limit")
OUTCOMES = ("success", "user block", "system failed")


class UnknownApp(LookupError):
    pass


def _app(server, params: dict, key: str = "app_id") -> App:
    app_id = params.get(key) or params.get("app_id") or params.get("corp_id")
    app = server.state.apps.get(app_id or "")
    if app is None:
        raise UnknownApp(f"no app {app_id!r} is registered with the sandbox")
    return app


def _settings(params: dict) -> dict:
    return {k: params[k] for k in APP_SETTINGS if k in params}


def reset(server, params: dict) -> dict:
    server.state.reset()
    return {"ok": True}


def register_app(server, params: dict) -> dict:
    for key in ("kind", "app_id", "secret"):
        if not params.get(key):
            raise ValueError(f"{key} is required")
    app = server.state.register_app(kind=params["kind"], app_id=params["app_id"], secret=params["secret"], **_settings(params))
    return app.public()


def app_settings(server, params: dict) -> dict:
    app = _app(server, params)
    for key, value in _settings(params).items():
        setattr(app, key, value)
    return app.public()


def apps(server, params: dict) -> dict:
    return {"apps": [a.public() for a in server.state.apps.values()]}


def add_followers(server, params: dict) -> dict:
    state, app = server.state, _app(server, params)
    subscribe = bool(params.get("subscribe", True))
    at = params.get("interaction_at")
    users = params.get("users")
    if users is None and params.get("openids") is not None:
        users = [{"openid": o} for o in params["openids"]]
    if users is None:
        count = int(params.get("count") or 0)
        if count <= 0:
            raise ValueError("give count, openids or users")
        prefix = params.get("openid_prefix") or f"o{secrets.token_hex(3)}_"
        unionid_prefix = params.get("unionid_prefix")
        start = len(app.order)
        users = [
            {"openid": f"{prefix}{start + i:07d}", "unionid": f"{unionid_prefix}{start + i:07d}" if unionid_prefix else ""}
            for i in range(count)
        ]
    openids = []
    if app.kind == "wecom":
        # In a corp, a "follower" is an external contact of a staff member.
        staff = params.get("staff_userid") or next(iter(app.staff), "sandbox-staff")
        for item in users:
            wecom_add_contact(state, app, staff_userid=staff, external_userid=item["openid"],
                              unionid=item.get("unionid") or "", name=item.get("name") or "")
            openids.append(item["openid"])
        return {"openids": openids}
    for item in users:
        user = User(
            openid=item["openid"], unionid=item.get("unionid") or "", subscribe=bool(item.get("subscribe", subscribe)),
            tags=[int(t) for t in item.get("tags", [])], remark=item.get("remark", ""), name=item.get("name", ""),
            last_interaction=item.get("last_interaction", at),
        )
        state.add_user(app, user)
        openids.append(user.openid)
    return {"openids": openids}


def set_following(server, params: dict) -> dict:
    app = _app(server, params)
    user = server.state.user(app, params.get("openid"))
    user.subscribe = bool(params.get("following"))
    if user.subscribe:
        user.subscribe_time = int(server.state.now())
    return {"openid": user.openid, "subscribe": user.subscribe}


def set_interaction(server, params: dict) -> dict:
    app = _app(server, params)
    user = server.state.user(app, params.get("openid"))
    kind = params.get("kind") or "message"
    if kind not in ("message", "event"):
        raise ValueError("kind is message (a user message: 48 h, 5 sends) or event (follow, scan, click: 1 min, 3 sends)")
    server.state.interact(user, kind, params.get("at"))
    return {"openid": user.openid, "last_interaction": user.last_interaction, "kind": kind}


def grant_consent(server, params: dict) -> dict:
    app = _app(server, params)
    openid, template_id = params.get("openid"), params.get("template_id")
    if not openid or not template_id:
        raise ValueError("openid and template_id are required")
    if openid not in app.users:
        server.state.add_user(app, User(openid=openid))
    key = (openid, template_id)
    app.consent[key] = app.consent.get(key, 0) + int(params.get("count", 1))
    return {"count": app.consent[key]}


def consent(server, params: dict) -> dict:
    app = _app(server, params)
    return {"count": app.consent.get((params.get("openid"), params.get("template_id")), 0)}


def create_login_code(server, params: dict) -> dict:
    app = _app(server, params)
    openid = params.get("openid")
    if not openid:
        raise ValueError("openid is required")
    unionid = params.get("unionid") or ""
    user = app.users.get(openid) or server.state.add_user(app, User(openid=openid, unionid=unionid))
    if unionid:
        user.unionid = unionid
    code = secrets.token_hex(16)
    app.login_codes[code] = {"openid": openid, "unionid": user.unionid, "used": False,
                             "session_key": params.get("session_key") or secrets.token_urlsafe(16)}
    return {"code": code, "session_key": app.login_codes[code]["session_key"]}


def set_outcome(server, params: dict) -> dict:
    app = _app(server, params)
    outcome = params.get("outcome", "success")
    if outcome not in OUTCOMES and not str(outcome).startswith(("success", "failed")):
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    if outcome == "success":
        app.outcomes.pop(params.get("openid"), None)
    else:
        app.outcomes[params.get("openid")] = outcome
    return {"openid": params.get("openid"), "outcome": outcome}


def add_wecom_staff(server, params: dict) -> dict:
    app = _app(server, params, "corp_id")
    userid = params.get("userid")
    if not userid:
        raise ValueError("userid is required")
    app.staff[userid] = {"name": params.get("name") or userid}
    return {"userid": userid}


def _welcome_code(server, app: App, staff: str, external: str) -> str:
    code = secrets.token_urlsafe(24)
    app.welcome_codes[code] = {"issued_at": server.state.now(), "used": False, "staff": staff, "external": external}
    return code


def add_external_contact(server, params: dict) -> dict:
    app = _app(server, params, "corp_id")
    staff, external = params.get("staff_userid"), params.get("external_userid")
    if not staff or not external:
        raise ValueError("staff_userid and external_userid are required")
    wecom_add_contact(server.state, app, staff_userid=staff, external_userid=external, unionid=params.get("unionid") or "",
                      name=params.get("name") or "", state_value=params.get("state") or "")
    return {"external_userid": external, "welcome_code": _welcome_code(server, app, staff, external)}


def add_external_contacts(server, params: dict) -> dict:
    app = _app(server, params, "corp_id")
    staff, count = params.get("staff_userid"), int(params.get("count") or 0)
    if not staff or count <= 0:
        raise ValueError("staff_userid and a positive count are required")
    prefix = params.get("external_prefix") or f"wm{secrets.token_hex(3)}_"
    unionid_prefix = params.get("unionid_prefix")
    start = len(app.order)
    ids = []
    # also_staff: other staff members who add each new contact too (a customer shared by several).
    also = [s for s in params.get("also_staff") or [] if s and s != staff]
    for i in range(start, start + count):
        external = f"{prefix}{i:07d}"
        for member in (staff, *also):
            wecom_add_contact(server.state, app, staff_userid=member, external_userid=external,
                              unionid=f"{unionid_prefix}{i:07d}" if unionid_prefix else "")
        ids.append(external)
    return {"external_userids": ids}


def set_last_chat(server, params: dict) -> dict:
    """The staff member who last chatted with an external contact (group messages reach them only)."""
    app = _app(server, params, "corp_id")
    staff, external = params.get("staff_userid"), params.get("external_userid")
    if external not in app.follows or staff not in app.follows[external]:
        raise ValueError("external_userid must be a contact of staff_userid")
    app.last_chat[external] = staff
    return {"external_userid": external, "staff_userid": staff}


def confirm_group_task(server, params: dict) -> dict:
    app = _app(server, params, "corp_id")
    task = confirm_task(server.state, app, params.get("msgid") or "")
    return {"msgid": params.get("msgid"), "results": task["results"]}


def publish_moment(server, params: dict) -> dict:
    """A staff member publishes a moment task in the WeCom client."""
    app = _app(server, params, "corp_id")
    return moment_publish(app, params.get("moment_id") or "", params.get("userid") or "")


def moment_interaction(server, params: dict) -> dict:
    """A customer comments on or likes a staff member's published moment (kind comment | like)."""
    app = _app(server, params, "corp_id")
    at = int(params.get("at") or server.state.now())
    return moment_interact(app, params.get("moment_id") or "", params.get("userid") or "",
                           params.get("external_userid") or "", kind=params.get("kind") or "", at=at)


def add_template(server, params: dict) -> dict:
    """Seed the app's template library (what the account's owner does in WeChat's console)."""
    app = _app(server, params)
    if not params.get("title"):
        raise ValueError("title is required")
    return server.state.template_add(
        app, kind=params.get("kind") or "template", title=params["title"], content=params.get("content") or "",
        example=params.get("example") or "", template_id=params.get("template_id") or None,
        primary_industry=params.get("primary_industry"), deputy_industry=params.get("deputy_industry"),
        type_=int(params.get("type") or 2),
    )


def remove_template(server, params: dict) -> dict:
    app = _app(server, params)
    server.state.template_delete(app, kind=params.get("kind") or "template", template_id=params.get("template_id"))
    return {"removed": params.get("template_id")}


def templates(server, params: dict) -> dict:
    app = _app(server, params)
    return {"template": list(app.private_templates.values()), "subscribe": list(app.subscribe_templates.values())}


def set_faults(server, params: dict) -> dict:
    return server.state.set_faults(**params).public()


def set_daily_quota(server, params: dict) -> dict:
    quota = server.state.faults.daily_quota
    if params.get("quota") is None:
        quota.pop(params.get("app_id"), None)
    else:
        quota[params["app_id"]] = int(params["quota"])
    return server.state.faults.public()


def reset_faults(server, params: dict) -> dict:
    server.state.reset_faults()
    return server.state.faults.public()


def advance_clock(server, params: dict) -> dict:
    server.state.clock_offset += float(params.get("seconds", 0))
    return {"clock_offset": server.state.clock_offset, "now": server.state.now()}


def requests_(server, params: dict) -> dict:
    rows = list(server.state.requests)
    if params.get("path_contains"):
        rows = [r for r in rows if params["path_contains"] in r["path"]]
    if params.get("app_id"):
        rows = [r for r in rows if r["app_id"] == params["app_id"]]
    if params.get("errcode") is not None:
        rows = [r for r in rows if r["errcode"] == int(params["errcode"])]
    total = len(rows)
    if params.get("limit"):
        rows = rows[-int(params["limit"]):]
    return {"requests": rows, "total": total}


def sent_messages(server, params: dict) -> dict:
    rows = server.state.sent
    for key in ("app_id", "api", "touser"):
        if params.get(key):
            rows = [r for r in rows if r.get(key) == params[key] or (key == "touser" and params[key] in (r.get("touser") or ()))]
    return {"messages": list(rows)}


def token_fetch_count(server, params: dict) -> dict:
    return {"count": _app(server, params).token_fetches}


def post_event(server, params: dict) -> dict:
    app = _app(server, params)
    if not app.callback_url:
        raise ValueError(f"app {app.app_id} has no callback_url")
    if params.get("xml"):
        xml, user = params["xml"], params.get("openid") or params.get("external_userid") or ""
    elif params.get("event"):
        xml, user = apply_user_event(server.state, app, params["event"], params)
    else:
        raise ValueError("give xml or event")
    encrypted = params.get("encrypted")
    callback = Callback.for_app(app, xml, user, encrypted=None if encrypted is None else bool(encrypted))
    # repeat > 1 delivers the same event again, as WeChat does when it retries.
    for _ in range(max(int(params.get("repeat", 1)), 1)):
        server.poster.enqueue(callback)
    return {"queued": True, "xml": xml}


def flush_callbacks(server, params: dict) -> dict:
    return {"flushed": server.poster.flush(float(params.get("timeout", 30)))}


def callbacks(server, params: dict) -> dict:
    rows = server.state.callbacks
    if params.get("app_id"):
        rows = [r for r in rows if r["app_id"] == params["app_id"]]
    return {"callbacks": list(rows)}


def user(server, params: dict) -> dict:
    app = _app(server, params)
    found = app.users.get(params.get("openid") or params.get("external_userid") or "")
    if found is None:
        raise ValueError("unknown user")
    data = asdict(found)
    data["follows"] = list(app.follows.get(found.openid, {}).values())
    data["consent"] = {t: n for (o, t), n in app.consent.items() if o == found.openid}
    return data


def state(server, params: dict) -> dict:
    st = server.state
    return {
        "open_mode": st.open_mode, "apps": [a.public() for a in st.apps.values()], "faults": st.faults.public(),
        "requests": len(st.requests), "sent": len(st.sent), "callbacks": len(st.callbacks),
        "pending_callbacks": server.poster.pending, "clock_offset": st.clock_offset,
    }


ROUTES: dict[str, Any] = {
    "reset": reset, "register_app": register_app, "app_settings": app_settings, "apps": apps,
    "add_followers": add_followers, "set_following": set_following, "set_interaction": set_interaction, "set_last_chat": set_last_chat,
    "grant_consent": grant_consent, "consent": consent, "create_login_code": create_login_code,
    "set_outcome": set_outcome, "add_wecom_staff": add_wecom_staff, "add_external_contact": add_external_contact,
    "add_external_contacts": add_external_contacts, "confirm_group_task": confirm_group_task,
    "publish_moment": publish_moment, "moment_interaction": moment_interaction,
    "add_template": add_template, "remove_template": remove_template, "templates": templates,
    "set_faults": set_faults, "set_daily_quota": set_daily_quota, "reset_faults": reset_faults, "advance_clock": advance_clock,
    "requests": requests_, "sent_messages": sent_messages, "token_fetch_count": token_fetch_count,
    "post_event": post_event, "flush_callbacks": flush_callbacks, "callbacks": callbacks, "user": user,
    "state": state, "request_rates": request_rates,
}
ROUTES.update(content_control.ROUTES)
ROUTES.update(wecom_groups_control.ROUTES)
ROUTES.update(kf_control.ROUTES)
UNLOCKED = {"flush_callbacks", "request_rates"}  # request_rates has its own lock
