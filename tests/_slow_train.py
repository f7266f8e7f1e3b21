"""A slow training command for the tests of workers told to stop: ``train.py`` reports a
step every ``--pause`` seconds, saves its step in ``$PROTEIN_CHECKPOINT_DIR`` and resumes
from it, and notes each attempt's starting step in ``attempts.txt`` of its trial folder;
``slowtrainer.py`` is the same as a trainer module."""

from __future__ import annotations

import textwrap
from pathlib import Path

TRAIN = textwrap.dedent("""
    import json, os, sys, time
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    lr = float(args["trainer.lr"])
    steps = int(args.get("steps", 20))
    ckpt = os.path.join(os.environ["PROTEIN_CHECKPOINT_DIR"], "step")
    start = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
    with open(os.path.join(os.environ["PROTEIN_TRIAL_DIR"], "attempts.txt"), "a") as f:
        f.write(f"{start}\\n")
    for s in range(start + 1, steps + 1):
        time.sleep(float(args.get("pause", 0.3)))
        print(json.dumps({"step": s, "value": lr * s / steps}), flush=True)
        with open(ckpt, "w") as f:
            f.write(str(s))
    print(json.dumps({"score": lr}))
""")

TRAINER = textwrap.dedent("""
    import os, time
    def train(params, *, seed=0, device=None, report=None):
        lr = params["trainer"]["lr"]
        steps = params.get("steps", 20)
        ckpt = os.path.join(os.environ["PROTEIN_CHECKPOINT_DIR"], "step")
        start = int(open(ckpt).read()) if os.path.exists(ckpt) else 0
        for s in range(start + 1, steps + 1):
            # the first attempt sleeps ``first_pause`` after its second step (a long epoch)
            long = start == 0 and s > 2 and params.get("first_pause")
            time.sleep(long or params.get("pause", 0.3))
            report(s, lr * s / steps)
            with open(ckpt, "w") as f:
                f.write(str(s))
        return {"score": lr, "started_at": start}
""")


def write_sweep(tmp_path: Path, n: int = 3, steps: int = 20, pause: float = 0.3,
                extra: str = "") -> Path:
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent(f"""
        sweep:
          metric: score
          goal: maximize
          method: random
          max_trials: {n}
          seed_key: null
          parameters:
            trainer.lr: {{distribution: log_normal, min: 0.001, max: 1.0}}
          steps: {steps}
          pause: {pause}
        """) + extra)
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "slowtrainer.py").write_text(TRAINER)
    return cfg
