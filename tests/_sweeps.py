"""A small command sweep shared by the tests of commands, configs and Ray: ``train.py``
reports progress lines and a final line with its seed and fixed keys."""

from __future__ import annotations

import textwrap

TRAIN = textwrap.dedent("""
    import json, os, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
    lr = float(args["trainer.lr"])
    seed = int(args.get("seed", -1))
    env_seed = int(os.environ["PROTEIN_SEED"])
    assert seed == env_seed, (seed, env_seed)
    steps = int(args.get("max_steps", 10))
    for s in range(1, steps + 1):
        print(json.dumps({"step": s, "value": lr * s / steps}), flush=True)
    print(json.dumps({"reward": lr, "success_rate": lr / 2, "max_reward": lr * 2,
                      "seed_seen": seed, "device_seen": args.get("device")}))
""")


def _sweep(tmp_path, extra="", method="random", n=4):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(textwrap.dedent(f"""
        sweep:
          metric: reward
          goal: maximize
          method: {method}
          max_trials: {n}
          parameters:
            trainer.lr: {{distribution: log_normal, min: 0.001, max: 1.0}}
          device: cpu
          max_steps: 10
        {extra}"""))
    (tmp_path / "train.py").write_text(TRAIN)
    return cfg
