"""Control calls for WeChat's own customer-service accounts: what the people behind them do in their
client (bind a WeChat user, go online, take over or close a session) and the account's switch."""

from __future__ import annotations

from typing import Any

from messaging.sandbox.handlers.customservice import kf_store, post_session_event
from messaging.sandbox.state import ApiError


def _app(server, params: dict):
    app = server.state.apps.get(params.get("app_id") or "")
    if app is None:
        raise KeyError(f"unknown app {params.get('app_id')!r}")
    return app


def kf_setup(server, params: dict) -> dict:
    """`enabled` (the new customer service switched on; 65400 otherwise), `wechat_id` (the suffix)."""
    store = kf_store(_app(server, params))
    if "enabled" in params:
        store.enabled = bool(params["enabled"])
    if params.get("wechat_id"):
        store.wechat_id = str(params["wechat_id"])
    return {"enabled": store.enabled, "wechat_id": store.wechat_id}


def _account(store, params: dict) -> dict:
    found = store.accounts.get(params.get("kf_account") or "")
    if found is None:
        raise ApiError(65401, "invalid custom service account")
    return found


def kf_worker(server, params: dict) -> dict:
    """The person behind a kf account: `kf_wx` binds a WeChat user, `online` (0 / 1) their status."""
    found = _account(kf_store(_app(server, params)), params)
    if "kf_wx" in params:
        found["kf_wx"] = str(params["kf_wx"] or "")
    if "online" in params:
        found["online"] = 1 if params["online"] else 0
    return dict(found)


def kf_wait(server, params: dict) -> dict:
    """A customer joins the queue of sessions not taken yet (getwaitcase)."""
    state = server.state
    app = _app(server, params)
    state.user(app, params.get("openid"))
    store = kf_store(app)
    store.waiting[params["openid"]] = int(params.get("latest_time") or state.now())
    return {"waiting": len(store.waiting)}


def kf_switch(server, params: dict) -> dict:
    """The kf person hands the customer's session to another kf account: kf_switch_session is posted."""
    app = _app(server, params)
    store = kf_store(app)
    target = _account(store, {"kf_account": params.get("to_kf_account")})
    session = store.sessions.get(params.get("openid") or "")
    if session is None:
        raise ApiError(65413, "no session for this customer")
    at = int(server.state.now())
    source, session["kf_account"] = session["kf_account"], target["kf_account"]
    xml = post_session_event(app, server.poster, params["openid"], at, "kf_switch_session",
                             FromKfAccount=source, ToKfAccount=target["kf_account"])
    return {"xml": xml}


def kf_end(server, params: dict) -> dict:
    """The kf person closes the session in their client: kf_close_session is posted."""
    app = _app(server, params)
    store = kf_store(app)
    session = store.sessions.pop(params.get("openid") or "", None)
    if session is None:
        raise ApiError(65413, "no session for this customer")
    xml = post_session_event(app, server.poster, params["openid"], int(server.state.now()), "kf_close_session",
                             KfAccount=session["kf_account"])
    return {"xml": xml}


def kf_state(server, params: dict) -> dict:
    store = kf_store(_app(server, params))
    return {"enabled": store.enabled, "wechat_id": store.wechat_id, "accounts": list(store.accounts.values()),
            "sessions": dict(store.sessions), "waiting": dict(store.waiting)}


ROUTES: dict[str, Any] = {
    "kf_setup": kf_setup, "kf_worker": kf_worker, "kf_wait": kf_wait, "kf_switch": kf_switch, "kf_end": kf_end, "kf_state": kf_state,
}
