"""Robust output transform for GP targets (maximise orientation).

Scores can be heavy-tailed (losses spanning orders of magnitude), have outliers (a run
that diverged) or plateaus. Before a GP sees them they are centered by the median, scaled
by the interquartile range, passed through a Yeo-Johnson power transform fitted by
maximum likelihood, winsorised on the bad side and standardised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

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
            lam = _yj_lambda(s)
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


def _yj_lambda(x: np.ndarray) -> float:
    """The Yeo-Johnson exponent in ``LAMBDA_RANGE`` that makes ``x`` (n,) most normal: the
    maximum-likelihood one (Yeo & Johnson 2000), found by a bounded scalar search. (Not
    ``scipy.stats.yeojohnson_normmax``: importing scipy.stats costs every GP ask 0.4 s.)"""
    log_jac = float(np.sum(np.sign(x) * np.log1p(np.abs(x))))

    def neg_llf(lam: float) -> float:
        var = float(np.var(_yj(x, lam)))
        return np.inf if not var > 0 else 0.5 * len(x) * np.log(var) - (lam - 1.0) * log_jac

    with np.errstate(all="ignore"):
        res = minimize_scalar(neg_llf, bounds=LAMBDA_RANGE, method="bounded",
                              options={"xatol": 1e-4})
    lam = float(res.x)
    return lam if np.isfinite(lam) and np.isfinite(res.fun) else 1.0


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
