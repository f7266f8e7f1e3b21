"""W&B sweep YAML, the fifth config format: ``method``, ``metric: {name, goal}``, ``parameters``.

Read into the same sweep section the other formats give (``config._from_section``):

| W&B | Protein |
|---|---|
| ``method: bayes / random / grid`` | ``protein / random / grid`` |
| ``metric: {name, goal}`` | ``metric``, ``goal`` (no goal: inferred from the name, else W&B's minimize) |
| ``{value: X}`` | a fixed override |
| ``{values: [...]}`` / ``distribution: categorical`` | ``categorical`` |
| ``int_uniform`` / ``uniform`` | ``int_uniform`` / ``uniform`` |
| ``log_uniform_values`` | ``log_normal`` over [min, max] |
| ``log_uniform`` (bounds are exponents of e) | ``log_normal`` over [e^min, e^max] |
| ``q_uniform``, ``q_log_uniform_values`` | the same without ``q`` (a warning says so) |
| ``run_cap`` | ``max_trials`` |
| ``early_terminate: {type: hyperband, min_iter, eta}`` | ``--early-stop asha`` with that grace and reduction factor |
| ``program`` (and ``command`` with ``${args}`` / ``${args_no_hyphens}``) | the default ``--command`` and its ``--pass`` |
| ``project`` / ``entity`` | the W&B integration's project and entity |

Distributions without a Protein counterpart (``normal``, ``beta``, ``inv_log_uniform`` and
their ``q_`` forms) are errors that say what to use instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from protein.config.objectives import infer_goal
from protein.config.settings import ProteinWarning

TOP_KEYS = {"method", "metric", "parameters", "program", "command", "early_terminate", "run_cap",
            "name", "description", "project", "entity", "settings", "study", "seed_key"}
MARKERS = {"program", "command", "early_terminate", "run_cap", "project", "entity"}
METHODS = {"bayes": "protein", "random": "random", "grid": "grid"}
SAME = {"int_uniform": "int_uniform", "uniform": "uniform", "q_uniform": "uniform",
        "log_uniform_values": "log_normal", "q_log_uniform_values": "log_normal",
        "categorical": "categorical"}
UNSUPPORTED = {"normal", "q_normal", "log_normal", "q_log_normal", "beta", "q_beta",
               "inv_log_uniform", "inv_log_uniform_values", "q_log_uniform"}


def is_wandb(doc: Mapping[str, Any]) -> bool:
    """A W&B sweep: ``metric`` is a mapping, or a key only W&B sweeps have."""
    return isinstance(doc.get("metric"), Mapping) or bool(set(doc) & MARKERS)


def section_from_wandb(doc: Mapping[str, Any], error: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(a Protein sweep section, run extras) from a W&B sweep document.

    ``error(path, message)`` makes the ``file:line: key.path: message`` error.
    """
    for k in doc:
        if k not in TOP_KEYS:
            raise error((k,), f"unknown W&B sweep key; expected one of {sorted(TOP_KEYS)}")
    sec: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    method = doc.get("method", "bayes")
    if not isinstance(method, str) or method not in METHODS:
        raise error(("method",), f"expected one of {sorted(METHODS)}, got {method!r}")
    sec["method"] = METHODS[method]
    metric = doc.get("metric")
    if metric is None:
        raise error(("metric",), "missing; add metric: {name: NAME, goal: maximize}")
    if not isinstance(metric, Mapping) or not isinstance(metric.get("name"), str):
        raise error(("metric",), f"expected {{name: NAME, goal: maximize|minimize}}, got {metric!r}")
    sec["metric"] = metric["name"]
    if metric.get("goal") is not None:
        sec["goal"] = metric["goal"]
    else:
        if infer_goal(metric["name"]) is None:
            warnings.warn(f"metric.goal not given; minimize {metric['name']!r} (W&B's default)",
                          ProteinWarning, stacklevel=4)
            sec["goal"] = "minimize"
    for k in ("settings", "study", "seed_key"):
        if k in doc:
            sec[k] = doc[k]
    params, fixed = _parameters(doc.get("parameters"), ("parameters",), error)
    sec["parameters"] = params
    sec.update(fixed)
    if doc.get("run_cap") is not None:
        sec["max_trials"] = doc["run_cap"]
    if doc.get("early_terminate") is not None:
        extras.update(_early_terminate(doc["early_terminate"], error))
    if doc.get("program") is not None:
        extras.update(_command(doc["program"], doc.get("command"), error))
    if doc.get("project"):
        extras["wandb_project"] = str(doc["project"])
    if doc.get("entity"):
        extras["wandb_entity"] = str(doc["entity"])
    return sec, extras


