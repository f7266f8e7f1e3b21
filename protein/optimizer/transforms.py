"""Robust output transform for GP targets (maximise orientation).

Scores can be heavy-tailed (losses spanning orders of magnitude), have outliers (a run
that diverged) or plateaus. Before a GP sees them they are centered by the median, scaled
by the interquartile range, passed through a Yeo-Johnson power transform fitted by
maximum likelihood, winsorised on the bad side and standardised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

LAMBDA_RANGE = (-2.0, 4.0)
LOW_CLIP = -4.0


@dataclass(frozen=True)
class Robust:
    """A fitted transform: ``z = forward(y)``, ``y = inverse(z)``; both on (n,) arrays."""

    center: float
    iqr: float
    lam: float
    mu: float
    sigma: float

    @staticmethod
    def fit(y: np.ndarray) -> Robust:
        y = np.asarray(y, dtype=float)
        if y.size == 0 or not np.isfinite(y).all():
            raise ValueError("Robust.fit needs a non-empty array of finite values")
        center = float(np.median(y))
        q1, q3 = np.percentile(y, [25, 75])
        iqr = float(q3 - q1)
        if iqr <= 1e-12 * max(1.0, abs(center)):
            iqr = float(np.std(y)) or 1.0
        s = (y - center) / iqr
        lam = 1.0
        if y.size >= 5 and np.ptp(s) > 0:
            with np.errstate(all="ignore"):
                try:
                    lam = float(stats.yeojohnson_normmax(s))
                except (ValueError, FloatingPointError, RuntimeError):
                    lam = 1.0
            if not np.isfinite(lam):
                lam = 1.0
            lam = float(np.clip(lam, *LAMBDA_RANGE))
        t = _yj(s, lam)
        mu, sigma = float(np.mean(t)), float(np.std(t))
        if not sigma > 1e-12:
            sigma = 1.0
        return Robust(center, iqr, lam, mu, sigma)

    def forward(self, y: np.ndarray) -> np.ndarray:
        z = (_yj((np.asarray(y, float) - self.center) / self.iqr, self.lam) - self.mu) / self.sigma
        return np.maximum(z, LOW_CLIP)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        t = np.asarray(z, float) * self.sigma + self.mu
        return _yj_inv(t, self.lam) * self.iqr + self.center


def _yj(x: np.ndarray, lam: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    if abs(lam) < 1e-8:
        out[pos] = np.log1p(x[pos])
    else:
        out[pos] = (np.power(x[pos] + 1.0, lam) - 1.0) / lam
    if abs(lam - 2.0) < 1e-8:
        out[~pos] = -np.log1p(-x[~pos])
    else:
        out[~pos] = -(np.power(1.0 - x[~pos], 2.0 - lam) - 1.0) / (2.0 - lam)
    return out


def _yj_inv(t: np.ndarray, lam: float) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    out = np.empty_like(t)
    pos = t >= 0
    with np.errstate(all="ignore"):
        if abs(lam) < 1e-8:
            out[pos] = np.expm1(t[pos])
        else:
            out[pos] = np.power(np.maximum(t[pos] * lam + 1.0, 0.0), 1.0 / lam) - 1.0
        if abs(lam - 2.0) < 1e-8:
            out[~pos] = -np.expm1(-t[~pos])
        else:
            out[~pos] = 1.0 - np.power(np.maximum(1.0 - (2.0 - lam) * t[~pos], 0.0), 1.0 / (2.0 - lam))
    return out
