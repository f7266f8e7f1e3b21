"""PPO on CartPole, with thousands of environments stepped at once as torch tensors.

The environment follows the classic cart-pole dynamics (Barto et al. 1983): episodes end
when the pole tips past 12 degrees, the cart leaves [-2.4, 2.4], or after ``max_steps``.
Everything (environments, rollouts, updates) lives on one device: CUDA when present. The
PPO loop is ``trainers.ppo``'s.

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
from collections.abc import Callable, Mapping
from typing import Any

from trainers import ppo
from trainers.common import get, main, pick_device, seed_everything
from trainers.ppo import KEYS, Settings, TensorEnv


class CartPole(TensorEnv):
    """``n`` cart-poles stepped together (a ``trainers.ppo.VecEnv``); state (n, 4): x,
    x_dot, theta, theta_dot, which is also what the policy observes."""

    obs_dim, n_actions = 4, 2

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit = 12 * 2 * math.pi / 360
    x_limit = 2.4

    def observe(self) -> Any:
        return self.state.clone()

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
READS = tuple(f"trainer.{k}" for k in KEYS) + ("env.max_steps", "env.game.max_steps")
DEFAULTS = {"learning_rate": 2.5e-3, "num_envs": 64, "num_steps": 64, "minibatch_size": 1024,
            "update_epochs": 4, "gamma": 0.99, "gae_lambda": 0.95, "clip_coef": 0.2,
            "ent_coef": 0.01, "hidden": 64, "total_timesteps": 2**16}


def train(params: Mapping[str, Any], *, seed: int = 0, device: str | None = None,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    import torch

    device = pick_device(device)
    seed_everything(seed)
    s = Settings.of(params, DEFAULTS, "cartpole")
    max_steps = int(get(params, "env.max_steps", get(params, "env.game.max_steps", 500)))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    env = CartPole(s.num_envs, device, gen, max_steps)
    return ppo.train(env, s, gen, device, fallback=0.0, report=report)


if __name__ == "__main__":
    raise SystemExit(main(train))
