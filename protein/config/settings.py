"""Optimizer settings: the knobs of Protein's search, with their documented defaults."""

from __future__ import annotations

import dataclasses
import difflib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protein.errors import ConfigError


class ProteinWarning(UserWarning):
    """Something in the input was accepted but dropped or reinterpreted; the text says what."""


@dataclass(frozen=True)
class Settings:
    """How Protein searches. Every field can be set in a config's ``settings:`` block.

    Attributes:
        num_random_samples: size of the space-filling start (the search center, then
            scrambled Sobol points) before the model chooses.
        seed_with_search_center: the first trial runs the search center (``mean`` values).
        resample_frequency: every k-th suggestion re-runs a Pareto point exactly (0 = never).
        suggestions_per_pareto: local candidates drawn around each center point.
        random_suggestions: global (Sobol) candidates added to each proposal round.
        num_keep_top_obs: best observations used as extra centers, besides the Pareto front.
        expansion_rate: how far past the most expensive observation cost targets may reach
            (in normalised log cost; 0.25 = a quarter of the observed log-cost range).
        max_suggestion_cost: never propose points whose predicted cost exceeds this.
        prune_pareto: drop the flat expensive tail of the front before using it.
        global_search_scale: multiplies every parameter's ``scale``.
        early_stop_quantile: quantile of the score-vs-log-cost line below which
            ``should_stop`` stops a run.
        grid_points: values per continuous parameter for ``method: grid``.
        device: where the GPs run: ``cpu`` or ``cuda`` (float64 on both).
        max_gp_observations: most observations a GP is fit on (recent and best kept).
        cost_aware: ``auto`` (on when observed costs differ by more than 1.5x), or
            true / false.
        threads: torch threads for the GP fits of one suggestion (1: the fastest on a
            machine busy with trainers; more helps a lone ask on a large study).
    """

    num_random_samples: int = 5
    seed_with_search_center: bool = True
    resample_frequency: int = 0
    suggestions_per_pareto: int = 256
    random_suggestions: int = 1024
    num_keep_top_obs: int = 5
    expansion_rate: float = 0.25
    max_suggestion_cost: float | None = None
    prune_pareto: bool = True
    global_search_scale: float = 1.0
    early_stop_quantile: float = 0.3
    grid_points: int = 5
    device: str = "cpu"
    max_gp_observations: int = 1000
    cost_aware: bool | str = "auto"
    threads: int = 1

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(
                f"settings.{name}: {rule}, got {name}={getattr(self, name)!r}"
            )

        for name in ("num_random_samples", "resample_frequency", "num_keep_top_obs"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(name, "expected an integer >= 0")
        for name in ("suggestions_per_pareto", "random_suggestions", "grid_points",
                     "max_gp_observations", "threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, "expected an integer >= 1")
        for name in ("seed_with_search_center", "prune_pareto"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "expected true or false")
        for name in ("expansion_rate", "global_search_scale"):
            v = getattr(self, name)
            if not _is_num(v) or v < 0 or not math.isfinite(v):
                raise bad(name, "expected a finite number >= 0")
        if self.global_search_scale == 0:
            raise bad("global_search_scale", "expected a number > 0")
        if self.max_suggestion_cost is not None and (
            not _is_num(self.max_suggestion_cost) or self.max_suggestion_cost <= 0
        ):
            raise bad("max_suggestion_cost", "expected a number > 0 or null")
        if not _is_num(self.early_stop_quantile) or not 0 < self.early_stop_quantile < 1:
            raise bad("early_stop_quantile", "expected a number in (0, 1)")
        if self.cost_aware not in (True, False, "auto"):
            raise bad("cost_aware", "expected true, false or auto")
        if self.device not in ("cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise bad("device", "expected 'cpu', 'cuda' or 'cuda:N'")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


FIELDS = {f.name for f in dataclasses.fields(Settings)}

# PufferLib / Metta / CARBS option names: ours, or accepted and dropped with a warning.
RENAMED = {"use_gpu": "device", "gp_max_obs": "max_gp_observations"}
IGNORED = {
    "random_suggestions_per_center": "not used",
    "gp_training_iter": "GP hyperparameters are fit to convergence by L-BFGS",
    "gp_learning_rate": "GP hyperparameters are fit to convergence by L-BFGS",
    "infer_batch_size": "prediction batches are sized automatically",
    "optimizer_reset_frequency": "there is no Adam state to reset",
    "metric_distribution": ("scores are centred by their median, scaled by their IQR and "
                            "winsorised far below instead"),
    "downsample": "the runner records intermediate values itself",
    "acquisition_fn": "Protein always uses its cost-aware expected improvement",
    "ucb_beta": "Protein always uses its cost-aware expected improvement",
    "randomize_acquisition": "Protein always uses its cost-aware expected improvement",
    "state_file": "studies persist in their storage",
    "override_file": "not used",
    "cost_param": "cost is learned from observed costs",
    "sweep_only": "only the parameters in the config are searched",
    "gpus": "use protein run --workers",
}


def settings_from(raw: Mapping[str, Any], where: str = "settings") -> Settings:
    """Validate a ``settings:`` mapping; unknown names are errors, foreign ones warnings."""
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in FIELDS:
            kwargs[key] = value
        elif key == "use_gpu":
            kwargs["device"] = "cuda" if value else "cpu"
        elif key in RENAMED:
            kwargs[RENAMED[key]] = value
        elif key in IGNORED:
            warnings.warn(f"{where}.{key}: ignored ({IGNORED[key]})", ProteinWarning, stacklevel=3)
        else:
            close = difflib.get_close_matches(key, sorted(FIELDS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{where}.{key}: unknown setting; {hint}known settings: {', '.join(sorted(FIELDS))}"
            )
    for k, v in list(kwargs.items()):
        if isinstance(v, int) and not isinstance(v, bool) and k in (
            "expansion_rate", "global_search_scale", "early_stop_quantile", "max_suggestion_cost"
        ):
            try:
                kwargs[k] = float(v)
            except OverflowError:
                raise ConfigError(f"{where}.{k}: {str(v)[:20]}... is too large for a number; "
                                  "give a finite number") from None
    try:
        return Settings(**kwargs)
    except ConfigError as e:
        raise ConfigError(str(e).replace("settings.", f"{where}.", 1)) from None
