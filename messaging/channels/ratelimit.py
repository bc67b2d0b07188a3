"""Per-account send rate limit, shared by every worker on every host.

A token bucket in its GCRA form: Redis keeps one number per account, the "theoretical arrival
time" of the next allowed send; a Lua script (atomic) admits a send when that time has come and
pushes it one emission interval (1 / rate) further. Redis' own clock is used, so hosts with skewed
clocks still share one schedule. The bucket holds a single token: sends are spaced evenly, and no
one-second window ever sees more than `account.rate_limit_per_second` of them.

Embedded mode (no Redis): the same algorithm in process memory; it limits one process only.
"""

from __future__ import annotations

import threading
import time

from messaging.channels.errors import backoff_delay
from scrm.redis import get_redis

# backoff_delay lives with the error classification; importable from here too.
__all__ = ["backoff_delay", "rate_limit_acquire", "rate_limit_reset", "rate_limit_wait"]

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


def rate_limit_acquire(account, n: int = 1) -> float:
    """Take `n` sends from the account's budget: 0.0 means go now, otherwise the seconds to wait
    before asking again (nothing was taken)."""
    rate = max(int(account.rate_limit_per_second or 1), 1)
    interval = 1.0 / rate
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
    deadline = time.monotonic() + max_wait
    while True:
        wait = rate_limit_acquire(account, n)
        if wait <= 0:
            return 0.0
        if time.monotonic() + wait > deadline:
            return wait
        time.sleep(wait)


def rate_limit_reset(account) -> None:
    """Forget the account's schedule (after its rate was changed)."""
    redis_client = get_redis()
    if redis_client is not None:
        redis_client.delete(_key(account))
    else:
        with _local_lock:
            _local_tat.pop(account.pk, None)
