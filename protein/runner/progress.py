"""The run's status line."""

from __future__ import annotations

import sys
from typing import Any

from protein.pareto import objective_front


class Progress:
    """One status line: finished/total, running, best so far (a live line on a terminal)."""

    def __init__(self, study: Any, total: int | None, enabled: bool = True) -> None:
        self.study, self.total, self.enabled = study, total, enabled
        self.tty = sys.stderr.isatty()
        self.last = ""

    def line(self, trials: list) -> str:
        cfg = self.study.config
        states: dict[str, int] = {}
        for t in trials:
            states[t.state.value] = states.get(t.state.value, 0) + 1
        done = [t for t in trials if t.is_complete]
        best = max(done, key=lambda t: cfg.sign * t.score) if done else None
        fin = sum(v for k, v in states.items() if k != "running")
        total = f"/{self.total}" if self.total else ""
        extra = ", ".join(f"{states[k]} {k}" for k in ("failed", "pruned") if states.get(k))
        b = f"best {cfg.metric} {best.score:.4g} (trial {best.trial_id})" if best else "no result yet"
        if best and len(cfg.objectives) > 1:
            k = len(objective_front(cfg.objectives, cfg.constraints, done))
            b = f"{k} trial{'s' if k != 1 else ''} on the Pareto set"
        return (f"[{self.study.name}] {fin}{total} finished"
                + (f" ({extra})" if extra else "") + f", {states.get('running', 0)} running, {b}")

    def update(self, trials: list) -> None:
        if not self.enabled:
            return
        text = self.line(trials)
        if text == self.last:
            return
        self.last = text
        if self.tty:
            print("\r" + text.ljust(79)[:200], end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self, trials: list) -> None:
        if self.enabled:
            self.update(trials)
            if self.tty:
                print(file=sys.stderr)
