"""Environment steps per second of the PPO trainers (CartPole, Acrobot), on CPU and CUDA.

    python -m benchmarks.trainer_speed [--envs 64 1024 4096] [--steps 65536]
                                       [--trainers cartpole acrobot]

Two figures per setting: the raw vectorised environment (random actions), and full PPO
training (rollouts plus updates), both counted in environment steps per second.
"""

from __future__ import annotations

import argparse
import time


def env_rate(trainer: str, n: int, device: str, steps: int) -> float:
    import importlib

    import torch

    module = importlib.import_module(f"trainers.{trainer}")
    env_class = {"cartpole": "CartPole", "acrobot": "Acrobot"}[trainer]
    gen = torch.Generator(device="cpu").manual_seed(0)
    env = getattr(module, env_class)(n, device, gen)
    iters = max(1, steps // n)
    t = time.perf_counter()
    for _ in range(iters):
        action = torch.randint(env.n_actions, (n,), generator=gen).to(device)
        env.step(action)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return iters * n / (time.perf_counter() - t)


def ppo_rate(trainer: str, n: int, device: str, steps: int) -> float:
    import importlib

    out = importlib.import_module(f"trainers.{trainer}").train({"trainer": {"num_envs": n, "num_steps": 64, "minibatch_size": min(8192, n * 16),
                             "total_timesteps": max(steps, n * 64), "update_epochs": 2}},
                seed=0, device=device)
    return float(out["steps_per_second"])


def main(argv: list[str] | None = None) -> str:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, nargs="+", default=[64, 1024, 4096])
    ap.add_argument("--steps", type=int, default=2**17)
    ap.add_argument("--trainers", nargs="+", default=["cartpole", "acrobot"],
                    choices=["cartpole", "acrobot"])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = ["### PPO trainers: environment steps per second (one CPU thread)", "",
             "| trainer | device | envs | env only (steps/s) | PPO training (steps/s) |",
             "|---|---|---|---|---|"]
    for trainer in args.trainers:
        for dev in devices:
            for n in args.envs:
                e = env_rate(trainer, n, dev, args.steps)
                p = ppo_rate(trainer, n, dev, args.steps)
                lines.append(f"| {trainer} | {dev} | {n} | {e:,.0f} | {p:,.0f} |")
                print(lines[-1], flush=True)
    if len(devices) == 1:
        lines += ["", "No CUDA device on this machine: the GPU rows are missing, not zero."]
    text = "\n".join(lines) + "\n"
    print(text)
    return text


if __name__ == "__main__":
    main()
