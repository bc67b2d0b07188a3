"""Per-account send rate limit, shared by every worker on every host.

A token bucket in its GCRA form: Redis keeps one number per account, the "theoretical arrival
time" of the next allowed send; a Lua script (atomic) admits a send when that time has come and
pushes it one emission interval further. Redis' own clock is used, so hosts with skewed clocks
still share one schedule. The bucket holds a single token: grants are spaced evenly.

The limit is a promise about what the receiver counts (WeChat; the sandbox's per-second count,
messaging/sandbox/rates.py), not about grants. Between a grant and the request reaching the receiver
lies the sending thread's own time (a process descheduled on a busy machine for a few hundred
milliseconds, then sending every grant it held at once: the two-host drill saw 45 sends in one second
at a 40/s limit) and the network's. So:

- **A grant is used at once or not at all.** The adapter holds its grant while it prepares the
  request (`permit_held`); the HTTP session calls `permit_spend` as the request leaves: a grant older
  than `RATE_LIMIT_PERMIT_MAX_AGE` (50 ms) is dropped and a fresh one taken, and a request that
  finds no grant held (a second request of the same send: a token refresh, its retry) takes its own.
- **Grants carry a margin for what remains** (the grant's permitted age, the network, the receiver's
  scheduling: `RATE_LIMIT_JITTER_SECONDS`, 100 ms): they are spaced (1 s + jitter) / (limit − 1)
  apart, so that any window of 1 s + jitter holds at most `limit` grants, and any receiver's second
  at most `limit` requests while each arrives within the jitter of its grant. At 40/s that is
  35.5 grants a second; at 1,000/s, 908.

Embedded mode (no Redis): the same algorithm in process memory; it limits one process only.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from messaging.channels.errors import RateLimitDeferred, backoff_delay
from scrm.redis import get_redis

# backoff_delay lives with the error classification; importable from here too.
__all__ = [
    "backoff_delay", "permit_held", "permit_spend", "rate_limit_acquire", "rate_limit_interval", "rate_limit_reset",
    "rate_limit_wait",
]

_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local burst = math.max(tonumber(ARGV[3]), n)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + n * interval
local allow_at = new_tat - burst * interval
if allow_at > now then
    return tostring(allow_at - now)
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""

BURST = 1

_local_lock = threading.Lock()
_local_tat: dict[int, float] = {}


def _key(account) -> str:
    return f"scrm:ratelimit:{account.pk}"


def rate_limit_interval(limit: int) -> float:
    """Seconds between two grants for a limit of `limit` requests in any receiver's second."""
    span = 1.0 + max(float(settings.RATE_LIMIT_JITTER_SECONDS), 0.0)
    return span / (limit - 1) if limit > 1 else span


def rate_limit_acquire(account, n: int = 1) -> float:
    """Take `n` sends from the account's budget: 0.0 means go now, otherwise the seconds to wait
    before asking again (nothing was taken)."""
    interval = rate_limit_interval(max(int(account.rate_limit_per_second or 1), 1))
    redis_client = get_redis()
    if redis_client is not None:
        return float(redis_client.eval(_GCRA, 1, _key(account), repr(interval), n, BURST))
    with _local_lock:
        now = time.monotonic()
        tat = max(_local_tat.get(account.pk, 0.0), now)
        new_tat = tat + n * interval
        allow_at = new_tat - max(BURST, n) * interval
        if allow_at > now:
            return allow_at - now
        _local_tat[account.pk] = new_tat
        return 0.0


def rate_limit_wait(account, n: int = 1, *, max_wait: float = 5.0) -> float:
    """Block until `n` sends are admitted (returns 0.0), or give up when the wait would pass
    `max_wait` seconds (returns the wait still needed, for the caller to reschedule)."""
    return _wait_granted(account, n, max_wait)[0]


def _wait_granted(account, n: int, max_wait: float) -> tuple[float, float]:
    """(wait still needed or 0.0, time.monotonic() just before the grant was asked for)."""
    deadline = time.monotonic() + max_wait
    while True:
        asked = time.monotonic()
        wait = rate_limit_acquire(account, n)
        if wait <= 0:
            return 0.0, asked
        if time.monotonic() + wait > deadline:
            return wait, asked
        time.sleep(wait)


@dataclass
class _Permit:
    account: Any
    asked_at: float  # time.monotonic() before the grant was asked for: its age is at least now - this
    max_wait: float
    spent: bool = False


_permit: ContextVar[_Permit | None] = ContextVar("scrm_rate_limit_permit", default=None)


@contextlib.contextmanager
def permit_held(account, *, max_wait: float = 5.0) -> Iterator[float]:
    """Take one grant (blocking up to `max_wait`) and hold it for the requests made inside the block.
    Yields 0.0 when granted, else the wait still needed (then nothing is held and the caller must not
    send). Requests made inside spend it through `permit_spend` as they leave."""
    wait, asked = _wait_granted(account, 1, max_wait)
    if wait > 0:
        yield wait
        return
    token = _permit.set(_Permit(account=account, asked_at=asked, max_wait=max_wait))
    try:
        yield 0.0
    finally:
        _permit.reset(token)


def permit_spend() -> None:
    """Called as a request leaves (messaging/channels/clients.RewritingSession.send). Outside
    `permit_held`: nothing. Inside: use the held grant when it is still fresh, else take a fresh one
    (blocking); raises RateLimitDeferred (nothing sent) when that is further away than the holder
    blocks for."""
    permit = _permit.get()
    if permit is None:
        return
    max_age = float(settings.RATE_LIMIT_PERMIT_MAX_AGE)
    while True:
        if not permit.spent and time.monotonic() - permit.asked_at <= max_age:
            permit.spent = True
            return
        wait, asked = _wait_granted(permit.account, 1, permit.max_wait)
        if wait > 0:
            raise RateLimitDeferred(wait)
        permit.asked_at, permit.spent = asked, False


def rate_limit_reset(account) -> None:
    """Forget the account's schedule (after its rate was changed)."""
    redis_client = get_redis()
    if redis_client is not None:
        redis_client.delete(_key(account))
    else:
        with _local_lock:
            _local_tat.pop(account.pk, None)
