"""Bayesian linear regression of a title's click rate on its features (pure Python: a handful of
features, a few hundred campaigns at most).

Prior w ~ N(0, σ²/λ · I) (the intercept unpenalised); posterior mean (XᵀWX + λI)⁻¹XᵀWy with each
campaign weighted by its sends (capped), σ² from the weighted residuals. The prediction's standard
deviation is √(σ²/n_eff + xᵀΣx): the uncertainty of the expected rate, not of one campaign's noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from campaigns.titles.features import Title, feature_names, title_features

RIDGE = 1.0
WEIGHT_CAP = 5000


@dataclass(frozen=True)
class Example:
    title: Title
    rate: float
    sends: int


@dataclass
class Prediction:
    rate: float
    sd: float

    @property
    def interval(self) -> tuple[float, float]:
        return max(0.0, self.rate - 1.96 * self.sd), min(1.0, self.rate + 1.96 * self.sd)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is small and positive definite)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[col][col]:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def _inverse(a: list[list[float]]) -> list[list[float]]:
    n = len(a)
    columns = [_solve(a, [1.0 if i == j else 0.0 for i in range(n)]) for j in range(n)]
    return [[columns[j][i] for j in range(n)] for i in range(n)]


class TitleModel:
    def __init__(self, examples: list[Example]):
        self.topics = sorted({t for e in examples for t in e.title.topics})
        xs = [title_features(e.title, self.topics) for e in examples]
        ws = [min(max(e.sends, 1), WEIGHT_CAP) for e in examples]
        ys = [e.rate for e in examples]
        k = len(self.topics) + 6
        xtx = [[sum(w * x[i] * x[j] for x, w in zip(xs, ws, strict=True)) for j in range(k)] for i in range(k)]
        for i in range(1, k):
            xtx[i][i] += RIDGE * sum(ws) / max(len(ws), 1)
        xty = [sum(w * x[i] * y for x, w, y in zip(xs, ws, ys, strict=True)) for i in range(k)]
        self.weights = _solve(xtx, xty)
        residuals = [y - sum(a * b for a, b in zip(self.weights, x, strict=True)) for x, y in zip(xs, ys, strict=True)]
        total = sum(ws)
        self.sigma2 = sum(w * r * r for w, r in zip(ws, residuals, strict=True)) / max(total, 1) * len(ws) / max(len(ws) - k, 1)
        self.n_eff = max(total / max(ws), 1.0) if ws else 1.0
        self.covariance = [[v * self.sigma2 * (total / len(ws)) for v in row] for row in _inverse(xtx)] if ws else []

    def predict(self, title: Title) -> Prediction:
        x = title_features(title, self.topics)
        rate = sum(a * b for a, b in zip(self.weights, x, strict=True))
        spread = sum(x[i] * self.covariance[i][j] * x[j] for i in range(len(x)) for j in range(len(x)))
        return Prediction(rate=min(max(rate, 0.0), 1.0), sd=math.sqrt(max(spread, 0.0)))

    def explain(self) -> list[tuple[str, float]]:
        return list(zip(feature_names(self.topics), self.weights, strict=True))
