"""Two-proportion comparison for lift against the holdout.

Normal approximation (Wald): with p_t = x_t / n_t (treated) and p_c = x_c / n_c (held out), the
difference d = p_t - p_c has standard error sqrt(p_t(1-p_t)/n_t + p_c(1-p_c)/n_c), and the
(1-alpha) confidence interval is d ± z·SE (z = 1.96 for 95 %). The p-value is that of the pooled
two-proportion z-test. Relative lift is d / p_c (undefined when p_c = 0). The approximation is fair
when each group has at least ~5 successes and ~5 failures; ``reliable`` says whether that holds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

Z_95 = 1.959963984540054


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class Lift:
    treated_n: int
    treated_x: int
    control_n: int
    control_x: int
    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    relative_lift: float | None
    p_value: float | None
    reliable: bool

    def as_dict(self) -> dict:
        return asdict(self)


def two_proportion_lift(*, treated_n: int, treated_x: int, control_n: int, control_x: int, z: float = Z_95) -> Lift:
    """Difference of two proportions with its normal-approximation confidence interval."""
    if treated_n <= 0 or control_n <= 0:
        pt = treated_x / treated_n if treated_n > 0 else None
        pc = control_x / control_n if control_n > 0 else None
        return Lift(treated_n, treated_x, control_n, control_x, pt, pc, None, None, None, None, None, False)
    pt, pc = treated_x / treated_n, control_x / control_n
    diff = pt - pc
    se = math.sqrt(pt * (1 - pt) / treated_n + pc * (1 - pc) / control_n)
    pooled = (treated_x + control_x) / (treated_n + control_n)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / treated_n + 1 / control_n))
    p_value = 2 * _normal_sf(abs(diff) / se_pooled) if se_pooled > 0 else (1.0 if diff == 0 else 0.0)
    reliable = min(treated_x, treated_n - treated_x, control_x, control_n - control_x) >= 5
    return Lift(
        treated_n,
        treated_x,
        control_n,
        control_x,
        pt,
        pc,
        diff,
        diff - z * se,
        diff + z * se,
        diff / pc if pc > 0 else None,
        p_value,
        reliable,
    )
