"""Error classification: every failure of a WeChat call becomes a SendOutcome that says whether a
retry can help (and when), or why it never will."""

from __future__ import annotations

import json
import random
from typing import Any

import redis
import requests
from django.utils.translation import gettext_lazy as _
from wechatpy.exceptions import WeChatClientException

from messaging.channels.base import SendOutcome
from messaging.channels.hosts import ApiHostRefused
from messaging.channels.quota import DAILY_QUOTA_ERRCODES, MINUTE_QUOTA_ERRCODES, quota_turns
from messaging.errors import SendErrorCode

# Token invalid / expired: the client refreshes once and retries once (see clients.py).
TOKEN_ERRORS = frozenset({40001, 40014, 42001})

# Temporary conditions, with how long to wait before trying again (seconds).
RETRYABLE_ERRORS: dict[int, float] = {
    -1: 2.0,  # system busy
    45033: 1.0,  # WeCom concurrency limit
    45066: 60.0,  # same clientmsgid retried too fast
}
# Quota errors are not transient (WECHAT.md §11): 45009 waits for the next quota day, 45011 for the
# next minute; retrying in minutes only spends attempts (messaging/channels/quota.py).
QUOTA_ERRCODES = DAILY_QUOTA_ERRCODES | MINUTE_QUOTA_ERRCODES

# Codes whose permanent failure changes what we know about the customer (see services.py).
NOT_FOLLOWING = 43004
BLACKLISTED = 43019
USER_REFUSED = 43101
# Mass send: a message with this clientmsgid was already sent (the response names its msg_id).
CLIENTMSGID_EXISTS = 45065

# What WeChat's codes mean, for operators (global return codes: 全局返回码,
# https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html).
ERRCODE_MEANINGS: dict[int, Any] = {
    -1: _("WeChat is busy; try again in a moment"),
    40001: _("the access token is invalid (the app secret may have changed)"),
    40013: _("the app ID is not valid"),
    40014: _("the access token is invalid"),
    40037: _("the template ID is not valid"),
    40125: _("the app secret is wrong"),
    40164: _("this server's IP address is not on the account's IP whitelist (set it in WeChat's console)"),
    41001: _("the access token is missing"),
    42001: _("the access token expired"),
    45009: _("the account's daily API quota is used up; it resets at midnight Beijing time"),
    45011: _("the API's per-minute quota is used up; it resets next minute"),
    45015: _("the customer has not interacted within the customer-service window"),
    45047: _("the customer-service messages allowed in the customer's window are used up"),
    45026: _("the account already has 25 templates, WeChat's limit"),
    48001: _("the account is not authorized for this API (not verified, or the feature is not enabled)"),
    50002: _("the account is restricted (blocked or under review)"),
}


def errcode_meaning(errcode: int | None) -> str:
    """An operator's sentence for a WeChat errcode ("" when we have none)."""
    meaning = ERRCODE_MEANINGS.get(errcode) if errcode is not None else None
    return str(meaning) if meaning is not None else ""


NETWORK_RETRY_AFTER = 2.0
# A token still refused after one refresh: usually several refreshes raced; try again shortly.
TOKEN_RETRY_AFTER = 5.0


def outcome_for_errcode(errcode: int | None, errmsg: str = "") -> SendOutcome:
    """The outcome of a WeChat error code (None = the HTTP layer failed without one)."""
    if errcode in QUOTA_ERRCODES:
        until, wait = quota_turns(daily=errcode in DAILY_QUOTA_ERRCODES)
        return SendOutcome(status="retryable", error_code=str(errcode), error_message=errmsg, retry_after=wait, defer_until=until)
    if errcode in RETRYABLE_ERRORS:
        return SendOutcome(
            status="retryable", error_code=str(errcode), error_message=errmsg, retry_after=RETRYABLE_ERRORS[errcode]
        )
    return SendOutcome(
        status="permanent", error_code=str(errcode), error_message=errmsg or "WeChat refused the request"
    )


class RateLimitDeferred(Exception):
    """A request was about to leave with a stale rate-limit grant and a fresh one is further away than
    the adapter blocks for (messaging/channels/ratelimit.py): nothing was sent; retry after `wait`."""

    def __init__(self, wait: float):
        super().__init__(f"account send rate limit: next grant in {wait:.2f}s")
        self.wait = wait


