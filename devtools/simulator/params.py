"""The run's knobs (SimParams) and what a run reports (SimResult); the audience's own knobs are its options."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from devtools.simulator.audience import SIM_TZ, ArmTally
from devtools.simulator.diagnosis import ArmDiagnosis

ARMS = ("blast", "steered", "oracle")


@dataclass
class SimParams:
    customers: int = 100
    weeks: int = 2
    warmup_days: int = 14
    topics: int = 6
    campaigns_per_week: int = 3
    seed: int = 7
    # The marketing channel of every arm's campaigns (caps, fatigue and consent apply).
    channel: str = "oa_subscribe"
    arms: str = ",".join(ARMS)
    # "value": steered campaigns go to the whole segment steered by expected value (predicted click
    # with exploration, attention budget), reaching the top_percent of it by the Thompson draws (0:
    # no reach, everyone whose draw outweighs the disturbance); "tags": the behavioural interest
    # tag's segment; "predicted": the whole segment with precision targeting (top_percent by
    # predicted engagement).
    steering: str = "value"
    top_percent: int = 30
    start: datetime = field(default_factory=lambda: datetime(2030, 3, 4, 0, 0, tzinfo=ZoneInfo(SIM_TZ)))  # a Monday

    @property
    def arm_names(self) -> list[str]:
        return [name.strip() for name in self.arms.split(",") if name.strip()]


# Reliability bins of the predicted click probability.
BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 1.0001)


@dataclass
class Calibration:
    """Brier score and reliability table of predicted clicks against clicks (held-out pushes)."""

    pushes: int
    brier: float
    base_rate: float
    bins: list[tuple[float, float, int, float, float]]  # low, high, pushes, mean predicted, observed click rate

    @classmethod
    def of(cls, pairs: list[tuple[float, bool]]) -> Calibration:
        bins = []
        for low, high in zip(BINS, BINS[1:], strict=False):
            inside = [(p, y) for p, y in pairs if low <= p < high]
            if inside:
                bins.append((low, min(high, 1.0), len(inside), sum(p for p, _ in inside) / len(inside), sum(y for _, y in inside) / len(inside)))
        return cls(
            pushes=len(pairs),
            brier=sum((p - y) ** 2 for p, y in pairs) / len(pairs),
            base_rate=sum(y for _, y in pairs) / len(pairs),
            bins=bins,
        )

    def text(self) -> str:
        # The Brier score of always predicting the base rate, for comparison.
        reference = self.base_rate * (1 - self.base_rate)
        lines = [f"calibration on the held-out week's {self.pushes} blast pushes: Brier {self.brier:.4f} (base rate alone {reference:.4f})"]
        lines += [f"  predicted {low:.2f}–{high:.2f}: {n} pushes, mean predicted {p:.3f}, clicked {o:.3f}" for low, high, n, p, o in self.bins]
        return "\n".join(lines)


@dataclass
class SimResult:
    audience: str
    seed: int
    blast_hour: int
    arms: dict[str, ArmTally]
    calibration: Calibration | None = None
    diagnosis: dict[str, ArmDiagnosis] = field(default_factory=dict)

    def arm(self, name: str) -> ArmTally | None:
        return self.arms.get(name)

    @property
    def goal_met(self) -> bool | None:
        """Steered ≥ 90 % of blast's clicks with ≤ ½ its pushes and ≤ ½ its unfollows."""
        b, s = self.arm("blast"), self.arm("steered")
        if b is None or s is None:
            return None
        return s.clicks >= 0.9 * b.clicks and s.pushes <= 0.5 * b.pushes and s.unfollows <= 0.5 * b.unfollows

    @property
    def oracle_goal_met(self) -> bool | None:
        """The oracle itself reaches the goal against blast."""
        b, o = self.arm("blast"), self.arm("oracle")
        if b is None or o is None:
            return None
        return o.clicks >= 0.9 * b.clicks and o.pushes <= 0.5 * b.pushes and o.unfollows <= 0.5 * b.unfollows

    @property
    def vs_oracle(self) -> float | None:
        """Steered's clicks per push as a share of the oracle's."""
        s, o = self.arm("steered"), self.arm("oracle")
        if s is None or o is None or not o.clicks_per_push:
            return None
        return s.clicks_per_push / o.clicks_per_push

    def table(self) -> str:
        rows = [("", "pushes", "reads", "clicks", "clicks/push", "unfollows", "mutes")]
        for arm in self.arms.values():
            rows.append((arm.name, str(arm.pushes), str(arm.reads), str(arm.clicks), f"{arm.clicks_per_push:.3f}", str(arm.unfollows), str(arm.mutes)))
        b, s = self.arm("blast"), self.arm("steered")
        if b and s:
            rows.append(
                (
                    "steered/blast",
                    ratio(s.pushes, b.pushes),
                    ratio(s.reads, b.reads),
                    ratio(s.clicks, b.clicks),
                    ratio(s.clicks_per_push, b.clicks_per_push),
                    ratio(s.unfollows, b.unfollows),
                    ratio(s.mutes, b.mutes),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"audience {self.audience}, seed {self.seed}, blast hour {self.blast_hour}:00"]
        lines += ["  ".join(cell.rjust(widths[i]) if i else cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]
        for arm in self.arms.values():
            reasons = ", ".join(f"{k} {v}" for k, v in arm.suppressed.items()) or "none"
            lines.append(f"suppressed ({arm.name}): {reasons}")
        if self.goal_met is not None:
            lines.append(f"goal (steered ≥ 90% of blast's clicks, ≤ ½ pushes, ≤ ½ unfollows): {'met' if self.goal_met else 'NOT met'}")
        if self.vs_oracle is not None:
            lines.append(f"steered clicks/push = {self.vs_oracle:.2f} × the oracle's")
        if self.diagnosis:
            lines.append("clickable pairs (person clicks and the topic is an interest that day), per arm:")
            lines += [d.text(name) for name, d in self.diagnosis.items()]
        if self.calibration is not None:
            lines.append(self.calibration.text())
        return "\n".join(lines)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"