def _parameters(raw: Any, at: tuple[str, ...], error: Any) -> tuple[dict, dict]:
    if not isinstance(raw, Mapping) or not raw:
        raise error(at, f"expected a non-empty mapping of parameters, got {raw!r}")
    params: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    for name, spec in raw.items():
        p = at + (str(name),)
        if not isinstance(spec, Mapping):
            raise error(p, f"expected {{values: [...]}}, {{value: X}} or {{distribution, min, "
                        f"max}}, got {spec!r}")
        if "parameters" in spec:  # a nested group
            sub, subfixed = _parameters(spec["parameters"], p + ("parameters",), error)
            params.update({f"{name}.{k}": v for k, v in sub.items()})
            if subfixed:
                fixed[str(name)] = subfixed
            continue
        if "value" in spec:
            fixed[str(name)] = spec["value"]
            continue
        params[str(name)] = _leaf(spec, p, error)
    return params, fixed


def _leaf(spec: Mapping[str, Any], p: tuple[str, ...], error: Any) -> dict[str, Any]:
    kind = spec.get("distribution", "categorical" if "values" in spec else None)
    if kind is None:
        raise error(p, "missing 'distribution' (or 'values' / 'value')")
    if kind == "constant":
        raise error(p + ("distribution",), "a constant is written {value: X}")
    if isinstance(kind, str) and kind in UNSUPPORTED:
        raise error(p + ("distribution",),
                    f"W&B's {kind!r} has no Protein counterpart; use log_uniform_values or "
                    "uniform over the range that matters, with mean: for the center")
    if kind not in SAME and kind != "log_uniform":
        raise error(p + ("distribution",), f"unknown W&B distribution {kind!r}; expected one of "
                    f"{sorted(set(SAME) | {'log_uniform'})}")
    if "probabilities" in spec:
        warnings.warn(f"{'.'.join(p)}.probabilities: ignored (Protein models every choice "
                      "alike)", ProteinWarning, stacklevel=5)
    if kind == "categorical":
        if "values" not in spec:
            raise error(p, "a categorical needs values: [...]")
        return {"distribution": "categorical", "values": spec["values"]}
    out: dict[str, Any] = {"distribution": SAME.get(kind, "log_normal")}
    for bound in ("min", "max"):
        if bound not in spec:
            raise error(p, f"missing '{bound}'")
        out[bound] = spec[bound]
    if kind == "log_uniform":
        try:
            out["min"], out["max"] = math.exp(float(spec["min"])), math.exp(float(spec["max"]))
        except (TypeError, ValueError, OverflowError):
            raise error(p, "log_uniform takes exponents of e as min and max") from None
    if "q" in spec:
        warnings.warn(f"{'.'.join(p)}.q: dropped; Protein searches {out['distribution']} "
                      "without a step (use int_uniform for whole numbers)", ProteinWarning,
                      stacklevel=5)
    for k in ("mean", "scale", "when"):
        if k in spec:
            out[k] = spec[k]
    return out


def _early_terminate(raw: Any, error: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or raw.get("type") != "hyperband":
        raise error(("early_terminate",), f"expected {{type: hyperband, min_iter: N, eta: 3}}, "
                    f"got {raw!r}")
    out: dict[str, Any] = {"early_stop": "asha"}
    if raw.get("min_iter") is not None:
        out["early_stop_grace"] = raw["min_iter"]
    if raw.get("eta") is not None:
        out["early_stop_reduction_factor"] = raw["eta"]
    if raw.get("max_iter") is not None:
        out["early_stop_max_resource"] = raw["max_iter"]
    return out


def _command(program: Any, command: Any, error: Any) -> dict[str, Any]:
    if not isinstance(program, str) or not program:
        raise error(("program",), f"expected the training script's path, got {program!r}")
    pass_mode = "flags"
    argv = ["python", program]
    if command is not None:
        if not isinstance(command, list):
            raise error(("command",), f"expected a list such as [${{env}}, python, ${{program}}, "
                        f"${{args}}], got {command!r}")
        argv = []
        for part in command:
            part = str(part)
            if part == "${env}":
                continue
            if part == "${interpreter}":
                argv.append("python")
            elif part == "${program}":
                argv.append(program)
            elif part == "${args}":
                pass_mode = "flags"
            elif part == "${args_no_hyphens}":
                pass_mode = "hydra"
            elif part == "${args_json_file}":
                pass_mode = "json"
            elif part.startswith("${"):
                raise error(("command",), f"{part}: not supported; use ${{args}}, "
                            "${args_no_hyphens} or ${args_json_file}")
            else:
                argv.append(part)
    import shlex

    return {"command": shlex.join(argv), "pass_mode": pass_mode}
