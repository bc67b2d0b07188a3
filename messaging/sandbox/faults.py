"""Faults injected into the sandbox on request (errors at a rate, latency, short token lives, a daily
quota), so tests and drills can see the product cope with WeChat misbehaving."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Faults:
    rate_45009: float = 0.0
    rate_busy: float = 0.0
    latency_ms: int = 0
    token_ttl: int | None = None
    daily_quota: dict[str, int] = field(default_factory=dict)  # app_id -> sends per day
    paths: list[str] = field(default_factory=list)  # empty: every API except token endpoints
    seed: int | None = None

    def public(self) -> dict:
        return {
            "rate_45009": self.rate_45009,
            "rate_busy": self.rate_busy,
            "latency_ms": self.latency_ms,
            "token_ttl": self.token_ttl,
            "daily_quota": dict(self.daily_quota),
            "paths": list(self.paths),
            "seed": self.seed,
        }
