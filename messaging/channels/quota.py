"""WeChat's API quotas on the product's side: what an account may still call before the call is made,
and what is left of the quota day once WeChat refused with a quota error.

The quota day. WeChat counts its daily quotas (接口调用频次限制说明 "每日限额",
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/API_Call_Limits.html) per day of
its own platform clock, Beijing time: a quota day ends at midnight Asia/Shanghai
(settings.WECHAT_QUOTA_TIMEZONE), whatever the account's or the customer's time zone. WeChat does
not name the hour on that page [unverified: taken from the platform's clock and operators' reports];
a send deferred a little early meets the quota error again and is deferred again, never failed.

Limits known in advance, per account and API (an API is named by the message type it sends):
- template messages: `account.template_daily_quota` per quota day (模板消息接口, default 100,000,
  https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html);
- mass sends of a (verified) service account: 100 calls per quota day and 60 per minute (群发接口,
  https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html).
The customer-service window (per customer) is the customers' fact: customers/services/cs_window.py.

Counts live in Redis, one key per account, API and quota day (or minute), taken by one Lua script, so
workers on every host share them; the embedded mode (no Redis) counts in process memory. A call
counts when it is let through, whatever WeChat then answers: WeChat counts refused calls too.

When WeChat answers a quota error anyway (another system shares the app, or WeChat's count is off by
its documented ~1%), the API is marked used up until the quota day turns: nobody calls it again today.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from messaging.errors import SendErrorCode
from scrm.redis import get_redis

# 群发接口: a verified service account may call the mass-send APIs 100 times a day, 60 times a minute.
MASS_CALLS_PER_DAY = 100
MASS_CALLS_PER_MINUTE = 60

# WeChat's quota errors: 45009 the API's daily quota is used up (until the quota day turns); 45011 a
# per-minute quota ("retry next minute").
DAILY_QUOTA_ERRCODES = frozenset({45009})
MINUTE_QUOTA_ERRCODES = frozenset({45011})



def quota_now() -> datetime:
    """The clock of the quota day (a seam: tests turn the quota day without waiting for midnight)."""
    return timezone.now()


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.WECHAT_QUOTA_TIMEZONE)


def quota_day(at: datetime | None = None) -> str:
    """The quota day `at` falls in, as YYYY-MM-DD of Beijing time."""
    return (at or quota_now()).astimezone(_zone()).strftime("%Y-%m-%d")


def next_quota_day(at: datetime | None = None) -> datetime:
    """When the quota day of `at` ends: the next midnight in Beijing time (aware, UTC)."""
    local = (at or quota_now()).astimezone(_zone())
    midnight = datetime(local.year, local.month, local.day, tzinfo=_zone()) + timedelta(days=1)
    return midnight.astimezone(UTC)


def next_minute(at: datetime | None = None) -> datetime:
    at = at or quota_now()
    return at.replace(second=0, microsecond=0) + timedelta(minutes=1)


def quota_turns(*, daily: bool) -> tuple[datetime, float]:
    """When a quota hit now turns (the next quota day, or the next minute), and the seconds until then."""
    now = quota_now()
    until = next_quota_day(now) if daily else next_minute(now)
    return until, seconds_until(until)


def seconds_until(at: datetime) -> float:
    """Seconds from the quota clock's now until `at`, at least one."""
    return max(1.0, (at - quota_now()).total_seconds())


@dataclass(frozen=True)
class QuotaRefusal:
    """Calls of an API the account may not make now: not before `until`, and why."""

    until: datetime
    reason: SendErrorCode
    detail: str


def api_limits(account, api: str) -> tuple[int | None, int | None]:
    """(calls per quota day, calls per minute) the account may make of `api`; None: no known limit."""
    if api == "template":
        return int(account.template_daily_quota), None
    if api == "mass" and account.kind == "oa":
        return MASS_CALLS_PER_DAY, MASS_CALLS_PER_MINUTE
    return None, None


def _keys(account, api: str, now: datetime) -> tuple[str, str, str]:
    base = f"scrm:quota:{account.pk}:{api}"
    day = quota_day(now)
    return f"{base}:day:{day}", f"{base}:minute:{int(now.timestamp() // 60)}", f"{base}:used-up:{day}"


