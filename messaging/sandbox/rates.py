"""API requests per second, per app: what the sandbox received and when, to check a sender's rate.

Not one of WeChat's APIs (WeChat publishes no per-second limit for the send APIs; its limits are per
minute and per day, limits.py): a measuring instrument for drills. A product that shares one rate
limit among many workers on many hosts (messaging/channels/ratelimit.py) claims no second ever
carries more than the account's `rate_limit_per_second` sends; the sandbox is where that is seen
from the receiving side, as WeChat would see it.

Every API request is counted in 100 ms buckets of real time (not the sandbox's advanceable clock)
by app id, API path and client address. `summary` answers the count in each calendar second, the
largest of those, the largest count in any one-second window sliding by 100 ms (stricter: a
limiter that bunches its sends across a second boundary shows there), and the totals per client
address (which host sent how much).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable

BUCKETS_PER_SECOND = 10
# Buckets older than this are dropped once there are many of them (a long-running sandbox).
KEEP_SECONDS = 3600
PRUNE_ABOVE = 200_000


class RequestRates:
    """Request counts by (app id, path, client address, 100 ms bucket); thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, str, str, int], int] = defaultdict(int)

    def record(self, *, app_id: str, path: str, client: str) -> None:
        bucket = int(self.clock() * BUCKETS_PER_SECOND)
        with self.lock:
            self.counts[(app_id, path, client, bucket)] += 1
            if len(self.counts) > PRUNE_ABOVE:
                oldest = bucket - KEEP_SECONDS * BUCKETS_PER_SECOND
                self.counts = defaultdict(int, {k: n for k, n in self.counts.items() if k[3] >= oldest})

    def summary(
        self, *, app_id: str | None = None, path_contains: str | None = None, since: float | None = None,
        until: float | None = None,
    ) -> dict:
        """Counts of the matching requests: per calendar second, the maxima, per client, in total."""
        first = int(since * BUCKETS_PER_SECOND) if since is not None else None
        last = int(until * BUCKETS_PER_SECOND) if until is not None else None
        buckets: dict[int, int] = defaultdict(int)
        by_client: dict[str, int] = defaultdict(int)
        with self.lock:
            items = list(self.counts.items())
        for (app, path, client, bucket), n in items:
            if app_id is not None and app != app_id:
                continue
            if path_contains and path_contains not in path:
                continue
            if (first is not None and bucket < first) or (last is not None and bucket > last):
                continue
            buckets[bucket] += n
            by_client[client] += n
        per_second: dict[int, int] = defaultdict(int)
        for bucket, n in buckets.items():
            per_second[bucket // BUCKETS_PER_SECOND] += n
        return {
            "per_second": sorted(per_second.items()),
            "max_per_second": max(per_second.values(), default=0),
            "max_in_any_second": _max_sliding(buckets),
            "by_client": dict(sorted(by_client.items())),
            "total": sum(buckets.values()),
        }


def _max_sliding(buckets: dict[int, int]) -> int:
    """The largest count in any BUCKETS_PER_SECOND consecutive buckets (a one-second window)."""
    best = 0
    for start in buckets:
        # Every maximal window can be moved right until it starts at a non-empty bucket.
        best = max(best, sum(buckets.get(start + i, 0) for i in range(BUCKETS_PER_SECOND)))
    return best


def request_rates(server, params: dict) -> dict:
    """Control call `request_rates`: app_id, path_contains, since, until (epoch seconds) — all optional."""
    since, until = params.get("since"), params.get("until")
    return server.state.rates.summary(
        app_id=params.get("app_id") or None, path_contains=params.get("path_contains") or None,
        since=float(since) if since is not None else None, until=float(until) if until is not None else None,
    )
