"""The dashboard's cache of slow figures: read through, and never a reason to fail or to wait.

When the health card found Redis down (`usable=False`) the cache is not touched at all: a dead
Redis would cost a connection attempt per figure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "console:dashboard:"


def cached(key: str, ttl: int, compute: Callable[[], T], *, usable: bool = True, refresh: bool = False) -> T:
    if usable and not refresh:
        try:
            hit: Any = cache.get(PREFIX + key)
        except Exception:
            logger.warning("dashboard cache unreadable", exc_info=True)
            usable, hit = False, None
        if hit is not None:
            return hit
    value = compute()
    if usable:
        try:
            cache.set(PREFIX + key, value, ttl)
        except Exception:
            logger.warning("dashboard cache unwritable", exc_info=True)
    return value
