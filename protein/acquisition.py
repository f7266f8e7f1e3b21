"""Acquisition functions on tensors (maximise orientation, standardised units).

Notation: ``mean``, ``std`` (m,) posterior of the standardised score at m candidates;
``best`` the incumbent; ``c_mean``, ``c_std`` (m,) posterior of standardised log cost;
``budget`` a log-cost bound in the same units.
"""

from __future__ import annotations

import math

import torch

_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(math.pi / 2)


def log_h(u: torch.Tensor) -> torch.Tensor:
    """``log(phi(u) + u * Phi(u))``, accurate for very negative ``u``."""
    log_phi = -0.5 * u * u - _LOG_SQRT_2PI
    # Phi(u) / phi(u) = sqrt(pi/2) * erfcx(-u / sqrt 2): no underflow for u << 0
    neg = torch.clamp(u, max=0.0)
    w = _SQRT_HALF_PI * torch.special.erfcx(-neg * _SQRT_HALF)
    small = log_phi + torch.log1p(torch.clamp(neg * w, min=-1 + 1e-15))
    pos = torch.clamp(u, min=0.0)
    large = torch.log(torch.exp(-0.5 * pos * pos - _LOG_SQRT_2PI) + pos * torch.special.ndtr(pos))
    return torch.where(u < 0, small, large)


def log_ei(mean: torch.Tensor, std: torch.Tensor, best: float) -> torch.Tensor:
    """Log expected improvement over ``best``; shape (m,)."""
    u = (mean - best) / std
    return torch.log(std) + log_h(u)


def log_prob_below(mean: torch.Tensor, std: torch.Tensor, bound: float) -> torch.Tensor:
    """``log P(f <= bound)`` for Gaussian ``f``; shape (m,)."""
    return torch.special.log_ndtr((bound - mean) / std)
