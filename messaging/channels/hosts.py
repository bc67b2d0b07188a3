"""Where a channel account's API calls — and with them its app secret and access tokens — may go.

An operator who may change an account must not be able to send its secret to a host of their
choosing (issue 14, defect 1): an account's `api_base_url` is one of WeChat's own API hosts over
HTTPS, an API base the deployment configured (`WECHAT_API_BASE_URL`, `WECOM_API_BASE_URL`), or a
sandbox the deployment lists (`WECHAT_SANDBOX_URLS`; by default the local sandbox in development,
none in production). A sandbox this very process started (tests, benchmarks, the simulator) is
trusted too. The API and the admin refuse any other URL; the WeChat client refuses to send to one
(clients.py), and sandbox registration goes only to a listed sandbox.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext

# WeChat's API hosts: the main one and its disaster-recovery / regional ones (WeChat's
# "获取 Access token" and "网络检测" pages list them), WeCom's (qyapi) — the hosts wechatpy defaults to.
WECHAT_API_HOSTS = frozenset({
    "api.weixin.qq.com",
    "api2.weixin.qq.com",
    "sh.api.weixin.qq.com",
    "sz.api.weixin.qq.com",
    "hk.api.weixin.qq.com",
    "qyapi.weixin.qq.com",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Sandboxes started by this process (SandboxServer.start): their URL is known to be ours.
_started_sandboxes: set[tuple[str, str, int]] = set()

Origin = tuple[str, str, int]


class ApiHostRefused(requests.RequestException):
    """A request to a host that is neither WeChat's nor a listed sandbox: nothing was sent."""


def origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL without credentials in it, else None."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[parts.scheme]


def sandbox_started(url: str) -> None:
    """Trust a sandbox this process has just started (called by SandboxServer.start)."""
    found = origin(url)
    if found is not None:
        _started_sandboxes.add(found)


def _sandbox_origins() -> set[Origin]:
    listed = {origin(url) for url in settings.WECHAT_SANDBOX_URLS}
    return {o for o in listed if o is not None} | _started_sandboxes


def is_sandbox_url(url: str) -> bool:
    """True when `url` is a sandbox the deployment lists (or this process started)."""
    found = origin(url)
    return found is not None and found in _sandbox_origins()


def is_allowed_api_url(url: str) -> bool:
    """True when a request to `url` may carry an account's secret or token."""
    found = origin(url)
    if found is None:
        return False
    if found[0] == "https" and found[1] in WECHAT_API_HOSTS and found[2] == 443:
        return True
    configured = {origin(settings.WECHAT_API_BASE_URL), origin(settings.WECOM_API_BASE_URL)}
    return found in configured or found in _sandbox_origins()


def api_base_url_problem(url: str) -> str | None:
    """Why `url` cannot be an account's API base URL (a sentence for the operator), or None."""
    if not url or is_allowed_api_url(url):
        return None
    return gettext(
        "The API base URL must be one of WeChat's API hosts over HTTPS (%(hosts)s) or a sandbox this "
        "deployment lists in WECHAT_SANDBOX_URLS; leave it empty for WeChat's default."
    ) % {"hosts": ", ".join(sorted(WECHAT_API_HOSTS))}


def api_url_check(url: str) -> None:
    """Raise ApiHostRefused unless a request to `url` may carry an account's secret or token."""
    if not is_allowed_api_url(url):
        found = origin(url)
        where = f"{found[0]}://{found[1]}:{found[2]}" if found else "a URL that is not http(s)"
        raise ApiHostRefused(f"refused to send a WeChat API request to {where}: not WeChat's and not a listed sandbox")
