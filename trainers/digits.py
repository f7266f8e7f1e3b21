"""An MLP on scikit-learn's bundled digits (8x8 images, 10 classes); fast on CPU.

Hyperparameters (nested under ``trainer``) and their natural distributions:

| name | distribution | range |
|---|---|---|
| ``trainer.learning_rate`` | log_normal | 1e-4 .. 1e-1 |
| ``trainer.batch_size`` | uniform_pow2 | 16 .. 256 |
| ``trainer.width`` | uniform_pow2 | 16 .. 512 |
| ``trainer.depth`` | int_uniform | 1 .. 4 |
| ``trainer.weight_decay`` | log_normal | 1e-6 .. 1e-2 |
| ``trainer.dropout`` | uniform | 0 .. 0.5 |
| ``trainer.epochs`` (budget) | int_uniform | 1 .. 40 |

Score: validation accuracy (maximise); cost: training examples processed. Intermediate
reports are (examples processed, validation accuracy) after each epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from trainers.common import get, main, pick_device, seed_everything


def load_data(device: str):  # type: ignore[no-untyped-def]
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    X = (X[order] / 16.0).astype("float32")
    y = y[order]
    cut = int(0.8 * len(X))
    to = lambda a, dt: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    return (to(X[:cut], torch.float32), to(y[:cut], torch.long),
            to(X[cut:], torch.float32), to(y[cut:], torch.long))


# every key train() reads: a sweep that searches or fixes another is told so before it runs
READS = ("trainer.learning_rate", "trainer.batch_size", "trainer.width", "trainer.depth",
         "trainer.weight_decay", "trainer.dropout", "trainer.epochs")


def train(params: Mapping[str, Any], *, seed: int = 0, device: str | None = None,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    import torch
    from torch import nn

    device = pick_device(device)
    seed_everything(seed)
    lr = float(get(params, "trainer.learning_rate", 1e-3))
    batch = int(get(params, "trainer.batch_size", 64))
    width = int(get(params, "trainer.width", 128))
    depth = int(get(params, "trainer.depth", 2))
    wd = float(get(params, "trainer.weight_decay", 1e-5))
    dropout = float(get(params, "trainer.dropout", 0.1))
    epochs = int(get(params, "trainer.epochs", 10))
    if batch < 1 or width < 1 or depth < 1 or epochs < 1 or lr <= 0:
        raise ValueError(f"digits: invalid hyperparameters {dict(params)!r}")
    Xtr, ytr, Xva, yva = load_data(device)
    layers: list[nn.Module] = []
    d = Xtr.shape[1]
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.ReLU(), nn.Dropout(dropout)]
        d = width
    model = nn.Sequential(*layers, nn.Linear(d, 10)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    start = time.perf_counter()
    acc = 0.0
    seen = 0
    stopped = False
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(Xtr), generator=gen).to(device)
        for i in range(0, len(Xtr), batch):
            idx = perm[i : i + batch]
            loss = nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
        if not torch.isfinite(loss):
            return {"score": float("nan"), "cost": float(seen), "epochs": epoch,
                    "error": "loss diverged (NaN/inf)"}
        model.eval()
        with torch.no_grad():
            acc = float((model(Xva).argmax(1) == yva).float().mean())
        if report is not None and report(seen, acc, seen):
            stopped = True
            break
    n_params = sum(p.numel() for p in model.parameters())
    return {"score": acc, "cost": float(seen), "accuracy": acc, "params_k": n_params / 1e3,
            "epochs": epoch,
            "seconds": time.perf_counter() - start, "stopped_early": stopped, "device": device}


if __name__ == "__main__":
    raise SystemExit(main(train))
