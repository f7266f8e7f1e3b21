"""PPO on Acrobot, a harder RL task than CartPole, with the environments stepped as tensors.

The environment follows the classic acrobot swing-up (Sutton 1996; the dynamics of Sutton &
Barto's book, as in Gymnasium's ``Acrobot-v1``): two links hang from a fixed joint and only
the joint between them is driven, with a torque of -1, 0 or +1. Each step lasts 0.2 s
(one fourth-order Runge-Kutta step); the reward is -1 until the free end swings above
one link's length over the fixed joint, which ends the episode; episodes are cut after
``max_steps`` (default 500). The policy observes cos and sin of both joint angles and both
angular velocities. A policy that never swings up scores ``-max_steps``; good ones need 60
to 100 steps. Unlike CartPole's, most settings learn slowly or not at all: the reward says
nothing until a swing succeeds, and the value of a state spans hundreds of steps.

The PPO loop and its hyperparameters are ``trainers.ppo``'s (the table there); defaults
here: learning rate 1e-3, 32 environments x 64 steps, minibatch 512, 4 epochs, gamma 0.99,
lambda 0.95, clip 0.2, entropy 0.01, hidden width 64, 2^17 environment steps.

Score: mean return of the episodes that ended in the last quarter of training (maximise;
-``max_steps`` when none ended); cost: environment steps taken. Only ended episodes count:
each environment gets ``total_timesteps / num_envs`` steps, so with 256 environments and
2^14 steps (64 each) a policy that needs 80 steps to swing up ends none and scores
-``max_steps``. Where you copy this, keep the budget many episodes per environment long.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from trainers import ppo
from trainers.common import get, main, pick_device, seed_everything
from trainers.ppo import KEYS, Settings, TensorEnv


class Acrobot(TensorEnv):
    """``n`` acrobots stepped together (a ``trainers.ppo.VecEnv``); state (n, 4): theta1,
    theta2, dtheta1, dtheta2 (radians, radians per second; theta = 0 hangs straight down)."""

    obs_dim, n_actions = 6, 3
    m1 = m2 = 1.0  # link masses
    l1 = 1.0  # length of the first link
    lc1 = lc2 = 0.5  # positions of the links' centres of mass
    inertia = 1.0  # moment of inertia of each link
    g = 9.8
    dt = 0.2
    max_vel1, max_vel2 = 4 * math.pi, 9 * math.pi
    start_width = 0.2  # every coordinate starts uniform in [-0.1, 0.1]
    # the dynamics' constant terms
    _a0 = m1 * lc1**2 + m2 * (l1**2 + lc2**2) + 2 * inertia
    _b0 = m2 * lc2**2 + inertia
    _g1 = (m1 * lc1 + m2 * l1) * g
    _h = m2 * l1 * lc2  # the coupling of the two links

    def observe(self) -> Any:
        import torch

        th1, th2, d1, d2 = self.state.unbind(1)
        return torch.stack([torch.cos(th1), torch.sin(th1), torch.cos(th2), torch.sin(th2),
                            d1, d2], 1)

    def _derivative(self, th1: Any, th2: Any, d1: Any, d2: Any, torque: Any) -> tuple:
        """d (theta1, theta2, dtheta1, dtheta2) / dt, each (n,), under ``torque`` (n,): the
        book's dynamics, with cos(x - pi/2) written sin(x) and the constants folded (each
        tensor operation costs microseconds on small batches)."""
        import torch

        h = self._h
        cos2, sin2 = torch.cos(th2), torch.sin(th2)
        a = cos2 * (2 * h) + self._a0
        b = cos2 * h + self._b0
        phi2 = torch.sin(th1 + th2) * (self.m2 * self.lc2 * self.g)
        phi1 = torch.sin(th1) * self._g1 + phi2 - (d2 + 2 * d1) * d2 * sin2 * h
        b_a = b / a
        dd2 = ((torque + b_a * phi1 - d1 * d1 * sin2 * h - phi2)
               / (self._b0 - b * b_a))
        dd1 = -(b * dd2 + phi1) / a
        return d1, d2, dd1, dd2

    def step(self, action: Any) -> tuple[Any, Any, Any, Any]:
        """Apply actions (n,) in {0, 1, 2} (torque -1, 0, +1); returns obs, reward,
        terminal, (done, finished episode returns)."""
        import torch

        torque = action.to(self.state.dtype) - 1.0
        s, h = self.state.unbind(1), self.dt
        k1 = self._derivative(*s, torque)
        k2 = self._derivative(*(x + h / 2 * k for x, k in zip(s, k1)), torque)
        k3 = self._derivative(*(x + h / 2 * k for x, k in zip(s, k2)), torque)
        k4 = self._derivative(*(x + h * k for x, k in zip(s, k3)), torque)
        th1, th2, d1, d2 = (x + h / 6 * (a + 2 * b + 2 * c + d)
                            for x, a, b, c, d in zip(s, k1, k2, k3, k4))
        th1 = torch.remainder(th1 + math.pi, 2 * math.pi) - math.pi
        th2 = torch.remainder(th2 + math.pi, 2 * math.pi) - math.pi
        d1 = d1.clamp(-self.max_vel1, self.max_vel1)
        d2 = d2.clamp(-self.max_vel2, self.max_vel2)
        self.state = torch.stack([th1, th2, d1, d2], 1)
        self.t += 1
        up = -torch.cos(th1) - torch.cos(th1 + th2) > 1.0
        reward = torch.where(up, 0.0, -1.0).to(self.state.dtype)
        self.ret += reward
        done = up | (self.t >= self.max_steps)
        finished = self.ret[done].clone()
        self.reset(done)
        return self.observe(), reward, up.to(self.state.dtype), (done, finished)


# every key train() reads: a sweep that searches or fixes another is told so before it runs
READS = tuple(f"trainer.{k}" for k in KEYS) + ("env.max_steps",)
DEFAULTS = {"learning_rate": 1e-3, "num_envs": 32, "num_steps": 64, "minibatch_size": 512,
            "update_epochs": 4, "gamma": 0.99, "gae_lambda": 0.95, "clip_coef": 0.2,
            "ent_coef": 0.01, "hidden": 64, "total_timesteps": 2**17}


def train(params: Mapping[str, Any], *, seed: int = 0, device: str | None = None,
          report: Callable[[float, float, float], bool | None] | None = None) -> dict[str, Any]:
    import torch

    device = pick_device(device)
    seed_everything(seed)
    s = Settings.of(params, DEFAULTS, "acrobot")
    max_steps = int(get(params, "env.max_steps", 500))
    if max_steps < 1:
        raise ValueError(f"acrobot: env.max_steps must be >= 1, got {max_steps}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    env = Acrobot(s.num_envs, device, gen, max_steps)
    return ppo.train(env, s, gen, device, fallback=-float(max_steps), report=report)


if __name__ == "__main__":
    raise SystemExit(main(train))
