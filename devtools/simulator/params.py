"""The simulator's knobs (SimParams), its people (Person) and what it reports (SimResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

SIM_TZ = "Asia/Shanghai"


@dataclass
class SimParams:
    customers: int = 300
    weeks: int = 4
    warmup_days: int = 14
    topics: int = 6
    campaigns_per_week: int = 3
    send_hour: int = 10
    seed: int = 7
    reading_hours: str = "9:0.2,12:0.3,17:0.15,20:0.35"
    session_rate: float = 0.9
    bury_hours: float = 6.0
    click_if_interested: float = 0.6
    click_if_not: float = 0.02
    patience_min: int = 4
    patience_max: int = 10
    patience_days: int = 14
    visit_rate: float = 0.25
    off_interest_visit_share: float = 0.15
    # "tags": steered campaigns target the behavioural interest tag's segment; "predicted": the
    # whole segment with the campaign's precision targeting (top_percent by predicted engagement).
    steering: str = "tags"
    top_percent: int = 25
    start: datetime = field(default_factory=lambda: datetime(2030, 3, 4, 0, 0, tzinfo=ZoneInfo(SIM_TZ)))  # a Monday


@dataclass
class Person:
    index: int
    interests: frozenset[int]
    reading_hour: int
    reading_minute: int
    patience: int


@dataclass
class ArmResult:
    name: str
    pushes: int = 0
    clicks: int = 0
    unfollows: int = 0

    @property
    def clicks_per_push(self) -> float:
        return self.clicks / self.pushes if self.pushes else 0.0


@dataclass
class SimResult:
    blast: ArmResult
    steered: ArmResult

    @property
    def goal_met(self) -> bool:
        b, s = self.blast, self.steered
        return s.clicks >= 0.9 * b.clicks and s.pushes <= 0.5 * b.pushes and s.unfollows <= 0.5 * b.unfollows

    def table(self) -> str:
        rows = [("", "pushes", "clicks", "clicks/push", "unfollows")]
        for arm in (self.blast, self.steered):
            rows.append((arm.name, str(arm.pushes), str(arm.clicks), f"{arm.clicks_per_push:.3f}", str(arm.unfollows)))
        b, s = self.blast, self.steered
        rows.append(
            (
                "steered/blast",
                _ratio(s.pushes, b.pushes),
                _ratio(s.clicks, b.clicks),
                _ratio(s.clicks_per_push, b.clicks_per_push),
                _ratio(s.unfollows, b.unfollows),
            )
        )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
        verdict = "met" if self.goal_met else "NOT met"
        lines.append(f"goal (steered ≥ 90% of blast's clicks, ≤ ½ pushes, ≤ ½ unfollows): {verdict}")
        return "\n".join(lines)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"
