"""PPO on CartPole, with thousands of environments stepped at once as torch tensors.

The environment follows the classic cart-pole dynamics (Barto et al. 1983): episodes end
when the pole tips past 12 degrees, the cart leaves [-2.4, 2.4], or after ``max_steps``.
Everything (environments, rollouts, updates) lives on one device: CUDA when present.

Hyperparameters (nested under ``trainer``):

| name | distribution | range |
|---|---|---|
| ``trainer.learning_rate`` | log_normal | 1e-4 .. 1e-1 |
| ``trainer.num_envs`` | uniform_pow2 | 8 .. 4096 |
| ``trainer.num_steps`` | uniform_pow2 | 16 .. 256 |
| ``trainer.minibatch_size`` | uniform_pow2 | 64 .. 16384 |
| ``trainer.update_epochs`` | int_uniform | 1 .. 8 |
| ``trainer.gamma`` | logit_normal | 0.9 .. 0.999 |
| ``trainer.gae_lambda`` | logit_normal | 0.8 .. 0.99 |
| ``trainer.clip_coef`` | uniform | 0.05 .. 0.4 |
| ``trainer.ent_coef`` | log_normal | 1e-5 .. 1e-1 |
| ``trainer.hidden`` | uniform_pow2 | 16 .. 256 |
| ``trainer.total_timesteps`` (budget) | uniform_pow2 | 2^12 .. 2^20 |
| ``trainer.batch_size`` (optional) | uniform_pow2 | environment steps per rollout: sets ``num_envs`` to ``batch_size // num_steps`` (PufferLib's and CleanRL's meaning) |

``env.max_steps`` (or Metta's ``env.game.max_steps``) caps an episode (default 500).

Score: mean return of the episodes that ended in the last quarter of training (maximise;
the maximum is ``max_steps``); cost: environment steps taken.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from trainers.common import get, main, pick_device, seed_everything


class CartPole:
    """``n`` cart-poles stepped together; state (n, 4): x, x_dot, theta, theta_dot."""

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit = 12 * 2 * math.pi / 360
    x_limit = 2.4

    def __init__(self, n: int, device: str, generator: Any, max_steps: int = 500) -> None:
        import torch

        self.n, self.device, self.gen, self.max_steps = n, device, generator, max_steps
        self.state = torch.zeros(n, 4, device=device)
        self.t = torch.zeros(n, dtype=torch.long, device=device)
        self.ret = torch.zeros(n, device=device)
        self.reset(torch.ones(n, dtype=torch.bool, device=device))

    def reset(self, mask: Any) -> None:
        import torch

        k = int(mask.sum())
        if k:
            r = torch.rand(k, 4, generator=self.gen, device="cpu").to(self.device)
            self.state[mask] = (r - 0.5) * 0.1
            self.t[mask] = 0
            self.ret[mask] = 0

    def step(self, action: Any) -> tuple[Any, Any, Any, Any]:
        """Apply actions (n,) in {0, 1}; returns obs, reward, done, finished episode returns."""
        import torch

        x, x_dot, th, th_dot = self.state.unbind(1)
        force = torch.where(action == 1, self.force_mag, -self.force_mag)
        cos, sin = torch.cos(th), torch.sin(th)
        total = self.masscart + self.masspole
        pml = self.masspole * self.length
        temp = (force + pml * th_dot**2 * sin) / total
        th_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / total))
        x_acc = temp - pml * th_acc * cos / total
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * x_acc
        th = th + self.tau * th_dot
        th_dot = th_dot + self.tau * th_acc
        self.state = torch.stack([x, x_dot, th, th_dot], 1)
        self.t += 1
        reward = torch.ones(self.n, device=self.device)
        self.ret += reward
        fell = (x.abs() > self.x_limit) | (th.abs() > self.theta_limit)
        done = fell | (self.t >= self.max_steps)
        finished = self.ret[done].clone()
        self.reset(done)
        return self.state.clone(), reward, fell.float(), (done, finished)


# every key train() reads: a sweep that searches or fixes another is told so before it runs
READS = tuple(f"trainer.{k}" for k in (
    "learning_rate", "num_envs", "num_steps", "minibatch_size", "update_epochs", "gamma",
    "gae_lambda", "clip_coef", "ent_coef", "hidden", "total_timesteps", "batch_size")) + (
    "env.max_steps", "env.game.max_steps")


def train(params: Mapping[str, Any], *, seed: int = 0, device: str | None = None,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    import torch
    from torch import nn

    device = pick_device(device)
    seed_everything(seed)
    p = lambda name, default: get(params, f"trainer.{name}", default)  # noqa: E731
    lr = float(p("learning_rate", 2.5e-3))
    num_envs = int(p("num_envs", 64))
    num_steps = int(p("num_steps", 64))
    mb = int(p("minibatch_size", 1024))
    epochs = int(p("update_epochs", 4))
    gamma = float(p("gamma", 0.99))
    lam = float(p("gae_lambda", 0.95))
    clip = float(p("clip_coef", 0.2))
    ent = float(p("ent_coef", 0.01))
    hidden = int(p("hidden", 64))
    total = int(p("total_timesteps", 2**16))
    batch = p("batch_size", None)
    if batch is not None:  # a rollout of batch_size steps: as many environments as fit
        num_envs = max(1, int(batch) // num_steps)
    max_steps = int(get(params, "env.max_steps", get(params, "env.game.max_steps", 500)))
    if min(num_envs, num_steps, mb, epochs, hidden, total) < 1 or lr <= 0:
        raise ValueError(f"cartpole: invalid hyperparameters {dict(params)!r}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    env = CartPole(num_envs, device, gen, max_steps)

    def mlp(out: int, std: float) -> nn.Module:
        net = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                            nn.Linear(hidden, out))
        for m in net:
            if isinstance(m, nn.Linear):
                nn.init.orthogonal_(m.weight, math.sqrt(2))
                nn.init.zeros_(m.bias)
        nn.init.orthogonal_(net[-1].weight, std)
        return net.to(device)

    actor, critic = mlp(2, 0.01), mlp(1, 1.0)
    opt = torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=lr, eps=1e-5)
    batch = num_envs * num_steps
    iters = max(1, total // batch)
    obs = env.state.clone()
    buf_obs = torch.zeros(num_steps, num_envs, 4, device=device)
    buf_act = torch.zeros(num_steps, num_envs, dtype=torch.long, device=device)
    buf_logp = torch.zeros(num_steps, num_envs, device=device)
    buf_rew = torch.zeros(num_steps, num_envs, device=device)
    buf_done = torch.zeros(num_steps, num_envs, device=device)
    buf_val = torch.zeros(num_steps, num_envs, device=device)
    returns_log: list[tuple[int, float]] = []
    steps = 0
    start = time.perf_counter()
    stopped = False
    for it in range(1, iters + 1):
        with torch.no_grad():
            for t in range(num_steps):
                logits = actor(obs)
                probs = torch.softmax(logits, -1)
                u = torch.rand(num_envs, generator=gen).to(device)
                action = (u > probs[:, 0]).long()
                buf_obs[t], buf_act[t] = obs, action
                buf_logp[t] = torch.log(probs.gather(1, action[:, None]).squeeze(1) + 1e-12)
                buf_val[t] = critic(obs).squeeze(1)
                obs, rew, fell, (done, finished) = env.step(action)
                buf_rew[t], buf_done[t] = rew, done.float()
                # bootstrap through time-limit truncation, not through a fall
                trunc = done & (fell == 0)
                if trunc.any():
                    buf_rew[t] += gamma * critic(obs).squeeze(1) * trunc.float()
                steps += num_envs
                for r in finished.tolist():
                    returns_log.append((steps, r))
            next_val = critic(obs).squeeze(1)
            adv = torch.zeros_like(buf_rew)
            last = torch.zeros(num_envs, device=device)
            for t in reversed(range(num_steps)):
                nv = next_val if t == num_steps - 1 else buf_val[t + 1]
                nonterm = 1.0 - buf_done[t]
                delta = buf_rew[t] + gamma * nv * nonterm - buf_val[t]
                last = delta + gamma * lam * nonterm * last
                adv[t] = last
            ret = adv + buf_val
        b_obs, b_act = buf_obs.reshape(-1, 4), buf_act.reshape(-1)
        b_logp, b_adv, b_ret = buf_logp.reshape(-1), adv.reshape(-1), ret.reshape(-1)
        size = min(mb, batch)
        for _ in range(epochs):
            perm = torch.randperm(batch, generator=gen).to(device)
            for i in range(0, batch, size):
                idx = perm[i : i + size]
                logits = actor(b_obs[idx])
                logp_all = torch.log_softmax(logits, -1)
                logp = logp_all.gather(1, b_act[idx][:, None]).squeeze(1)
                ratio = torch.exp(logp - b_logp[idx])
                a = b_adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8) if len(idx) > 1 else a
                pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - clip, 1 + clip) * a).mean()
                v_loss = 0.5 * ((critic(b_obs[idx]).squeeze(1) - b_ret[idx]) ** 2).mean()
                entropy = -(logp_all.exp() * logp_all).sum(1).mean()
                loss = pg + 0.5 * v_loss - ent * entropy
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_([*actor.parameters(), *critic.parameters()], 0.5)
                opt.step()
        if not torch.isfinite(loss):
            return {"score": float("nan"), "cost": float(steps), "error": "loss diverged"}
        recent = [r for s, r in returns_log if s > steps - 4 * batch] or [r for _, r in returns_log[-20:]]
        if report is not None and recent and report(steps, sum(recent) / len(recent), steps):
            stopped = True
            break
    tail = [r for s, r in returns_log if s > 0.75 * steps] or [r for _, r in returns_log[-20:]] or [0.0]
    seconds = time.perf_counter() - start
    return {"score": float(sum(tail) / len(tail)), "cost": float(steps), "env_steps": steps,
            "episodes": len(returns_log), "seconds": seconds, "steps_per_second": steps / seconds,
            "stopped_early": stopped, "device": device}


if __name__ == "__main__":
    raise SystemExit(main(train))
