"""The statistics of a variant test, in plain Python (no numpy): Wilson score intervals for each
variant's rate, and the Bayesian probability that each variant beats all the others.

Each variant's rate has a Beta(1 + successes, 1 + failures) posterior (a uniform prior).
P(i beats all) = ∫ f_i(x) · Π_{j≠i} F_j(x) dx, integrated numerically on a grid around the
posteriors (deterministic, unlike sampling, so a report shows the same numbers every time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054
GRID = 4000


@dataclass(frozen=True)
class Arm:
    trials: int
    successes: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else 0.0


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 0) without trials."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _log_beta_pdf(x: float, a: float, b: float, log_norm: float) -> float:
    return (a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_norm


def probability_to_beat_all(arms: list[Arm]) -> list[float]:
    """P(each arm's true rate is the highest), under Beta(1+s, 1+f) posteriors."""
    params = [(1 + a.successes, 1 + max(a.trials - a.successes, 0)) for a in arms]
    means = [a / (a + b) for a, b in params]
    sds = [math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))) for a, b in params]
    low = max(1e-9, min(m - 12 * s for m, s in zip(means, sds, strict=True)))
    high = min(1 - 1e-9, max(m + 12 * s for m, s in zip(means, sds, strict=True)))
    step = (high - low) / GRID
    xs = [low + (k + 0.5) * step for k in range(GRID)]
    log_norms = [math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b) for a, b in params]
    densities = [[math.exp(_log_beta_pdf(x, a, b, ln)) * step for x in xs] for (a, b), ln in zip(params, log_norms, strict=True)]
    # CDF at each grid point's centre: the mass below it plus half of its own cell.
    cdfs = []
    for dens in densities:
        total, cdf = 0.0, []
        for d in dens:
            cdf.append(total + d / 2)
            total += d
        cdfs.append(cdf)
    out = []
    for i, dens in enumerate(densities):
        p = 0.0
        for k, d in enumerate(dens):
            if d == 0.0:
                continue
            others = 1.0
            for j, cdf in enumerate(cdfs):
                if j != i:
                    others *= cdf[k]
            p += d * others
        out.append(p)
    total = sum(out)
    return [p / total for p in out] if total else [1 / len(arms)] * len(arms)
