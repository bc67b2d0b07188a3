"""wechatpy clients per account, pointed at the account's API base, sharing one token through Redis.

Three things wechatpy 1.8.18 does not do for us (see WECHAT.md §4, §10):
- its token URL is hard-coded and some API groups carry their own base URL, so every request goes
  through a `requests.Session` that rewrites WeChat's hosts to `account.resolved_api_base_url`;
- `auto_retry=True` refetches the token on 40001 without limit and without coordination, so clients
  run with `auto_retry=False` and this module refreshes once, under a lock, and retries once;
- the token TTL is WeChat's `expires_in`: we keep it a little shorter so that readers never use a
  token in its last minutes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Any

import requests
from django.conf import settings
from wechatpy import WeChatClient as _WeChatClient
from wechatpy.enterprise import WeChatClient as _WeComClient
from wechatpy.exceptions import WeChatClientException

from accounts.models import AccountKind
from messaging.channels.errors import TOKEN_ERRORS
from messaging.channels.hosts import api_url_check
from messaging.channels.ratelimit import permit_spend
from messaging.channels.tokens import PERMANENT_TOKEN_REFUSALS, TokenStore

logger = logging.getLogger(__name__)

WECHAT_HOSTS = ("https://api.weixin.qq.com/", "https://qyapi.weixin.qq.com/")
# How long the refresh lock lives if its holder dies, and how long others wait for its token.
TOKEN_LOCK_TTL = 15.0
TOKEN_WAIT_POLL = 0.05
# How long a process reuses the token it last read from the shared store before reading it again.
# Short: a token another process refreshed reaches this one within seconds (WeChat accepts the old
# one for five minutes after a refresh), and a rejected token is dropped at once.
TOKEN_MEMO_SECONDS = 5.0


class RewritingSession(requests.Session):
    """Sends requests for WeChat's hosts to the account's API base (the sandbox, a proxy, or
    WeChat itself) and applies the default timeout to calls that wechatpy makes without one.

    Every request, redirects included, goes only to WeChat's API hosts or a listed sandbox
    (messaging/channels/hosts.py): the query carries the app secret or an access token."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        api_url_check(self.base_url)
        self.default_timeout = timeout
        # The environment's proxies and CA bundle are read once, here: with trust_env on, requests
        # looks up ~/.netrc and every *_proxy variable again on each call, a measurable part of a send.
        environment = self.merge_environment_settings(self.base_url, {}, None, None, None)
        self.proxies.update(environment["proxies"])
        self.verify = environment["verify"]
        self.trust_env = False

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        for host in WECHAT_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
                break
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # Here rather than in request(): redirects are sent through send() as well.
        api_url_check(request.url or "")
        # Last thing before the request leaves: inside a rate-limited send, its grant must be fresh.
        permit_spend()
        return super().send(request, **kwargs)


