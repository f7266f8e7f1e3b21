"""A tiny decoder-only transformer language model on a synthetic corpus; seconds on a CPU.

The corpus is made here, from a fixed seed, so nothing is downloaded: text over a 32-symbol
vocabulary from a sparse Markov source (each symbol has a few likely successors), where from
time to time a span of the last 32 symbols is repeated (copying it needs attention, as
induction heads do in real text). A uniform guess scores ln 32 = 3.47 nats per symbol.

Hyperparameters (nested under ``trainer``), as LLM users sweep them:

| name | distribution | range |
|---|---|---|
| ``trainer.learning_rate`` | log_normal | 1e-4 .. 3e-2 |
| ``trainer.warmup`` | uniform | 0 .. 0.3 (a fraction of the steps) |
| ``trainer.weight_decay`` | log_normal | 1e-4 .. 0.3 |
| ``trainer.width`` | uniform_pow2 | 16 .. 64 (model dimension) |
| ``trainer.depth`` | int_uniform | 1 .. 2 (layers) |
| ``trainer.tokens`` (budget) | uniform_pow2 | 2^13 .. 2^17 training tokens |

Fixed: ``trainer.context`` 32, ``trainer.batch_size`` 16, ``trainer.heads`` 4, AdamW with
linear warmup then cosine decay to a tenth of the rate at the end of the token budget (so,
as in real pretraining, the schedule and the curve depend on the budget).

Score: validation loss in nats per token (minimise); cost: training tokens. Intermediate
reports are (tokens, validation loss, tokens) ten times a run, evenly spaced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from trainers.common import get, main, pick_device, seed_everything

VOCAB = 32
CORPUS_SEED = 1234
TRAIN_SYMBOLS = 200_000
VALID_SYMBOLS = 16_384
REPORTS = 10
VALID_BATCHES = 8


def make_corpus(n: int, seed: int) -> Any:
    """``n`` symbols (an int64 numpy array) from the source in the module docstring; the
    source itself (its transition table) is fixed by ``CORPUS_SEED``, ``seed`` draws the text."""
    import numpy as np

    src = np.random.default_rng(CORPUS_SEED)
    # each symbol has a few likely successors
    probs = src.dirichlet(np.full(VOCAB, 0.1), size=VOCAB)
    cum = probs.cumsum(-1)
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    out[0] = rng.integers(VOCAB)
    u = rng.random(n)
    i = 1
    while i < n:
        if i > 40 and rng.random() < 0.02:  # repeat a span of the recent text
            length = int(rng.integers(6, 16))
            start = i - int(rng.integers(length, 32))
            take = min(length, n - i)
            out[i:i + take] = out[start:start + take]
            i += take
            continue
        out[i] = min(int(np.searchsorted(cum[out[i - 1]], u[i])), VOCAB - 1)
        i += 1
    return out


_CORPUS: dict[str, Any] = {}


def corpus() -> tuple[Any, Any]:
    """The training and validation text (made once per process)."""
    if "train" not in _CORPUS:
        _CORPUS["train"] = make_corpus(TRAIN_SYMBOLS, seed=1)
        _CORPUS["valid"] = make_corpus(VALID_SYMBOLS, seed=2)
    return _CORPUS["train"], _CORPUS["valid"]


def build(width: int, depth: int, heads: int, context: int) -> Any:
    import torch
    from torch import nn

    class TinyLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(VOCAB, width)
            self.pos = nn.Embedding(context, width)
            layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0,
                                               batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, VOCAB)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(context))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n = x.shape[1]
            h = self.tok(x) + self.pos(torch.arange(n, device=x.device))
            h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
            return self.head(self.norm(h))

    return TinyLM()


# every key train() reads: a sweep that searches or fixes another is told so before it runs
READS = ("trainer.learning_rate", "trainer.warmup", "trainer.weight_decay", "trainer.width",
         "trainer.depth", "trainer.tokens", "trainer.context", "trainer.batch_size",
         "trainer.heads")


def train(params: Mapping[str, Any], *, seed: int = 0, device: str | None = None,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    import numpy as np
    import torch
    from torch import nn

    device = pick_device(device)
    seed_everything(seed)
    lr = float(get(params, "trainer.learning_rate", 3e-3))
    warmup = float(get(params, "trainer.warmup", 0.1))
    wd = float(get(params, "trainer.weight_decay", 0.01))
    width = int(get(params, "trainer.width", 32))
    depth = int(get(params, "trainer.depth", 2))
    tokens = int(get(params, "trainer.tokens", 2**15))
    context = int(get(params, "trainer.context", 32))
    batch = int(get(params, "trainer.batch_size", 16))
    heads = int(get(params, "trainer.heads", 4))
    if (lr <= 0 or not 0 <= warmup < 1 or wd < 0 or width < heads or width % heads or depth < 1
            or context < 2 or batch < 1 or tokens < batch * context):
        raise ValueError(f"tinylm: invalid hyperparameters {dict(params)!r}")
    train_text, valid_text = corpus()
    model = build(width, depth, heads, context).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd, betas=(0.9, 0.95))
    per_step = batch * context
    steps = max(1, tokens // per_step)
    warm = max(1, int(warmup * steps))

    def rate(step: int) -> float:  # linear warmup, then cosine to 0.1 at the last step
        if step < warm:
            return (step + 1) / warm
        f = (step - warm) / max(1, steps - warm)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * f))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, rate)
    rng = np.random.default_rng(seed)
    valid = torch.as_tensor(np.stack([valid_text[i:i + context + 1] for i in range(
        0, VALID_BATCHES * batch * context, context)][: VALID_BATCHES * batch]), device=device)

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            logits = model(valid[:, :-1])
            loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), valid[:, 1:].reshape(-1))
        model.train()
        return float(loss)

    start = time.perf_counter()
    checkpoints = {max(1, round(steps * k / REPORTS)) for k in range(1, REPORTS + 1)}
    val, seen, stopped, diverged = math.inf, 0, False, False
    for step in range(1, steps + 1):
        starts = rng.integers(0, len(train_text) - context - 1, size=batch)
        chunk = torch.as_tensor(np.stack([train_text[s:s + context + 1] for s in starts]),
                                device=device)
        logits = model(chunk[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), chunk[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        seen += per_step
        if not torch.isfinite(loss):
            diverged = True
            break
        if step in checkpoints:
            val = evaluate()
            if report is not None and report(seen, val, seen):
                stopped = True
                break
    if diverged or not math.isfinite(val):
        return {"score": float("nan"), "cost": float(seen), "tokens": seen,
                "error": "loss diverged (NaN/inf)"}
    n_params = sum(p.numel() for p in model.parameters())
    return {"score": val, "cost": float(seen), "val_loss": val, "tokens": seen,
            "params_k": n_params / 1e3, "seconds": time.perf_counter() - start,
            "stopped_early": stopped, "device": device}


if __name__ == "__main__":
    raise SystemExit(main(train))
