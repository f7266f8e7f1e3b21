"""Gaussian-process surrogates on arrays, built on BoTorch / GPyTorch.

Notation: ``X`` (n, d) inputs in the unit cube; ``z`` (n,) standardised targets;
``Xc`` (m, d) candidates. Every model is BoTorch's ``SingleTaskGP`` in float64 (unit output
scale on the standardised targets, a fitted constant mean and noise), fit by L-BFGS-B on the
marginal likelihood. Its kernel is BoTorch's default, an RBF kernel with ARD lengthscales
under the dimension-scaled log-normal prior, on every ordered column; unordered categorical
columns (``cat``: (column, number of choices) pairs) enter through a ``Hamming`` kernel
instead, multiplied in, so any two different choices are equally far apart. Nothing here
knows about parameter names, trials or storage.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

DTYPE = torch.float64
FIT_SUBSET = 128  # hyperparameters are fit on at most this many points, then all are used
# log-normal (loc, scale) prior on the noise variance of standardised targets: centred at
# e^-9 (BoTorch's default centres it at e^-4). Many tuning objectives are deterministic given
# their seed (a fixed CV split, a seeded run), and a prior that expects noise smooths away the
# last digits near the optimum; a wide prior centred low still lets the fitted noise grow
# where runs really are noisy (RL returns), since with tens of points the likelihood
# outweighs it. ``SuccessModel`` labels (0/1) keep BoTorch's prior.
LOW_NOISE_PRIOR = (-9.0, 2.0)
HAMMING_PRIOR = (1.0, 1.0)  # log-normal (loc, scale) of a categorical lengthscale: mode 1,
# so two different choices start correlated at exp(-1)


def hamming_kernel(ard_num_dims: int, active_dims: list[int]) -> Any:
    """``exp(-sum_j [x_j != x'_j] / l_j)`` on category codes, one lengthscale per column."""
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import Kernel
    from gpytorch.priors import LogNormalPrior

    class Hamming(Kernel):
        has_lengthscale = True

        def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False,
                    last_dim_is_batch: bool = False, **params: Any) -> torch.Tensor:
            ls = self.lengthscale
            if diag:
                return torch.exp(-((x1 != x2).to(x1.dtype) / ls).sum(-1))
            delta = (x1.unsqueeze(-2) != x2.unsqueeze(-3)).to(x1.dtype)
            return torch.exp(-(delta / ls.unsqueeze(-2)).sum(-1))

    loc, scale = HAMMING_PRIOR
    prior = LogNormalPrior(loc=loc, scale=scale)
    return Hamming(ard_num_dims=ard_num_dims, active_dims=active_dims, lengthscale_prior=prior,
                   lengthscale_constraint=GreaterThan(2.5e-2, transform=None,
                                                      initial_value=prior.mode))


def _codes(X: torch.Tensor, cat: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """``X`` with each unordered column replaced by its choice's index (0 .. n - 1)."""
    if not cat:
        return X
    X = X.clone()
    for j, n in cat:
        X[..., j] = torch.clamp(torch.floor(X[..., j].detach() * n), 0, n - 1)
    return X


def _exact():  # type: ignore[no-untyped-def]
    """Cholesky everywhere: GPyTorch's iterative solvers are slower and noisier at our sizes."""
    import gpytorch

    return gpytorch.settings.fast_computations(
        covar_root_decomposition=False, log_prob=False, solves=False
    )


def _device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        from protein.errors import ProteinError

        raise ProteinError(
            f"settings.device is {name!r} but torch sees no CUDA device; use device: cpu"
        )
    return torch.device(name)


def _kernel(d: int, cat: tuple[tuple[int, int], ...]) -> Any:
    """BoTorch's default kernel (None) without unordered columns; else RBF on the ordered
    columns times ``Hamming`` on the unordered ones."""
    if not cat:
        return None
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.kernels import ProductKernel

    cols = [j for j, _ in cat]
    ordered = [j for j in range(d) if j not in cols]
    ham = hamming_kernel(len(cols), cols)
    if not ordered:
        return ham
    rbf = get_covar_module_with_dim_scaled_prior(ard_num_dims=len(ordered), active_dims=ordered)
    return ProductKernel(rbf, ham)


class GP:
    """A fitted GP: BoTorch fits the hyperparameters, prediction uses a cached Cholesky.

    ``predict`` / ``posterior`` give the mean and std of the latent function (noise-free).
    """

    def __init__(self, kernel, mean_const: float, noise: torch.Tensor, X: torch.Tensor,
                 z: torch.Tensor, cat: tuple[tuple[int, int], ...] = ()) -> None:  # type: ignore[no-untyped-def]
        """``X`` (n, d) holds category codes in its unordered columns (``cat``)."""
        self.kernel = kernel
        self.cat = cat
        self.mean_const = mean_const
        self.noise = noise  # (n,) noise variances
        self.X = X
        self.z = z
        self.device = X.device
        with torch.no_grad():
            K = kernel(X, X).to_dense() + torch.diag(noise)
            jitter = 1e-8
            while True:
                L, info = torch.linalg.cholesky_ex(K)
                if int(info) == 0:
                    break
                K = K + jitter * torch.eye(len(X), dtype=DTYPE, device=X.device)
                jitter *= 10
                if jitter > 1:
                    raise RuntimeError("GP covariance is not positive definite")
            self.L = L
            self.alpha = torch.cholesky_solve((z - mean_const).unsqueeze(-1), L).squeeze(-1)

    @staticmethod
    def fit(X: np.ndarray, z: np.ndarray, *, device: str = "cpu", noise_floor: float = 1e-6,
            cat: Sequence[tuple[int, int]] = (),
            noise_prior: tuple[float, float] | None = LOW_NOISE_PRIOR) -> GP:
        """Fit on ``X`` (n, d) and ``z`` (n,); the noise variance is fitted, >= ``noise_floor``,
        under a log-normal ``noise_prior`` (loc, scale; None: BoTorch's default).
        ``cat``: the unordered categorical columns and their numbers of choices."""
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.constraints import GreaterThan
        from gpytorch.mlls import ExactMarginalLogLikelihood

        dev = _device(device)
        cat = tuple((int(j), int(n)) for j, n in cat)
        X_all = _codes(torch.as_tensor(X, dtype=DTYPE, device=dev), cat)
        z_all = torch.as_tensor(z, dtype=DTYPE, device=dev)
        if len(X) > FIT_SUBSET:
            # fit hyperparameters on the best quarter and an even spread of the rest
            order = np.argsort(-z)
            top = order[: FIT_SUBSET // 4]
            rest = order[FIT_SUBSET // 4 :]
            pick = rest[np.linspace(0, len(rest) - 1, FIT_SUBSET - len(top)).astype(int)]
            sub = torch.as_tensor(np.sort(np.concatenate([top, pick])), device=dev)
            tX, tz = X_all[sub], z_all[sub]
        else:
            tX, tz = X_all, z_all
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            likelihood = None
            if noise_prior is not None:
                from gpytorch.likelihoods import GaussianLikelihood
                from gpytorch.priors import LogNormalPrior

                likelihood = GaussianLikelihood(noise_prior=LogNormalPrior(*noise_prior),
                                                noise_constraint=GreaterThan(noise_floor))
                likelihood = likelihood.to(device=dev, dtype=DTYPE)
            model = SingleTaskGP(tX, tz.unsqueeze(-1), outcome_transform=None,
                                 covar_module=_kernel(X_all.shape[-1], cat),
                                 likelihood=likelihood)
            model.likelihood.noise_covar.register_constraint("raw_noise", GreaterThan(noise_floor))
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with warnings.catch_warnings(), _exact():
            warnings.simplefilter("ignore")
            try:
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": 200}})
            except Exception:  # noqa: BLE001 - a failed fit keeps the prior-mode hyperparameters
                pass
        model.eval()
        with torch.no_grad():
            noise = model.likelihood.noise.detach().reshape(-1)[:1].expand(len(X_all)).clone()
            const = float(model.mean_module.constant.detach().reshape(-1)[0])
        for p in model.covar_module.parameters():
            p.requires_grad_(False)
        return GP(model.covar_module, const, noise, X_all, z_all, cat)

    def with_points(self, X: np.ndarray, z: np.ndarray) -> GP:
        """The same hyperparameters conditioned on extra points (fantasies for pending trials)."""
        if len(X) == 0:
            return self
        new = _codes(torch.as_tensor(X, dtype=DTYPE, device=self.device), self.cat)
        tX = torch.cat([self.X, new])
        tz = torch.cat([self.z, torch.as_tensor(z, dtype=DTYPE, device=self.device)])
        noise = torch.cat([self.noise, self.noise[:1].expand(len(X))])
        return GP(self.kernel, self.mean_const, noise, tX, tz, self.cat)

    def posterior(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std, each (m,), as tensors (differentiable in ``Xc``, shape (m, d))."""
        Xc = _codes(Xc, self.cat)
        Ks = self.kernel(Xc, self.X).to_dense()  # (m, n)
        mean = self.mean_const + Ks @ self.alpha
        v = torch.linalg.solve_triangular(self.L, Ks.T, upper=False)  # (n, m)
        prior = self.kernel(Xc, Xc, diag=True)
        var = (prior - (v * v).sum(0)).clamp_min(1e-12)
        return mean, var.sqrt()

    def predict(self, Xc: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std, each (m,), as arrays."""
        means, stds = [], []
        with torch.no_grad():
            for i in range(0, len(Xc), batch):
                t = torch.as_tensor(Xc[i : i + batch], dtype=DTYPE, device=self.device)
                m, s = self.posterior(t)
                means.append(m.cpu().numpy())
                stds.append(s.cpu().numpy())
        if not means:
            return np.empty(0), np.empty(0)
        return np.concatenate(means), np.concatenate(stds)

    def covariance(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        """The prior covariance (a, b) between unit-cube points ``A`` (a, d) and ``B`` (b, d)."""
        with torch.no_grad():
            tA = _codes(torch.as_tensor(A, dtype=DTYPE, device=self.device), self.cat)
            tB = _codes(torch.as_tensor(B, dtype=DTYPE, device=self.device), self.cat)
            return self.kernel(tA, tB).to_dense().cpu().numpy()
