"""Python client of the sandbox control API: `SandboxControl(base_url)` (see the package docstring)."""

from __future__ import annotations

from typing import Any

import requests


class SandboxControlError(RuntimeError):
    pass


class SandboxControl:
    def __init__(self, base_url: str, *, timeout: float = 60.0, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = session or requests.Session()

    def call(self, name: str, /, **params: Any) -> dict:
        """POST /_sandbox/<name> with the parameters as JSON; raises SandboxControlError on 4xx/5xx."""
        return self.call_raw(name, {k: v for k, v in params.items() if v is not None})

    def call_raw(self, name: str, params: dict) -> dict:
        res = self.session.post(f"{self.base_url}_sandbox/{name}", json=params, timeout=self.timeout)
        try:
            data = res.json()
        except ValueError:
            raise SandboxControlError(f"{name}: HTTP {res.status_code} {res.text[:200]}") from None
        if res.status_code >= 400:
            raise SandboxControlError(f"{name}: {data.get('error', data)}")
        return data

    # --- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        self.call("reset")

    def state(self) -> dict:
        return self.call("state")

    def register_app(
        self, kind: str, app_id: str, secret: str, callback_url: str | None = None, token: str | None = None,
        encoding_aes_key: str | None = None, **settings: Any,
    ) -> dict:
        return self.call("register_app", kind=kind, app_id=app_id, secret=secret, callback_url=callback_url,
                         token=token, encoding_aes_key=encoding_aes_key, **settings)

    def app_settings(self, app_id: str, **settings: Any) -> dict:
        return self.call("app_settings", app_id=app_id, **settings)

    def apps(self) -> list[dict]:
        return self.call("apps")["apps"]

    def add_followers(
        self, app_id: str, count_or_users: int | list, *, unionid_prefix: str | None = None,
        openid_prefix: str | None = None, subscribe: bool = True, interaction_at: float | None = None,
        staff_userid: str | None = None,
    ) -> list[str]:
        """Add `n` generated followers, or the given openids (str) / user dicts; returns their openids.

        For a WeCom corp they become external contacts of `staff_userid` (default: the first staff member)."""
        params: dict[str, Any] = {"app_id": app_id, "unionid_prefix": unionid_prefix, "openid_prefix": openid_prefix,
                                  "subscribe": subscribe, "interaction_at": interaction_at, "staff_userid": staff_userid}
        if isinstance(count_or_users, int):
            params["count"] = count_or_users
        else:
            params["users"] = [{"openid": u} if isinstance(u, str) else u for u in count_or_users]
        return self.call("add_followers", **params)["openids"]

    def set_following(self, app_id: str, openid: str, following: bool) -> None:
        self.call("set_following", app_id=app_id, openid=openid, following=following)

    def set_last_chat(self, corp_id: str, external_userid: str, staff_userid: str) -> dict:
        return self.call("set_last_chat", corp_id=corp_id, external_userid=external_userid, staff_userid=staff_userid)

    def set_interaction(self, app_id: str, openid: str, at: float | None = None, kind: str = "message") -> None:
        self.call("set_interaction", app_id=app_id, openid=openid, at=at, kind=kind)

    def grant_consent(self, app_id: str, openid: str, template_id: str, count: int = 1) -> int:
        return self.call("grant_consent", app_id=app_id, openid=openid, template_id=template_id, count=count)["count"]

    def consent(self, app_id: str, openid: str, template_id: str) -> int:
        return self.call("consent", app_id=app_id, openid=openid, template_id=template_id)["count"]

    def create_login_code(self, app_id: str, openid: str, unionid: str | None = None) -> str:
        return self.call("create_login_code", app_id=app_id, openid=openid, unionid=unionid)["code"]

    def set_outcome(self, app_id: str, openid: str, outcome: str) -> None:
        """Delivery outcome reported for this user: "success", "user block" or "system failed"."""
        self.call("set_outcome", app_id=app_id, openid=openid, outcome=outcome)

    def user(self, app_id: str, openid: str) -> dict:
        return self.call("user", app_id=app_id, openid=openid)

    # --- the template library ---------------------------------------------------------------
    def add_template(
        self, app_id: str, title: str, content: str, *, kind: str = "template", example: str = "",
        template_id: str | None = None, primary_industry: str | None = None, deputy_industry: str | None = None,
        type: int = 2,  # WeChat's field name
    ) -> dict:
        """Add a template ("template": a service account's private template, at most 25, else 45026;
        "subscribe": a subscribe template, `type` 2 one-time / 3 long-term). A known id is replaced.
        Returns the template as WeChat lists it (template_id / priTmplId)."""
        return self.call("add_template", app_id=app_id, kind=kind, title=title, content=content, example=example,
                         template_id=template_id, primary_industry=primary_industry,
                         deputy_industry=deputy_industry, type=type)

    def remove_template(self, app_id: str, template_id: str, *, kind: str = "template") -> None:
        self.call("remove_template", app_id=app_id, template_id=template_id, kind=kind)

    def templates(self, app_id: str) -> dict:
        """{"template": [...], "subscribe": [...]}: the app's library."""
        return self.call("templates", app_id=app_id)

    # --- WeCom -----------------------------------------------------------------------------
    def add_wecom_staff(self, corp_id: str, userid: str, name: str | None = None) -> None:
        self.call("add_wecom_staff", corp_id=corp_id, userid=userid, name=name)

    def add_external_contact(
        self, corp_id: str, staff_userid: str, external_userid: str, unionid: str | None = None,
        name: str | None = None, state: str | None = None,
    ) -> str:
        """Make the contact; returns a fresh welcome code (valid 20 s, once)."""
        return self.call("add_external_contact", corp_id=corp_id, staff_userid=staff_userid,
                         external_userid=external_userid, unionid=unionid, name=name, state=state)["welcome_code"]

    def add_external_contacts(self, corp_id: str, staff_userid: str, count: int, *, unionid_prefix: str | None = None,
                              external_prefix: str | None = None, also_staff: list[str] | None = None) -> list[str]:
        """`count` new contacts of the staff member (and of each of `also_staff`: shared customers)."""
        return self.call("add_external_contacts", corp_id=corp_id, staff_userid=staff_userid, count=count,
                         unionid_prefix=unionid_prefix, external_prefix=external_prefix,
                         also_staff=also_staff or [])["external_userids"]

    def add_group_chats(self, corp_id: str, count: int, *, members: int, owner: str | None = None, pool: int | None = None,
                        external_prefix: str | None = None, unionid_prefix: str | None = None, chat_prefix: str | None = None) -> list[str]:
        """`count` customer groups of `members` each (the owner + external members from a shared pool)."""
        return self.call("add_group_chats", corp_id=corp_id, count=count, members=members, owner=owner, pool=pool,
                         external_prefix=external_prefix, unionid_prefix=unionid_prefix, chat_prefix=chat_prefix)["chat_ids"]

    def confirm_group_task(self, corp_id: str, msgid: str) -> dict:
        """The staff member confirms the group message: returns {external_userid: {status, send_time}}."""
        return self.call("confirm_group_task", corp_id=corp_id, msgid=msgid)["results"]

    def publish_moment(self, corp_id: str, moment_id: str, userid: str) -> dict:
        """The staff member publishes the moment (WeCom's client); returns how many customers see it."""
        return self.call("publish_moment", corp_id=corp_id, moment_id=moment_id, userid=userid)

    def moment_interaction(self, corp_id: str, moment_id: str, userid: str, external_userid: str, *, kind: str,
                           at: int | None = None) -> dict:
        """A customer comments on (kind="comment") or likes (kind="like") the staff member's moment."""
        return self.call("moment_interaction", corp_id=corp_id, moment_id=moment_id, userid=userid,
                         external_userid=external_userid, kind=kind, at=at)

    # --- faults and time -------------------------------------------------------------------
    def set_faults(self, **faults: Any) -> dict:
        """rate_45009, rate_busy, latency_ms, token_ttl, daily_quota={app_id: n}, paths=[...], seed."""
        return self.call_raw("set_faults", faults)

    def set_daily_quota(self, app_id: str, quota: int | None) -> dict:
        """Sends per day for this app before 45009; None removes the quota."""
        return self.call_raw("set_daily_quota", {"app_id": app_id, "quota": quota})

    def reset_faults(self) -> dict:
        return self.call("reset_faults")

    def advance_clock(self, seconds: float) -> float:
        return self.call("advance_clock", seconds=seconds)["now"]

    # --- what happened ---------------------------------------------------------------------
    def requests(
        self, path_contains: str | None = None, *, app_id: str | None = None, errcode: int | None = None,
        limit: int | None = None, path: str | None = None,
    ) -> list[dict]:
        """Recorded API requests, oldest first (`limit`: only the last n); `path` is an alias of path_contains."""
        return self.call("requests", path_contains=path_contains or path, app_id=app_id, errcode=errcode,
                         limit=limit)["requests"]

    def sent_messages(
        self, app_id: str | None = None, api: str | None = None, touser: str | None = None, *, kind: str | None = None,
    ) -> list[dict]:
        """api (alias kind): template, mass, mass_all, custom, bizsend, subscribe (mini-program), wecom_group, welcome."""
        return self.call("sent_messages", app_id=app_id, api=api or kind, touser=touser)["messages"]

    def request_rates(
        self, app_id: str | None = None, *, path_contains: str | None = None, since: float | None = None,
        until: float | None = None,
    ) -> dict:
        """API requests received per second (messaging/sandbox/rates.py): {per_second: [[epoch second,
        n]], max_per_second, max_in_any_second (sliding by 100 ms), by_client: {address: n}, total}."""
        return self.call("request_rates", app_id=app_id, path_contains=path_contains, since=since, until=until)

    def token_fetch_count(self, app_id: str) -> int:
        return self.call("token_fetch_count", app_id=app_id)["count"]

    # --- callbacks -------------------------------------------------------------------------
    def post_event(self, app_id: str, xml: str | None = None, *, encrypted: bool | None = None,
                   event: str | None = None, wait: bool = False, repeat: int | None = None, **fields: Any) -> dict:
        """Queue an event to the app's callback URL: raw `xml`, or a user action `event` with its fields."""
        answer = self.call("post_event", app_id=app_id, xml=xml, encrypted=encrypted, event=event,
                           repeat=repeat, **fields)
        if wait:
            self.flush_callbacks()
        return answer

    def flush_callbacks(self, timeout: float = 30.0) -> bool:
        return self.call("flush_callbacks", timeout=timeout)["flushed"]

    def callbacks(self, app_id: str | None = None) -> list[dict]:
        return self.call("callbacks", app_id=app_id)["callbacks"]
