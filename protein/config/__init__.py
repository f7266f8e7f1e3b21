"""Sweep configs: every format people write, read into one validated ``SweepConfig``.

``sweep`` holds the ``SweepConfig`` record; ``load`` builds it with ``load_config`` from
Protein YAML/JSON, hyperparameter YAML and dicts; ``ini`` reads PufferLib's INI files and
``wandb`` W&B sweep files; ``settings`` the optimizer's settings; ``objectives`` metrics,
goals and constraints.
"""

from protein.config.load import load_config, yaml_loader
from protein.config.objectives import infer_goal
from protein.config.sweep import SweepConfig

__all__ = ["SweepConfig", "infer_goal", "load_config", "yaml_loader"]