def classify_exception(exc: BaseException) -> SendOutcome:
    """Map an exception raised while calling WeChat to a retryable or permanent outcome."""
    if isinstance(exc, RateLimitDeferred):
        return SendOutcome(
            status="retryable", error_code=SendErrorCode.RATE_LIMITED, error_message="account send rate limit", retry_after=exc.wait
        )
    if isinstance(exc, ApiHostRefused):
        # The account points at a host that may not receive its secret: retrying cannot help.
        return SendOutcome(status="permanent", error_code=SendErrorCode.API_HOST_REFUSED, error_message=str(exc)[:255])
    if isinstance(exc, requests.Timeout):
        return SendOutcome(
            status="retryable", error_code=SendErrorCode.TIMEOUT, error_message=str(exc)[:255], retry_after=NETWORK_RETRY_AFTER
        )
    if isinstance(exc, requests.ConnectionError):
        return SendOutcome(
            status="retryable",
            error_code=SendErrorCode.CONNECTION_ERROR,
            error_message=str(exc)[:255],
            retry_after=NETWORK_RETRY_AFTER,
        )
    if isinstance(exc, WeChatClientException):
        if exc.errcode is None:
            status = getattr(exc.response, "status_code", None)
            if status is not None and status >= 500:
                return SendOutcome(
                    status="retryable",
                    error_code=f"http_{status}",
                    error_message="WeChat server error",
                    retry_after=NETWORK_RETRY_AFTER,
                )
            if status == 429:
                return SendOutcome(
                    status="retryable",
                    error_code=SendErrorCode.HTTP_429,
                    error_message="Too many requests",
                    retry_after=NETWORK_RETRY_AFTER,
                )
            return SendOutcome(
                status="permanent", error_code=f"http_{status}", error_message="WeChat answered an HTTP error"
            )
        errcode, errmsg = int(exc.errcode), str(exc.errmsg or "")
        if getattr(exc, "token_fetch", False) and errcode not in RETRYABLE_ERRORS and errcode not in QUOTA_ERRCODES:
            # The token endpoint itself refused (bad app id or secret, IP not whitelisted).
            return SendOutcome(
                status="permanent", error_code=str(errcode), error_message=f"access token refused: {errmsg}"
            )
        if errcode in TOKEN_ERRORS:
            return SendOutcome(
                status="retryable", error_code=str(errcode), error_message=errmsg, retry_after=TOKEN_RETRY_AFTER
            )
        return outcome_for_errcode(errcode, errmsg)
    if isinstance(exc, requests.RequestException):
        return SendOutcome(
            status="retryable", error_code=SendErrorCode.HTTP_ERROR, error_message=str(exc)[:255], retry_after=NETWORK_RETRY_AFTER
        )
    if isinstance(exc, redis.RedisError):
        # The token store or the rate limiter is unreachable: nothing was sent.
        return SendOutcome(
            status="retryable",
            error_code=SendErrorCode.REDIS_ERROR,
            error_message=type(exc).__name__,
            retry_after=NETWORK_RETRY_AFTER,
        )
    if isinstance(exc, ValueError):
        # Not JSON where JSON was expected: a broken proxy or a server mid-restart.
        return SendOutcome(
            status="retryable", error_code=SendErrorCode.BAD_RESPONSE, error_message=str(exc)[:255], retry_after=NETWORK_RETRY_AFTER
        )
    raise exc


def error_response_json(exc: WeChatClientException) -> dict[str, Any]:
    """The JSON body of the response that raised `exc` ({} when there is none)."""
    response = getattr(exc, "response", None)
    if response is None:
        return {}
    try:
        body = json.loads(response.content.decode("utf-8", "ignore"))
    except (ValueError, AttributeError):
        return {}
    return body if isinstance(body, dict) else {}


def backoff_delay(attempt: int, *, base: float = 1.0, cap: float = 300.0, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based): exponential backoff with "equal
    jitter" (half fixed, half random), never shorter than WeChat's own hint."""
    ceiling = min(cap, base * (2 ** max(attempt, 0)))
    delay = random.uniform(ceiling / 2, ceiling)
    if retry_after:
        delay = max(delay, retry_after)
    return delay
