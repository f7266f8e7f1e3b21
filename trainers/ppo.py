"""PPO (clipped surrogate, GAE) for discrete actions over environments stepped as one tensor.

The loop behind ``trainers.cartpole`` and ``trainers.acrobot``. An environment here is an
object holding ``n`` copies stepped together on one device (see ``VecEnv``); everything
(rollouts, advantages, updates) stays on that device.

Hyperparameters (nested under ``trainer``; the defaults are each trainer's):

| name | meaning |
|---|---|
| ``trainer.learning_rate`` | Adam's step size |
| ``trainer.num_envs`` | environments stepped together |
| ``trainer.num_steps`` | steps of each environment per rollout |
| ``trainer.minibatch_size`` | samples per gradient step |
| ``trainer.update_epochs`` | passes over each rollout |
| ``trainer.gamma`` | discount |
| ``trainer.gae_lambda`` | GAE's lambda |
| ``trainer.clip_coef`` | PPO's ratio clip |
| ``trainer.ent_coef`` | entropy bonus |
| ``trainer.hidden`` | width of the two hidden layers of actor and critic |
| ``trainer.total_timesteps`` | the budget: environment steps in all |
| ``trainer.batch_size`` (optional) | environment steps per rollout: sets ``num_envs`` to ``batch_size // num_steps`` (PufferLib's and CleanRL's meaning) |

Score: mean return of the episodes that ended in the last quarter of training (``fallback``
when none ended); cost: environment steps taken. Every rollout reports the mean return of
the episodes that ended in the last four rollouts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trainers.common import get

KEYS = ("learning_rate", "num_envs", "num_steps", "minibatch_size", "update_epochs", "gamma",
        "gae_lambda", "clip_coef", "ent_coef", "hidden", "total_timesteps", "batch_size")


class VecEnv(Protocol):
    """``n`` environments stepped together; finished episodes restart inside ``step``."""

    n: int
    obs_dim: int
    n_actions: int

    def observe(self) -> Any:
        """The current observations, (n, obs_dim)."""

    def step(self, action: Any) -> tuple[Any, Any, Any, tuple[Any, Any]]:
        """Apply actions (n,) in ``0 .. n_actions - 1``; returns the next observations
        (n, obs_dim), rewards (n,), terminal flags (n,) as floats (1: the episode ended by
        the task itself, not by its time limit), and (done (n,) bool, the returns of the
        episodes that ended)."""


class TensorEnv:
    """What the environments here share: ``n`` copies with a state (n, 4) drawn uniformly
    from ``start_width`` around 0 at each episode's start (every coordinate in
    [-start_width / 2, start_width / 2]), their steps so far ``t`` (n,) and returns ``ret``
    (n,); an episode runs for at most ``max_steps``."""

    start_width = 0.1

    def __init__(self, n: int, device: str, generator: Any, max_steps: int = 500) -> None:
        import torch

        self.n, self.device, self.gen, self.max_steps = n, device, generator, max_steps
        self.state = torch.zeros(n, 4, device=device)
        self.t = torch.zeros(n, dtype=torch.long, device=device)
        self.ret = torch.zeros(n, device=device)
        self.reset(torch.ones(n, dtype=torch.bool, device=device))

    def reset(self, mask: Any) -> None:
        """Start new episodes where ``mask`` (n,) is True."""
        import torch

        k = int(mask.sum())
        if k:
            r = torch.rand(k, 4, generator=self.gen, device="cpu").to(self.device)
            self.state[mask] = (r - 0.5) * self.start_width
            self.t[mask] = 0
            self.ret[mask] = 0


@dataclass(frozen=True)
class Settings:
    """PPO's hyperparameters, read from a trial's params (see the module docstring)."""

    learning_rate: float
    num_envs: int
    num_steps: int
    minibatch_size: int
    update_epochs: int
    gamma: float
    gae_lambda: float
    clip_coef: float
    ent_coef: float
    hidden: int
    total_timesteps: int

    @staticmethod
    def of(params: Mapping[str, Any], defaults: Mapping[str, Any], trainer: str) -> Settings:
        """``params``' values under ``trainer.``, else ``defaults``; ``trainer`` names the
        trainer in the error for values that cannot run."""
        p = lambda name: get(params, f"trainer.{name}", defaults[name])  # noqa: E731
        num_steps = int(p("num_steps"))
        num_envs = int(p("num_envs"))
        batch = get(params, "trainer.batch_size", None)
        if batch is not None:  # a rollout of batch_size steps: as many environments as fit
            num_envs = max(1, int(batch) // num_steps)
        s = Settings(float(p("learning_rate")), num_envs, num_steps, int(p("minibatch_size")),
                     int(p("update_epochs")), float(p("gamma")), float(p("gae_lambda")),
                     float(p("clip_coef")), float(p("ent_coef")), int(p("hidden")),
                     int(p("total_timesteps")))
        if min(s.num_envs, s.num_steps, s.minibatch_size, s.update_epochs, s.hidden,
               s.total_timesteps) < 1 or s.learning_rate <= 0:
            raise ValueError(f"{trainer}: invalid hyperparameters {dict(params)!r}")
        return s


def train(env: VecEnv, s: Settings, gen: Any, device: str, fallback: float,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    """Train an actor and a critic on ``env`` for ``s.total_timesteps`` steps; ``gen`` (a
    CPU ``torch.Generator``) draws actions and minibatches. Returns the trainer's result."""
    import torch
    from torch import nn

    n, num_steps, obs_dim = env.n, s.num_steps, env.obs_dim

    def mlp(out: int, std: float) -> nn.Module:
        net = nn.Sequential(nn.Linear(obs_dim, s.hidden), nn.Tanh(),
                            nn.Linear(s.hidden, s.hidden), nn.Tanh(), nn.Linear(s.hidden, out))
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, math.sqrt(2))
                nn.init.zeros_(m.bias)
        nn.init.orthogonal_(net[-1].weight, std)
        return net.to(device)

    actor, critic = mlp(env.n_actions, 0.01), mlp(1, 1.0)
    params = [*actor.parameters(), *critic.parameters()]
    opt = torch.optim.Adam(params, lr=s.learning_rate, eps=1e-5)
    batch = n * num_steps
    iters = max(1, s.total_timesteps // batch)
    obs = env.observe()
    buf_obs = torch.zeros(num_steps, n, obs_dim, device=device)
    buf_act = torch.zeros(num_steps, n, dtype=torch.long, device=device)
    buf_logp = torch.zeros(num_steps, n, device=device)
    buf_rew = torch.zeros(num_steps, n, device=device)
    buf_done = torch.zeros(num_steps, n, device=device)
    buf_val = torch.zeros(num_steps, n, device=device)
    returns_log: list[tuple[int, float]] = []
    steps = 0
    start = time.perf_counter()
    stopped = False
    gamma, lam, clip = s.gamma, s.gae_lambda, s.clip_coef
    for _ in range(iters):
        with torch.no_grad():
            for t in range(num_steps):
                probs = torch.softmax(actor(obs), -1)
                u = torch.rand(n, generator=gen).to(device)
                # inverse-CDF draw: the first action whose cumulative probability exceeds u
                action = (u[:, None] > probs.cumsum(-1)[:, :-1]).sum(1)
                buf_obs[t], buf_act[t] = obs, action
                buf_logp[t] = torch.log(probs.gather(1, action[:, None]).squeeze(1) + 1e-12)
                buf_val[t] = critic(obs).squeeze(1)
                obs, rew, terminal, (done, finished) = env.step(action)
                buf_rew[t], buf_done[t] = rew, done.float()
                # bootstrap through time-limit truncation, not through a terminal state
                trunc = done & (terminal == 0)
                if trunc.any():
                    buf_rew[t] += gamma * critic(obs).squeeze(1) * trunc.float()
                steps += n
                for r in finished.tolist():
                    returns_log.append((steps, r))
            next_val = critic(obs).squeeze(1)
            adv = torch.zeros_like(buf_rew)
            last = torch.zeros(n, device=device)
            for t in reversed(range(num_steps)):
                nv = next_val if t == num_steps - 1 else buf_val[t + 1]
                nonterm = 1.0 - buf_done[t]
                delta = buf_rew[t] + gamma * nv * nonterm - buf_val[t]
                last = delta + gamma * lam * nonterm * last
                adv[t] = last
            ret = adv + buf_val
        b_obs, b_act = buf_obs.reshape(-1, obs_dim), buf_act.reshape(-1)
        b_logp, b_adv, b_ret = buf_logp.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        size = min(s.minibatch_size, batch)
        for _ in range(s.update_epochs):
            perm = torch.randperm(batch, generator=gen).to(device)
            for i in range(0, batch, size):
                idx = perm[i : i + size]
                logp_all = torch.log_softmax(actor(b_obs[idx]), -1)
                logp = logp_all.gather(1, b_act[idx][:, None]).squeeze(1)
                ratio = torch.exp(logp - b_logp[idx])
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8) if len(idx) > 1 else a
                pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a).mean()
                v_loss = 0.5 * ((critic(b_obs[idx]).squeeze(1) - b_ret[idx]) ** 2).mean()
                entropy = -(logp_all.exp() * logp_all).sum(1).mean()
                loss = pg + 0.5 * v_loss - s.ent_coef * entropy
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, 0.5)
                opt.step()
        if not torch.isfinite(loss):
            return {"score": float("nan"), "cost": float(steps), "error": "loss diverged"}
        recent = ([r for st, r in returns_log if st > steps - 4 * batch]
                  or [r for _, r in returns_log[-20:]])
        if report is not None and recent and report(steps, sum(recent) / len(recent), steps):
            stopped = True
            break
    tail = ([r for st, r in returns_log if st > 0.75 * steps]
            or [r for _, r in returns_log[-20:]] or [fallback])
    seconds = time.perf_counter() - start
    return {"score": float(sum(tail) / len(tail)), "cost": float(steps), "env_steps": steps,
            "episodes": len(returns_log), "seconds": seconds, "steps_per_second": steps / seconds,
            "stopped_early": stopped, "device": device}
