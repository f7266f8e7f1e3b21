"""Acquisition functions on tensors (maximise orientation, standardised units), and the
objects the search maximises: an ``Acquisition`` is a sum of log terms.

Notation: ``mean``, ``std`` (m,) posterior of the standardised score at m candidates;
``best`` the incumbent; ``c_mean``, ``c_std`` (m,) posterior of standardised log cost;
``budget`` a log-cost bound in the same units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
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


def log_ehvi(mean: torch.Tensor, std: torch.Tensor, lower: torch.Tensor,
             upper: torch.Tensor) -> torch.Tensor:
    """Log expected hypervolume improvement of independent Gaussians.

    ``mean``, ``std`` (c, M) predictions at c candidates; ``lower``, ``upper`` (k, M) the
    boxes that partition the non-dominated region (``upper`` may be inf). Returns (c,).
    The improvement inside a box is a product over axes of ``E[clamp(y, l, u) - l]``,
    which for a Gaussian is ``std * (h((mean - l) / std) - h((mean - u) / std))``.
    """
    mu, sd = mean[:, None, :], std[:, None, :]
    a = (mu - lower[None]) / sd
    b = torch.where(torch.isinf(upper[None]), torch.full_like(a, -1e6), (mu - upper[None]) / sd)
    la, lb = log_h(a), log_h(b)
    ratio = torch.clamp(torch.exp(lb - la), max=1.0 - 1e-12)
    per_axis = torch.log(sd) + la + torch.log1p(-ratio)  # (c, k, M)
    return torch.logsumexp(per_axis.sum(-1), dim=-1)


# ------------------------------------------------------------------ objects
# Each term maps candidates ``U`` (c, d), a tensor in the unit cube, to (c,) log values;
# an acquisition is the sum of its terms. ``gp`` arguments are ``protein.optimizer.surrogate.GP``.

@dataclass(frozen=True)
class _OnPosterior:
    """A term computed from one GP's posterior mean and std at the candidates."""

    gp: Any

    def __call__(self, U: torch.Tensor) -> torch.Tensor:
        mean, std = self.gp.posterior(U)
        return self.of(mean, std)

    def of(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class LogEI(_OnPosterior):
    """Log expected improvement over ``best`` (the GP's units)."""

    best: float

    def of(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return log_ei(mean, std, self.best)


@dataclass(frozen=True)
class Below(_OnPosterior):
    """``log P(f <= bound)`` (a cost budget or cap, in the GP's units)."""

    bound: float

    def of(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return log_prob_below(mean, std, self.bound)


@dataclass(frozen=True)
class Satisfied(_OnPosterior):
    """``log P(slack >= 0)`` for a GP on a constraint's slack."""

    def of(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return torch.special.log_ndtr(mean / std)


@dataclass(frozen=True)
class LogEHVI:
    """Log expected hypervolume improvement over boxes ``lower``, ``upper`` (k, M). The axes
    are the objective GPs, then (when ``cost_gp`` is given) minus the log-cost GP."""

    gps: tuple[Any, ...]
    cost_gp: Any
    lower: torch.Tensor
    upper: torch.Tensor

    def __call__(self, U: torch.Tensor) -> torch.Tensor:
        posts = [gp.posterior(U) for gp in self.gps]
        if self.cost_gp is not None:
            m, s = self.cost_gp.posterior(U)
            posts.append((-m, s))
        means, stds = zip(*posts)
        return log_ehvi(torch.stack(means, 1), torch.stack(stds, 1), self.lower, self.upper)


@dataclass(frozen=True)
class Acquisition:
    """A log acquisition: the sum of its ``terms`` (none: zero everywhere), evaluated on
    ``device``. Callable on tensors (differentiable), ``rate`` on arrays."""

    terms: tuple[Callable[[torch.Tensor], torch.Tensor], ...]
    device: Any
    chunk: int = 4096

    def __call__(self, U: torch.Tensor) -> torch.Tensor:
        a = self.terms[0](U) if self.terms else torch.zeros(len(U), dtype=U.dtype, device=U.device)
        for t in self.terms[1:]:
            a = a + t(U)
        return a

    def rate(self, U: np.ndarray) -> np.ndarray:
        """Values at ``U`` (c, d) as an array (c,), without gradients."""
        from protein.optimizer.surrogate import DTYPE

        with torch.no_grad():
            out = [self(torch.as_tensor(U[i : i + self.chunk], dtype=DTYPE, device=self.device))
                   .cpu().numpy() for i in range(0, len(U), self.chunk)]
        return np.concatenate(out) if out else np.empty(0)
