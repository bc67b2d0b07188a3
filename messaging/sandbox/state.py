"""In-process state of the WeChat sandbox: apps, users, tokens, sends, faults, the request log.

One `SandboxState` per server. Every API handler runs with `state.lock` held, so handlers may read and
write freely; only the fault latency is slept outside the lock.
"""

from __future__ import annotations

import collections
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from messaging.sandbox.faults import Faults
from messaging.sandbox.limits import TEMPLATE_SENDS_PER_DAY, TOKEN_FETCHES_PER_DAY, TOKEN_OVERLAP_SECONDS, CallCounter
from messaging.sandbox.rates import RequestRates

BEIJING = ZoneInfo("Asia/Shanghai")

TEMPLATE_DEDUPE_SECONDS = 600
MASS_PER_USER_PER_MONTH = 4
WELCOME_CODE_SECONDS = 20
DEFAULT_TOKEN_TTL = 7200
REQUEST_LOG_LIMIT = 200_000  # the oldest requests are dropped beyond this
# A service account holds at most 25 private templates (模板消息接口, "api_add_template":
# https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html);
# one more answers 45026.
MAX_PRIVATE_TEMPLATES = 25
# The industries a service account's templates belong to (set once in the console; api_set_industry).
DEFAULT_INDUSTRY = ("IT科技", "互联网|电子商务")