class SharedTokenMixin:
    """Token from the shared store; one refresh at a time per app across every process."""

    _store: TokenStore
    _token_wait: float

    def _shared_setup(self, *, base_url: str, timeout: float, store: TokenStore) -> None:
        self._http = RewritingSession(base_url, timeout)
        self._store = store
        self._token_wait = timeout * 2 + 1
        self.session = store.session

    _token_memo: tuple[str, float] | None = None

    @property
    def access_token(self) -> str:
        # A send reads the token once per message: from memory, not a Redis round trip each time.
        memo = self._token_memo
        if memo is not None and memo[1] > time.monotonic():
            return memo[0]
        return self._token_remember(self._store.get(self.access_token_key) or self.token_refresh(stale=None))

    def _token_remember(self, token: str) -> str:
        self._token_memo = (token, time.monotonic() + TOKEN_MEMO_SECONDS)
        return token

    @property
    def refusal_fingerprint(self) -> str:
        """The account as the token endpoint judges it: app id, secret and API base."""
        raw = "\n".join((self.appid, self.secret, self._http.base_url))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _raise_if_refused(self) -> None:
        """The token endpoint refused this very account for good (40013, 40125): fail without asking."""
        refused = self._store.refusal_get(self.refusal_fingerprint)
        if refused is not None:
            error = WeChatClientException(refused[0], refused[1], client=self)
            error.token_fetch = True
            raise error

    def token_refresh(self, *, stale: str | None) -> str:
        """Return a token other than `stale`, fetching one only if nobody else is doing so."""
        key = self.access_token_key
        self._raise_if_refused()
        deadline = time.monotonic() + self._token_wait
        while True:
            token = self._store.get(key)
            if token and token != stale:
                return token
            owner = self._store.lock_acquire(key, TOKEN_LOCK_TTL)
            if owner:
                try:
                    token = self._store.get(key)
                    if token and token != stale:
                        return token
                    self.fetch_access_token()
                    token = self._store.get(key)
                    if token:
                        return token
                finally:
                    self._store.lock_release(key, owner)
            if time.monotonic() > deadline:
                # Classified as retryable: another process holds the lock and is slow.
                raise requests.Timeout(f"no access token for {self.appid} after {self._token_wait:.0f}s")
            time.sleep(TOKEN_WAIT_POLL)

    def _raise_for_http_status(self, res: requests.Response) -> None:
        """An HTTP error answer (5xx, 4xx) as wechatpy's exception, so callers classify one type."""
        try:
            res.raise_for_status()
        except requests.RequestException as exc:
            raise WeChatClientException(
                errcode=None, errmsg=None, client=self, request=exc.request, response=exc.response
            ) from exc

    def _fetch_access_token(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        logger.info("fetching access token for %s", self.appid)
        res = self._http.get(url=url, params=params)
        self._raise_for_http_status(res)
        result = res.json()
        if result.get("errcode"):
            error = WeChatClientException(
                result["errcode"], result.get("errmsg", ""), client=self, request=res.request, response=res
            )
            error.token_fetch = True
            if int(result["errcode"]) in PERMANENT_TOKEN_REFUSALS:
                self._store.refusal_remember(self.refusal_fingerprint, int(result["errcode"]), str(result.get("errmsg", "")))
            raise error
        expires_in = int(result.get("expires_in") or 7200)
        # Stop handing the token out a little before WeChat stops accepting it.
        ttl = max(expires_in - min(300, expires_in // 10), 1)
        self._store.set(self.access_token_key, result["access_token"], ttl)
        self.expires_at = int(time.time()) + expires_in
        return result

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        params = kwargs.pop("params", None) or {}
        token = self.access_token
        try:
            return super()._request(method, url_or_endpoint, params={**params, "access_token": token}, **kwargs)  # type: ignore[misc]
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            logger.info("access token of %s rejected (%s); refreshing once", self.appid, exc.errcode)
        self._token_memo = None
        self._store.delete_if_equal(self.access_token_key, token)
        token = self._token_remember(self.token_refresh(stale=token))
        return super()._request(method, url_or_endpoint, params={**params, "access_token": token}, **kwargs)  # type: ignore[misc]

    def request_without_token(self, method: str, url: str, params: dict[str, Any]) -> dict[str, Any]:
        """A call that authenticates with the app secret instead of a token (jscode2session)."""
        res = self._http.request(method, url, params=params)
        self._raise_for_http_status(res)
        return self._handle_result(res, method, url)


class ScrmWeChatClient(SharedTokenMixin, _WeChatClient):
    """Service account or mini-program client."""

    def __init__(self, *, appid: str, secret: str, base_url: str, timeout: float, store: TokenStore):
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._shared_setup(base_url=base_url, timeout=timeout, store=store)


class ScrmWeComClient(SharedTokenMixin, _WeComClient):
    """WeCom corp app client."""

    def __init__(self, *, corp_id: str, secret: str, base_url: str, timeout: float, store: TokenStore):
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self._shared_setup(base_url=base_url, timeout=timeout, store=store)

    @property
    def access_token_key(self) -> str:
        # wechatpy puts the first 10 characters of the secret in the key; a digest keeps the
        # per-secret separation without writing any of the secret to Redis.
        digest = hashlib.sha256(self.secret.encode()).hexdigest()[:16]
        return f"{self.corp_id}_{digest}_access_token"


_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def _clients_forget_after_fork() -> None:
    """A forked child must not use its parent's clients: their pooled keep-alive sockets are shared
    with the parent (and the child's siblings), and two processes writing requests into one socket
    interleave them (the sandbox then reads one request's start as another's body: 47001)."""
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_clients_forget_after_fork)


def _cache_key(account) -> tuple:
    secret_digest = hashlib.sha256((account.app_secret or "").encode()).hexdigest()
    return (
        account.pk,
        account.kind,
        account.app_id,
        secret_digest,
        account.resolved_api_base_url,
        settings.WECHAT_HTTP_TIMEOUT,
    )


def build_client(account) -> ScrmWeChatClient | ScrmWeComClient:
    """A new client for `account` (a new HTTP session; the token store is shared regardless)."""

    common = {
        "secret": account.app_secret,
        "base_url": account.resolved_api_base_url,
        "timeout": settings.WECHAT_HTTP_TIMEOUT,
        "store": TokenStore(),
    }
    if account.kind == AccountKind.WECOM:
        return ScrmWeComClient(corp_id=account.app_id, **common)
    return ScrmWeChatClient(appid=account.app_id, **common)


def _cached_client(account) -> Any:
    key = _cache_key(account)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = build_client(account)
    return client


def wechat_client(account) -> ScrmWeChatClient:
    """The process's client for a service account or mini-program."""

    if account.kind == AccountKind.WECOM:
        raise ValueError(f"account {account.pk} is a WeCom corp; use wecom_client")
    return _cached_client(account)


def wecom_client(account) -> ScrmWeComClient:
    """The process's client for a WeCom corp app."""

    if account.kind != AccountKind.WECOM:
        raise ValueError(f"account {account.pk} is not a WeCom corp; use wechat_client")
    return _cached_client(account)
