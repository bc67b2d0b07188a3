"""Where access tokens live, shared by every process, and the lock that lets one process refresh.

WeChat invalidates the previous token a few minutes after each fetch and allows 2,000 fetches a
day, so workers must never fetch on their own: the token sits in Redis (wechatpy's RedisStorage,
key `scrm:wechat:{appid}_access_token`), and a refresh happens under `SET NX EX` so that N
concurrent senders cause one fetch while the others wait and read its result.

Embedded mode (settings.REDIS_URL empty, e.g. `make run` on a bare machine): the token lives in
Django's cache (the file cache), and the lock is `cache.add`, which is atomic enough for the few
processes of a single host. It is not meant for several hosts.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.cache import cache
from wechatpy.session import SessionStorage
from wechatpy.session.redisstorage import RedisStorage
from wechatpy.utils import json

from scrm.redis import get_redis

TOKEN_PREFIX = "scrm:wechat"
# Token-endpoint refusals that only a change of the account can cure: 40013 the app id is not valid,
# 40125 the app secret is not valid. Remembered per account fingerprint (app id, secret, API base),
# so the next sends fail at once instead of asking WeChat again per delivery (a 50,000-recipient
# campaign on a wrong app id was 50,000 token fetches); an edited account has another fingerprint.
PERMANENT_TOKEN_REFUSALS = frozenset({40013, 40125})
REFUSAL_TTL = 24 * 3600

_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class DjangoCacheStorage(SessionStorage):
    """wechatpy session storage over Django's cache, for the embedded mode without Redis."""

    def __init__(self, prefix: str = TOKEN_PREFIX):
        self.prefix = prefix

    def key_name(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        return cache.get(self.key_name(key), default)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is not None:
            cache.set(self.key_name(key), value, ttl)

    def delete(self, key: str) -> None:
        cache.delete(self.key_name(key))


class TokenStore:
    """The token storage handed to wechatpy, plus the compare-and-delete and the lock it lacks."""

    def __init__(self) -> None:
        redis_client = get_redis()
        self.redis = redis_client
        self.session: SessionStorage = (
            RedisStorage(redis_client, prefix=TOKEN_PREFIX) if redis_client is not None else DjangoCacheStorage()
        )

    def get(self, key: str) -> str | None:
        return self.session.get(key)

    def set(self, key: str, value: str, ttl: int) -> None:
        self.session.set(key, value, ttl)

    def delete_if_equal(self, key: str, value: str) -> bool:
        """Forget `value` only if it is still the stored token: a fresher one stays."""
        full_key = f"{TOKEN_PREFIX}:{key}"
        if self.redis is not None:
            return bool(self.redis.eval(_COMPARE_AND_DELETE, 1, full_key, json.dumps(value)))
        if cache.get(full_key) == value:
            cache.delete(full_key)
            return True
        return False

    def lock_acquire(self, key: str, ttl: float) -> str | None:
        """Take the refresh lock for `key`; returns the owner id to release it with, or None."""
        owner = uuid.uuid4().hex
        lock_key = f"{TOKEN_PREFIX}:lock:{key}"
        if self.redis is not None:
            acquired = self.redis.set(lock_key, owner, nx=True, px=max(int(ttl * 1000), 1))
        else:
            acquired = cache.add(lock_key, owner, timeout=max(int(ttl), 1))
        return owner if acquired else None

    def lock_release(self, key: str, owner: str) -> None:
        lock_key = f"{TOKEN_PREFIX}:lock:{key}"
        if self.redis is not None:
            self.redis.eval(_COMPARE_AND_DELETE, 1, lock_key, owner)
        elif cache.get(lock_key) == owner:
            cache.delete(lock_key)

    def is_locked(self, key: str) -> bool:
        lock_key = f"{TOKEN_PREFIX}:lock:{key}"
        if self.redis is not None:
            return bool(self.redis.exists(lock_key))
        return cache.get(lock_key) is not None

    # --- refusals of the token endpoint that only an edit of the account cures ---------------

    def refusal_remember(self, fingerprint: str, errcode: int, errmsg: str) -> None:
        value = json.dumps({"errcode": errcode, "errmsg": errmsg})
        key = f"{TOKEN_PREFIX}:refused:{fingerprint}"
        if self.redis is not None:
            self.redis.set(key, value, ex=REFUSAL_TTL)
        else:
            cache.set(key, value, REFUSAL_TTL)

    def refusal_get(self, fingerprint: str) -> tuple[int, str] | None:
        key = f"{TOKEN_PREFIX}:refused:{fingerprint}"
        raw = self.redis.get(key) if self.redis is not None else cache.get(key)
        if raw is None:
            return None
        data = json.loads(raw)
        return int(data["errcode"]), str(data.get("errmsg", ""))

    def refusal_forget(self, fingerprint: str) -> None:
        key = f"{TOKEN_PREFIX}:refused:{fingerprint}"
        if self.redis is not None:
            self.redis.delete(key)
        else:
            cache.delete(key)