class ApiError(Exception):
    """A WeChat error answer: rendered as `{"errcode", "errmsg", **extra}` with HTTP 200, like WeChat."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.extra = extra


@dataclass
class User:
    """A follower of a service account, a mini-program user, or (WeCom) an external contact."""

    openid: str
    unionid: str = ""
    subscribe: bool = True
    subscribe_time: int = 0
    tags: list[int] = field(default_factory=list)
    last_interaction: float | None = None
    # What opened the customer-service window: "message" (48 h, 5 sends) or "event" (1 min, 3 sends);
    # custom_sends counts the sends since.
    interaction_kind: str = "message"
    custom_sends: int = 0
    remark: str = ""
    subscribe_scene: str = "ADD_SCENE_OTHERS"
    qr_scene: int = 0
    qr_scene_str: str = ""
    name: str = ""


@dataclass
class App:
    kind: str  # oa | miniprogram | wecom
    app_id: str
    secret: str
    callback_url: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    original_id: str = ""
    agent_id: str = ""
    # Settings changed over the control API.
    auto_report: bool = True
    callback_encrypted: bool | None = None  # None: encrypted when an EncodingAESKey is set
    auto_followers: bool = False  # unknown openids become followers on first use (open mode)
    # Template messages a day: WeChat's default, raised for big accounts on request.
    template_quota: int = TEMPLATE_SENDS_PER_DAY
    # Whether an unknown template id named in a template send joins the library on first use:
    # True always (open mode); False never — 40037, as WeChat answers (the product registers its
    # accounts so); None (apps registered without saying) until the library is first seeded, so
    # callers that do not care about templates can send any id, and a seeded library is strict.
    auto_templates: bool | None = None
    library_seeded: bool = False
    callback_retries: int = 2
    callback_timeout: float = 5.0
    # Users: openid -> User; `order` keeps insertion order for user/get paging.
    users: dict[str, User] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # openid -> forced report outcome
    consent: dict[tuple[str, str], int] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    next_tag_id: int = 100
    template_dedupe: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    mass_dedupe: dict[str, tuple[int, float]] = field(default_factory=dict)  # clientmsgid -> (msg_id, at)
    mass_month: dict[tuple[str, str], int] = field(default_factory=dict)
    qrcodes: dict[str, dict] = field(default_factory=dict)
    # Custom menus (handlers/menus.py): {"default": {button, menuid}, "conditional": [{button, matchrule, menuid}]}.
    menus: dict[str, Any] = field(default_factory=dict)
    # The template library: template messages (get_all_private_template) by template_id, and
    # subscribe templates (wxaapi/newtmpl/gettemplate) by priTmplId, in the order they were added.
    private_templates: dict[str, dict] = field(default_factory=dict)
    subscribe_templates: dict[str, dict] = field(default_factory=dict)
    login_codes: dict[str, dict] = field(default_factory=dict)
    # WeCom: staff userid -> {"name"}, external_userid -> User, follow relations, tasks, tags.
    staff: dict[str, dict] = field(default_factory=dict)
    follows: dict[str, dict[str, dict]] = field(default_factory=dict)  # external_userid -> staff -> info
    contact_ways: dict[str, dict] = field(default_factory=dict)
    group_tasks: dict[str, dict] = field(default_factory=dict)
    last_chat: dict[str, str] = field(default_factory=dict)  # external_userid -> staff who last chatted
    group_received: dict[str, list[str]] = field(default_factory=dict)  # external -> the days (Beijing) it received one
    # The corp's per-customer group-message rule (群发助手 → 设置群发规则, WeCom doc 92135): period
    # month | week | day, count None = WeCom's default (the days of the month, 7, 1).
    group_msg_period: str = "month"
    group_msg_limit: int | None = None
    corp_tag_groups: dict[str, dict] = field(default_factory=dict)
    welcome_codes: dict[str, dict] = field(default_factory=dict)
    # WeCom media (handlers/media.py): media_id -> {type, created_at, size, …}; uploadimg calls per day.
    media: dict[str, dict] = field(default_factory=dict)
    uploadimg_per_day: dict[str, int] = field(default_factory=dict)
    # Departed staff (userid -> {"name", "dimission_time"}) and customer hand-overs
    # ((handover, takeover) -> external_userid -> {"status", "takeover_time"}, with each
    # customer's transfer times for the 90-day rule).
    resigned_staff: dict[str, dict] = field(default_factory=dict)
    transfers: dict[tuple[str, str], dict[str, dict]] = field(default_factory=dict)
    transfer_times: dict[str, list[float]] = field(default_factory=dict)
    group_chats: dict[str, dict] = field(default_factory=dict)  # chat_id -> groupchat/get's group_chat
    group_welcome_templates: dict[str, dict] = field(default_factory=dict)  # template_id -> {template, notify}
    # Customer moments (handlers/wecom_moments.py): jobid -> add_moment_task job, moment_id -> moment.
    moment_jobs: dict[str, dict] = field(default_factory=dict)
    moments: dict[str, dict] = field(default_factory=dict)
    # Tokens and quotas.
    current_token: str = ""
    previous_token: str = ""  # still valid until its overlap ends (service accounts, mini-programs)
    token_fetches: int = 0
    calls: CallCounter = field(default_factory=CallCounter)
    stable_token: str = ""
    stable_expires_at: float = 0.0
    daily_sends: dict[str, int] = field(default_factory=dict)
    # Materials, drafts, publishing and article statistics (messaging.sandbox.handlers.content_store).
    content: Any = None
    # WeChat's own customer-service accounts and sessions (messaging.sandbox.handlers.customservice).
    kf: Any = None

    def public(self) -> dict:
        return {
            "kind": self.kind,
            "app_id": self.app_id,
            "callback_url": self.callback_url,
            "original_id": self.original_id,
            "auto_report": self.auto_report,
            "callback_encrypted": self.encrypted_callbacks,
            "auto_followers": self.auto_followers,
            "users": len(self.users),
            "following": sum(1 for u in self.users.values() if u.subscribe),
            "token_fetches": self.token_fetches,
            "template_quota": self.template_quota,
            "private_templates": len(self.private_templates),
            "subscribe_templates": len(self.subscribe_templates),
        }

    @property
    def encrypted_callbacks(self) -> bool:
        if self.callback_encrypted is None:
            return bool(self.encoding_aes_key)
        return self.callback_encrypted


class SandboxState:
    def __init__(self, *, open_mode: bool = False) -> None:
        self.lock = threading.RLock()
        self.open_mode = open_mode
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.apps: dict[str, App] = {}
            self.tokens: dict[str, tuple[str, float]] = {}  # token -> (app_id, expires_at)
            self.faults = Faults()
            self.rng = random.Random()
            self.clock_offset = 0.0
            self.requests: collections.deque[dict] = collections.deque(maxlen=REQUEST_LOG_LIMIT)
            self.rates = RequestRates()
            self.sent: list[dict] = []
            self.callbacks: list[dict] = []
            self.msgid_seq = 2_000_000_000_000
            self.token_ttl = DEFAULT_TOKEN_TTL

    # --- time ------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def today(self) -> str:
        """The quota day: WeChat counts its daily quotas on Beijing time (API_Call_Limits.html, "每日限额"),
        whatever the host's time zone."""
        return datetime.fromtimestamp(self.now(), BEIJING).strftime("%Y-%m-%d")

    def month(self) -> str:
        return datetime.fromtimestamp(self.now(), BEIJING).strftime("%Y-%m")

    def next_msgid(self) -> int:
        self.msgid_seq += 1
        return self.msgid_seq

    # --- apps and tokens -------------------------------------------------------------------
    def register_app(self, *, kind: str, app_id: str, secret: str, **settings: Any) -> App:
        if kind not in ("oa", "miniprogram", "wecom"):
            raise ValueError(f"unknown app kind {kind!r}; use oa, miniprogram or wecom")
        app = self.apps.get(app_id)
        if app is None:
            app = App(kind=kind, app_id=app_id, secret=secret)
            app.original_id = "gh_" + secrets.token_hex(6)
            self.apps[app_id] = app
        app.kind, app.secret = kind, secret
        for key, value in settings.items():
            if value is None and key != "auto_templates":
                continue
            if not hasattr(app, key) or key in ("users", "order", "consent", "staff", "follows",
                                                  "private_templates", "subscribe_templates"):
                raise ValueError(f"unknown app setting {key!r}")
            setattr(app, key, value)
        return app

    def authenticate(self, app_id: str, secret: str, *, kind: str) -> App:
        """Check an app id and secret like the token endpoints do (open mode registers on the fly)."""
        app = self.apps.get(app_id or "")
        if app is None and self.open_mode and app_id:
            app = self.register_app(kind=kind, app_id=app_id, secret=secret, auto_followers=True, auto_templates=True)
        if app is None:
            raise ApiError(40013, f"invalid appid rid: {secrets.token_hex(4)}")
        if not self.open_mode and not secrets.compare_digest(app.secret.encode(), (secret or "").encode()):
            raise ApiError(40125 if kind != "wecom" else 40001, "invalid appsecret")
        return app

    def ttl(self) -> int:
        return self.faults.token_ttl if self.faults.token_ttl is not None else self.token_ttl

    def issue_token(self, app: App, *, stable: bool = False, force: bool = False) -> tuple[str, int]:
        ttl = self.ttl()
        now = self.now()
        if stable:
            # The stable token is kept until it expires unless force_refresh asks for a new one.
            if app.stable_token and not force and self.tokens.get(app.stable_token, ("", 0))[1] > now:
                return app.stable_token, int(self.tokens[app.stable_token][1] - now)
            self.tokens.pop(app.stable_token, None)
            token = "stable_" + secrets.token_urlsafe(24)
            app.stable_token = token
        elif app.kind == "wecom" and self.tokens.get(app.current_token, ("", 0))[1] > now:
            # WeCom's gettoken answers the same token while it is valid.
            return app.current_token, int(self.tokens[app.current_token][1] - now)
        else:
            app.calls.take("token", self.today(), limit=TOKEN_FETCHES_PER_DAY,
                           error=ApiError(45009, "reach max api daily quota limit"))
            # The previous token keeps working for 5 minutes, then 40001; older ones are forgotten.
            self.tokens.pop(app.previous_token, None)
            if app.current_token in self.tokens:
                app.previous_token = app.current_token
                expires = self.tokens[app.current_token][1]
                self.tokens[app.current_token] = (app.app_id, min(expires, now + TOKEN_OVERLAP_SECONDS))
            token = secrets.token_urlsafe(32)
            app.current_token = token
            app.token_fetches += 1
        self.tokens[token] = (app.app_id, now + ttl)
        return token, ttl

    def app_for_token(self, token: str | None) -> App:
        if not token:
            raise ApiError(41001, "access_token missing")
        entry = self.tokens.get(token)
        if entry is None:
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        app = self.apps.get(entry[0])
        if app is None:
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if token not in (app.current_token, app.previous_token, app.stable_token):
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if entry[1] <= self.now():
            if token == app.previous_token:  # its overlap is over: replaced, not expired
                raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
            raise ApiError(42001, "access_token expired")
        return app

    # --- users -----------------------------------------------------------------------------
    def add_user(self, app: App, user: User) -> User:
        if user.openid not in app.users:
            app.order.append(user.openid)
        if not user.subscribe_time:
            user.subscribe_time = int(self.now())
        app.users[user.openid] = user
        return user

    def user(self, app: App, openid: str | None, *, following: bool = False) -> User:
        """The user an API names; 40003 when unknown, 43004 when `following` is required and not met."""
        if not openid or not isinstance(openid, str):
            raise ApiError(40003, "invalid openid")
        user = app.users.get(openid)
        if user is None and app.auto_followers:
            user = self.add_user(app, User(openid=openid))
        if user is None:
            raise ApiError(40003, "invalid openid")
        if following and not user.subscribe:
            raise ApiError(43004, "require subscribe")
        return user

    def interact(self, user: User, kind: str, at: float | None = None) -> None:
        """A user action that opens the customer-service window: "message" or "event" (follow, scan, click)."""
        user.last_interaction = self.now() if at is None else float(at)
        user.interaction_kind, user.custom_sends = kind, 0

    # --- sends, quotas, faults -------------------------------------------------------------
    def count_send(self, app: App) -> None:
        """Daily quota: every send API call counts once; over the quota WeChat answers 45009."""
        quota = self.faults.daily_quota.get(app.app_id)
        day = self.today()
        used = app.daily_sends.get(day, 0)
        if quota is not None and used >= quota:
            raise ApiError(45009, "reach max api daily quota limit")
        app.daily_sends[day] = used + 1

    def record_send(self, app: App, api: str, **fields: Any) -> dict:
        entry = {"app_id": app.app_id, "api": api, "at": self.now(), **fields}
        self.sent.append(entry)
        return entry

    def injected_fault(self, path: str) -> ApiError | None:
        faults = self.faults
        if not (faults.rate_45009 or faults.rate_busy):
            return None
        if faults.paths and not any(p in path for p in faults.paths):
            return None
        draw = self.rng.random()
        if draw < faults.rate_45009:
            return ApiError(45009, "reach max api daily quota limit")
        if draw < faults.rate_45009 + faults.rate_busy:
            return ApiError(-1, "system error")
        return None

    def set_faults(self, **changes: Any) -> Faults:
        allowed = set(Faults().public())
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        for key, value in changes.items():
            setattr(self.faults, key, value)
        if "seed" in changes:
            self.rng = random.Random(changes["seed"])
        return self.faults

    def reset_faults(self) -> None:
        self.faults = Faults()
        self.rng = random.Random()

    # --- the template library --------------------------------------------------------------
    def template_add(self, app: App, *, kind: str, title: str, content: str, example: str = "",
                     template_id: str | None = None, primary_industry: str | None = None,
                     deputy_industry: str | None = None, type_: int = 2, limit: bool = True) -> dict:
        """Add (or, for a known id, replace) a template of `kind` ("template" | "subscribe");
        `limit=False` is a template learnt from a send (auto_templates), which does not seed."""
        if limit:
            app.library_seeded = True
        if kind == "template":
            if app.kind != "oa":
                raise ApiError(48001, "api unauthorized")
            library = app.private_templates
            if template_id not in library and limit and len(library) >= MAX_PRIVATE_TEMPLATES:
                raise ApiError(45026, "template num exceeds limit")
            template_id = template_id or secrets.token_urlsafe(32)[:43]
            library[template_id] = {
                "template_id": template_id, "title": title,
                "primary_industry": primary_industry if primary_industry is not None else DEFAULT_INDUSTRY[0],
                "deputy_industry": deputy_industry if deputy_industry is not None else DEFAULT_INDUSTRY[1],
                "content": content, "example": example,
            }
            return library[template_id]
        if kind == "subscribe":
            if app.kind not in ("oa", "miniprogram"):
                raise ApiError(48001, "api unauthorized")
            template_id = template_id or secrets.token_urlsafe(32)[:43]
            if type_ not in (2, 3):
                raise ValueError("type is 2 (one-time) or 3 (long-term)")
            app.subscribe_templates[template_id] = {
                "priTmplId": template_id, "title": title, "content": content, "example": example, "type": type_,
            }
            return app.subscribe_templates[template_id]
        raise ValueError(f"unknown template kind {kind!r}; use template or subscribe")

    def template_delete(self, app: App, *, kind: str, template_id: str) -> None:
        library = app.private_templates if kind == "template" else app.subscribe_templates
        if not isinstance(template_id, str) or template_id not in library:
            raise ApiError(40037, "invalid template_id")
        del library[template_id]