# KEYS: day count, minute count, used-up marker. ARGV: n, day limit, minute limit (-1: none), day ttl.
# Returns {granted, why}: why is '' when all n were granted, else 'used_up', 'day' or 'minute'.
_TAKE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {0, 'used_up'} end
local n = tonumber(ARGV[1])
local day_limit, minute_limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local granted, why = n, ''
if day_limit >= 0 then
    local left = math.max(0, day_limit - tonumber(redis.call('GET', KEYS[1]) or '0'))
    if left < granted then granted, why = left, 'day' end
end
if minute_limit >= 0 then
    local left = math.max(0, minute_limit - tonumber(redis.call('GET', KEYS[2]) or '0'))
    if left < granted then granted, why = left, 'minute' end
end
if granted > 0 then
    redis.call('INCRBY', KEYS[1], granted)
    redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
    redis.call('INCRBY', KEYS[2], granted)
    redis.call('EXPIRE', KEYS[2], 120)
end
return {granted, why}
"""

_local_lock = threading.Lock()
_local: dict[str, tuple[int, float]] = {}  # key -> (count, expires at on the monotonic clock)


def _local_get(key: str) -> int:
    count, expires = _local.get(key, (0, 0.0))
    return count if expires > time.monotonic() else 0


def _local_take(keys: tuple[str, str, str], n: int, day_limit: int, minute_limit: int, day_ttl: int) -> tuple[int, str]:
    day_key, minute_key, used_up_key = keys
    with _local_lock:
        if len(_local) > 10_000:
            now = time.monotonic()
            for key in [k for k, (_c, expires) in _local.items() if expires <= now]:
                del _local[key]
        if _local_get(used_up_key):
            return 0, "used_up"
        granted, why = n, ""
        for key, limit, name in ((day_key, day_limit, "day"), (minute_key, minute_limit, "minute")):
            if limit >= 0:
                left = max(0, limit - _local_get(key))
                if left < granted:
                    granted, why = left, name
        if granted:
            _local[day_key] = (_local_get(day_key) + granted, time.monotonic() + day_ttl)
            _local[minute_key] = (_local_get(minute_key) + granted, time.monotonic() + 120)
        return granted, why


def api_quota_take(account, api: str, n: int = 1) -> tuple[int, QuotaRefusal | None]:
    """Take `n` calls of `api` from the account's quotas: (calls granted, the refusal of the rest or None).
    The granted calls are the first ones; the refused must wait until `refusal.until`."""
    per_day, per_minute = api_limits(account, api)
    now = quota_now()
    keys = _keys(account, api, now)
    day_limit = -1 if per_day is None else per_day
    minute_limit = -1 if per_minute is None else per_minute
    day_ttl = 2 * 24 * 3600
    redis_client = get_redis()
    if redis_client is not None:
        granted, why = redis_client.eval(_TAKE, 3, *keys, n, day_limit, minute_limit, day_ttl)
        granted, why = int(granted), why.decode() if isinstance(why, bytes) else str(why)
    else:
        granted, why = _local_take(keys, n, day_limit, minute_limit, day_ttl)
    if granted >= n:
        return granted, None
    return granted, _refusal(account, api, why, now, per_day, per_minute, redis_client, keys[2])


def _refusal(account, api: str, why: str, now: datetime, per_day, per_minute, redis_client, used_up_key: str) -> QuotaRefusal:
    if why == "minute":
        return QuotaRefusal(until=next_minute(now), reason=SendErrorCode.MASS_MINUTE_LIMIT, detail=f"{api}: {per_minute} calls a minute used")
    until = next_quota_day(now)
    if why == "day":
        reason = SendErrorCode.TEMPLATE_DAILY_QUOTA if api == "template" else SendErrorCode.MASS_DAILY_LIMIT
        return QuotaRefusal(until=until, reason=reason, detail=f"{api}: {per_day} calls in the quota day used")
    detail = (redis_client.get(used_up_key) or b"").decode() if redis_client is not None else ""
    return QuotaRefusal(until=until, reason=SendErrorCode.API_QUOTA_USED, detail=detail or f"{api}: quota used up")


def api_quota_used_up(account, api: str, *, detail: str) -> datetime:
    """WeChat refused `api` with a daily quota error: nobody calls it again until the quota day turns.
    Returns that moment."""
    now = quota_now()
    until = next_quota_day(now)
    ttl = max(1, int((until - now).total_seconds()) + 60)
    key = _keys(account, api, now)[2]
    redis_client = get_redis()
    if redis_client is not None:
        redis_client.set(key, detail[:200], ex=ttl)
    else:
        with _local_lock:
            _local[key] = (1, time.monotonic() + ttl)
    return until

