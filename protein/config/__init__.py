"""Sweep configs: every format people write, read into one validated ``SweepConfig``.

``sweep`` holds ``SweepConfig`` and ``load_config`` (Protein YAML/JSON, hyperparameter
YAML, dicts); ``ini`` PufferLib's INI files; ``wandb`` W&B sweep files; ``settings`` the
optimizer's settings; ``objectives`` metrics, goals and constraints.
"""

from protein.config.sweep import SweepConfig, infer_goal, load_config, yaml_loader

__all__ = ["SweepConfig", "infer_goal", "load_config", "yaml_loader"]
