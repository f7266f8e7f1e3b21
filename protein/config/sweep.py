"""``SweepConfig``: everything a sweep needs, validated (``protein.config.load`` builds it)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protein.config.objectives import Constraint, Objective
from protein.config.settings import Settings
from protein.errors import ConfigError
from protein.space import Space

# Study names become folder names (runs/<study>, reports/<study>): nothing that could leave them.
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
STUDY_NAME_RULE = ("letters, digits and _.@+- (at most 128 characters, starting with a "
                   "letter or digit)")


def check_study_name(name: Any) -> str:
    """``name`` if it is a valid study name, else a ConfigError that says the rule."""
    if not isinstance(name, str) or not STUDY_NAME.match(name):
        raise ConfigError(f"study name {name!r}: expected {STUDY_NAME_RULE}; choose another "
                          "with --study NAME or the config's study: key")
    return name

@dataclass(frozen=True)
class SweepConfig:
    """Everything a sweep needs, validated.

    ``space.fixed`` holds the fixed overrides (a nested dict) that every trial gets.
    ``max_trials`` is ``rollout_count * num_samples`` when those are given.
    """

    space: Space
    objectives: tuple[Objective, ...] = (Objective("score", "maximize"),)
    method: str = "protein"
    settings: Settings = field(default_factory=Settings)
    rollout_count: int | None = None
    num_samples: int = 1
    source: str = "<dict>"
    extras: Mapping[str, Any] = field(default_factory=dict)
    constraints: tuple[Constraint, ...] = ()
    study: str | None = None
    seed_key: str | None = "seed"

    @property
    def metric(self) -> str:
        """The primary metric: its value is a trial's score."""
        return self.objectives[0].name

    @property
    def goal(self) -> str:
        return self.objectives[0].goal

    @property
    def sign(self) -> float:
        """+1 to maximise, -1 to minimise: internals maximise ``sign * score``."""
        return self.objectives[0].sign

    @property
    def multi(self) -> bool:
        """True when the sweep optimises several metrics or has constraints."""
        return len(self.objectives) > 1 or bool(self.constraints)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric a trial reports: the objectives, then constrained-only metrics."""
        names = [o.name for o in self.objectives]
        return tuple(dict.fromkeys(names + [c.metric for c in self.constraints]))

    @property
    def fixed(self) -> Mapping[str, Any]:
        return self.space.fixed

    @property
    def max_trials(self) -> int | None:
        if "max_trials" in self.extras:
            return int(self.extras["max_trials"])
        if self.rollout_count is None:
            return None
        return self.rollout_count * self.num_samples

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form; ``load_config(cfg.to_dict())`` rebuilds an equal config."""
        import dataclasses

        defaults = Settings()
        settings = {
            f.name: getattr(self.settings, f.name)
            for f in dataclasses.fields(Settings)
            if getattr(self.settings, f.name) != getattr(defaults, f.name)
        }
        out: dict[str, Any] = {"method": self.method}
        if len(self.objectives) > 1:
            out["metrics"] = {o.name: o.goal for o in self.objectives}
        else:
            out["metric"] = self.metric
            out["goal"] = self.goal
        if self.constraints:
            out["constraints"] = [str(c) for c in self.constraints]
        out["parameters"] = self.space.to_dict()
        if settings:
            out["settings"] = settings
        if self.rollout_count is not None:
            out["rollout_count"] = self.rollout_count
            out["num_samples"] = self.num_samples
        if "max_trials" in self.extras:
            out["max_trials"] = self.extras["max_trials"]
        if self.study is not None:
            out["study"] = self.study
        if self.seed_key != "seed":
            out["seed_key"] = self.seed_key
        out.update({k: v for k, v in self.fixed.items()})
        return out

    def study_name(self, path: str | os.PathLike[str] | None = None) -> str:
        """The study this config runs as: its ``study:`` key, else the config file's stem."""
        if self.study is not None:
            return self.study
        if path is not None and not isinstance(path, Mapping):
            return Path(path).stem
        return "default"
