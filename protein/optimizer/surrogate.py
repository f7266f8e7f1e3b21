"""Gaussian-process surrogates on arrays, built on BoTorch / GPyTorch.

Notation: ``X`` (n, d) inputs in the unit cube; ``z`` (n,) standardised targets;
``Xc`` (m, d) candidates. Every model is BoTorch's default ``SingleTaskGP`` (an RBF kernel
with ARD lengthscales under BoTorch's dimension-scaled log-normal prior, unit output scale
on the standardised targets, a fitted constant mean and noise) in float64, fit by L-BFGS-B
on the marginal likelihood. Nothing here knows about parameter names, trials or storage.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

DTYPE = torch.float64
FIT_SUBSET = 128  # hyperparameters are fit on at most this many points, then all are used


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


class GP:
    """A fitted GP: BoTorch fits the hyperparameters, prediction uses a cached Cholesky.

    ``predict`` / ``posterior`` give the mean and std of the latent function (noise-free).
    """

    def __init__(self, kernel, mean_const: float, noise: torch.Tensor, X: torch.Tensor,
                 z: torch.Tensor) -> None:  # type: ignore[no-untyped-def]
        self.kernel = kernel
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
    def fit(X: np.ndarray, z: np.ndarray, *, device: str = "cpu", noise_floor: float = 1e-6) -> GP:
        """Fit on ``X`` (n, d) and ``z`` (n,); the noise variance is fitted, >= ``noise_floor``."""
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.constraints import GreaterThan
        from gpytorch.mlls import ExactMarginalLogLikelihood

        dev = _device(device)
        X_all = torch.as_tensor(X, dtype=DTYPE, device=dev)
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
            model = SingleTaskGP(tX, tz.unsqueeze(-1), outcome_transform=None)
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
        return GP(model.covar_module, const, noise, X_all, z_all)

    def with_points(self, X: np.ndarray, z: np.ndarray) -> GP:
        """The same hyperparameters conditioned on extra points (fantasies for pending trials)."""
        if len(X) == 0:
            return self
        tX = torch.cat([self.X, torch.as_tensor(X, dtype=DTYPE, device=self.device)])
        tz = torch.cat([self.z, torch.as_tensor(z, dtype=DTYPE, device=self.device)])
        noise = torch.cat([self.noise, self.noise[:1].expand(len(X))])
        return GP(self.kernel, self.mean_const, noise, tX, tz)

    def posterior(self, Xc: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std, each (m,), as tensors (differentiable in ``Xc``, shape (m, d))."""
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
