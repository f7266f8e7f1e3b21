"""CARBS sweep configs -> Protein sweep YAML, with one warning per lossy or doubtful item.

Reads three shapes:

* a config tree whose leaves may be OmegaConf resolver calls
  ``${ss:<log|linear|pow2|logit|int>, min, max[, search_center]}``;
* the same tree with explicit dict leaves ``{space, min, max, search_center, is_int,
  scale, rounding_factor}``;
* CARBS ``Param`` lists (``name``, ``space`` = ``LinearSpace`` / ``LogSpace`` /
  ``LogitSpace`` with ``min``, ``max``, ``scale``, ``is_integer``, ``rounding_factor``,
  ``base``; ``search_center``) with ``CARBSParams`` settings beside them.

``carbs_to_protein`` is pure: it returns the new config (a dict in the ``sweep:`` YAML
format that ``load_config`` reads) and the warnings; unbounded ranges and centers outside
their range are errors, never invented values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from protein.errors import ConfigError
from protein.tree import flatten, set_path

SS = re.compile(r"^\$\{\s*ss\s*:(?P<args>[^}]*)\}$")
LOOKS_LIKE_RESOLVER = re.compile(r"^\$\{?\s*\w+\s*[:(]|^\$\w+\(")
SPACES = {"log": "log_normal", "linear": "uniform", "int": "int_uniform",
          "pow2": "uniform_pow2", "logit": "logit_normal"}
CARBS_CLASSES = {"LogSpace": "log", "LinearSpace": "linear", "LogitSpace": "logit"}
LEAF_KEYS = {"space", "min", "max", "search_center", "is_int", "is_integer", "scale",
             "rounding_factor", "base"}

# top-level CARBS / Metta keys: (what they become, or None to drop with a warning)
RUN_KEYS = {"metric": "metric", "rollout_count": "rollout_count",
            "num_random_samples": "settings.num_random_samples"}
CARBS_SETTINGS = {
    "better_direction_sign": "goal",
    "max_suggestion_cost": "settings.max_suggestion_cost",
    "num_random_samples": "settings.num_random_samples",
    "resample_frequency": "settings.resample_frequency",
    "num_candidates_for_suggestion_per_dim": None,
    "initial_search_radius": None,
    "seed": None,
    "is_saved_on_every_observation": None,
    "checkpoint_dir": None,
    "s3_checkpoint_path": None,
    "is_wandb_logging_enabled": None,
    "wandb_params": None,
    "outstanding_suggestion_estimator": None,
    "min_pareto_cost_fraction": None,
    "is_pareto_group_selection_conservative": None,
    "max_pareto_group_size": None,
    "is_expected_improvement_pareto_value_clamped": None,
    "is_expected_improvement_value_always_max": None,
    "resample_count": None,
}
DROPPED_TOP = ("resume", "sweep_params", "sweep_params_override", "eval", "generation",
               "wandb", "s3", "checkpoint", "data_dir", "run_dir", "sweep_name", "sweep_job")


def carbs_to_protein(doc: Any, base: Mapping[str, Any] | None = None,
                     source: str = "<input>") -> tuple[dict[str, Any], list[str]]:
    """Migrate a CARBS config (see module docstring). Returns ``(config, warnings)``."""
    warnings: list[str] = []
    base_flat = flatten(base) if base else {}
    if isinstance(doc, list) or (isinstance(doc, Mapping) and isinstance(doc.get("parameters"), list)):
        params_list = doc if isinstance(doc, list) else doc["parameters"]
        settings_src = {} if isinstance(doc, list) else {
            k: v for k, v in doc.items() if k != "parameters"}
        return _from_param_list(params_list, settings_src, base_flat, source, warnings)
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{source}: expected a CARBS config mapping or parameter list, "
                          f"got {type(doc).__name__}")
    if isinstance(doc.get("sweep"), Mapping):  # a root sweep: block is the sweep itself
        inner = doc["sweep"]
        clash = sorted(set(inner) & (set(doc) - {"sweep"}))
        if clash:
            raise ConfigError(f"{source}: {clash[0]} is given both at the top and in sweep:; "
                              "keep one")
        doc = {**{k: v for k, v in doc.items() if k != "sweep"}, **inner}
    parameters: dict[str, Any] = {}
    fixed: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    out: dict[str, Any] = {}
    goal = "maximize"
    for key, value in doc.items():
        if key in RUN_KEYS:
            target = RUN_KEYS[key]
            if target.startswith("settings."):
                settings[target.split(".", 1)[1]] = value
            else:
                out[target] = value
        elif key in ("params", "carbs_params", "CARBSParams") and isinstance(value, Mapping):
            goal = _carbs_settings(value, f"{key}", settings, warnings, goal)
        elif key in DROPPED_TOP or key.startswith("wandb"):
            warnings.append(f"{key}: dropped (no Protein meaning: W&B, S3, checkpoints and "
                            "sweep bookkeeping are configured elsewhere)")
        else:
            _walk(key, value, parameters, fixed, base_flat, warnings)
    if not parameters:
        raise ConfigError(f"{source}: no searched parameter found; expected ${{ss:...}} values "
                          "or {space, min, max} entries")
    if "metric" not in out:
        warnings.append("metric: not in the source; wrote metric: score, goal: "
                        f"{goal}: set them to what your trainer reports")
    sweep: dict[str, Any] = {"metric": out.pop("metric", "score"), "goal": goal,
                             "method": "protein", "parameters": parameters}
    if settings:
        sweep["settings"] = settings
    sweep.update(_nest(fixed))
    result: dict[str, Any] = {}
    if "rollout_count" in out:
        result["rollout_count"] = out["rollout_count"]
        result["num_samples"] = 1
    result["sweep"] = sweep
    return result, warnings


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for k, v in flat.items():
        set_path(tree, k, v)
    return tree


def _walk(path: str, value: Any, parameters: dict, fixed: dict, base: Mapping[str, Any],
          warnings: list[str]) -> None:
    if isinstance(value, str):
        m = SS.match(value.strip())
        if m:
            parameters[path] = _from_ss(path, m.group("args"), base, warnings)
            return
        if LOOKS_LIKE_RESOLVER.match(value.strip()):
            warnings.append(
                f"{path}: {value!r} looks like a search space but is not a ${{ss:...}} call; "
                "not migrated -- write it as ${ss:pow2, 1024, 32768} (say) and migrate again"
            )
            return
    if isinstance(value, Mapping):
        if "space" in value and set(value) <= LEAF_KEYS:
            parameters[path] = _from_leaf(path, dict(value), base, warnings)
            return
        if not value:
            fixed[path] = {}
        for k, v in value.items():
            _walk(f"{path}.{k}", v, parameters, fixed, base, warnings)
        return
    fixed[path] = value


def _number(path: str, what: str, raw: Any) -> float | None:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("null", "none", "")):
        return None
    if isinstance(raw, bool):
        raise ConfigError(f"{path}: {what} must be a number, got {raw!r}")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {what} must be a number, got {raw!r}") from None


def _from_ss(path: str, args: str, base: Mapping[str, Any], warnings: list[str]) -> dict:
    parts = [a.strip() for a in args.split(",")]
    if len(parts) not in (3, 4):
        raise ConfigError(f"{path}: ${{ss:{args}}} needs space, min, max[, search_center]; "
                          f"got {len(parts)} argument(s)")
    leaf = {"space": parts[0], "min": parts[1], "max": parts[2]}
    if len(parts) == 4:
        leaf["search_center"] = parts[3]
    return _from_leaf(path, leaf, base, warnings)


def _from_leaf(path: str, leaf: dict, base: Mapping[str, Any], warnings: list[str]) -> dict:
    space = str(leaf.get("space", "")).strip().lower()
    if space not in SPACES:
        raise ConfigError(f"{path}: unknown CARBS space {leaf.get('space')!r}; expected one of "
                          f"{', '.join(SPACES)}")
    lo = _number(path, "min", leaf.get("min"))
    hi = _number(path, "max", leaf.get("max"))
    if lo is None or hi is None or not math.isfinite(lo) or not math.isfinite(hi):
        raise ConfigError(
            f"{path}: unbounded range (min={leaf.get('min')}, max={leaf.get('max')}); Protein "
            "needs finite bounds -- add min and max to this parameter"
        )
    is_int = bool(leaf.get("is_int") or leaf.get("is_integer"))
    return _protein_entry(path, space, lo, hi, is_int, leaf.get("search_center"),
                          leaf.get("scale"), leaf.get("rounding_factor"), leaf.get("base"),
                          base, warnings)


def _protein_entry(path: str, space: str, lo: float, hi: float, is_int: bool, center: Any,
                   scale: Any, rounding: Any, log_base: Any, base: Mapping[str, Any],
                   warnings: list[str]) -> dict:
    if not lo < hi:
        raise ConfigError(f"{path}: min must be below max, got min={lo:g}, max={hi:g}")
    kind = SPACES[space]
    if space == "log" and is_int:
        kind = "int_uniform"
        warnings.append(f"{path}: integer log space has no exact Protein form; mapped to "
                        "int_uniform (linear). Use uniform_pow2 if the values are powers of two")
    elif space == "linear" and is_int:
        kind = "int_uniform"
    if space == "logit":
        if lo <= 0 or hi >= 1:
            nlo, nhi = max(lo, 1e-6), min(hi, 1 - 1e-6)
            warnings.append(f"{path}: logit bounds must lie inside (0, 1); [{lo:g}, {hi:g}] "
                            f"clamped to [{nlo:g}, {nhi:g}]")
            lo, hi = nlo, nhi
    if kind == "uniform_pow2":
        plo, phi = 2 ** math.ceil(math.log2(lo)) if lo > 0 else 1, 2 ** math.floor(math.log2(hi))
        if plo != lo or phi != hi:
            warnings.append(f"{path}: pow2 bounds must be powers of two; [{lo:g}, {hi:g}] "
                            f"narrowed to [{plo}, {phi}]")
        lo, hi = plo, phi
        if not lo < hi:
            raise ConfigError(f"{path}: no two powers of two lie in the range; widen it")
    if kind == "int_uniform":
        ilo, ihi = math.ceil(lo), math.floor(hi)
        if (ilo, ihi) != (lo, hi):
            warnings.append(f"{path}: integer bounds [{lo:g}, {hi:g}] rounded inward to "
                            f"[{ilo}, {ihi}]")
        lo, hi = ilo, ihi
    entry: dict[str, Any] = {"distribution": kind, "min": _plain(lo), "max": _plain(hi)}
    c = _number(path, "search_center", center)
    if c is None:
        if path in base:
            c = _number(path, f"--base value of {path}", base[path])
            warnings.append(f"{path}: no search_center; using the --base value {c:g}")
        else:
            warnings.append(f"{path}: no search_center and no --base value; Protein will "
                            "search around the middle of the range")
    if c is not None:
        if not lo <= c <= hi:
            raise ConfigError(f"{path}: search_center {c:g} lies outside [{lo:g}, {hi:g}]; "
                              "move it inside or widen the range")
        entry["mean"] = _plain(c)
    if scale is not None:
        warnings.append(f"{path}: CARBS scale {scale} is in CARBS units, not Protein's; "
                        "using scale: auto")
    entry["scale"] = "auto"
    if rounding is not None and float(rounding) != 1:
        warnings.append(f"{path}: rounding_factor {rounding} has no Protein equivalent; "
                        "values are not rounded")
    if log_base is not None and space == "log" and float(log_base) != 10:
        warnings.append(f"{path}: log base {log_base} does not matter to Protein; dropped")
    return entry


def _plain(x: float) -> float | int:
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else float(x)


def _carbs_settings(src: Mapping[str, Any], where: str, settings: dict, warnings: list[str],
                    goal: str) -> str:
    for k, v in src.items():
        target = CARBS_SETTINGS.get(k, "unknown")
        if target == "goal":
            if v not in (1, -1, 1.0, -1.0):
                raise ConfigError(f"{where}.{k}: expected 1 or -1, got {v!r}")
            goal = "maximize" if v == 1 else "minimize"
        elif target is None or target == "unknown":
            warnings.append(f"{where}.{k}: dropped (no Protein meaning)")
        else:
            settings[target.split(".", 1)[1]] = v
    return goal


def _from_param_list(params: list, settings_src: Mapping[str, Any], base: Mapping[str, Any],
                     source: str, warnings: list[str]) -> tuple[dict[str, Any], list[str]]:
    parameters: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    goal = "maximize"
    metric = "score"
    for k, v in settings_src.items():
        if k in ("params", "carbs_params", "CARBSParams", "settings") and isinstance(v, Mapping):
            goal = _carbs_settings(v, k, settings, warnings, goal)
        elif k == "metric":
            metric = v
        elif k in CARBS_SETTINGS:
            goal = _carbs_settings({k: v}, "", settings, warnings, goal)
        else:
            warnings.append(f"{k}: dropped (no Protein meaning)")
    for i, p in enumerate(params):
        where = f"parameters[{i}]"
        if not isinstance(p, Mapping) or "name" not in p or "space" not in p:
            raise ConfigError(f"{source}: {where}: expected {{name, space, search_center}}, got {p!r}")
        name = str(p["name"]).replace("/", ".")
        space = p["space"]
        cls, fields = None, {}
        if isinstance(space, str):
            cls, fields = space, {k: v for k, v in p.items() if k not in ("name", "space")}
        elif isinstance(space, Mapping) and len(space) == 1 and next(iter(space)) in CARBS_CLASSES:
            cls, fields = next(iter(space.items()))
        elif isinstance(space, Mapping):
            cls = space.get("type") or space.get("class") or space.get("__class__")
            fields = {k: v for k, v in space.items() if k not in ("type", "class", "__class__")}
        if not isinstance(cls, str) or cls not in CARBS_CLASSES:
            raise ConfigError(f"{source}: {name}: unknown CARBS space {cls!r}; expected one of "
                              f"{', '.join(CARBS_CLASSES)}")
        lo = _number(name, "min", fields.get("min", -math.inf))
        hi = _number(name, "max", fields.get("max", math.inf))
        if lo is None or hi is None or not math.isfinite(lo) or not math.isfinite(hi):
            raise ConfigError(
                f"{source}: {name}: unbounded {cls} (min={fields.get('min', '-inf')}, "
                f"max={fields.get('max', 'inf')}); Protein needs finite bounds -- add min and max"
            )
        parameters[name] = _protein_entry(
            name, CARBS_CLASSES[cls], lo, hi, bool(fields.get("is_integer")),
            p.get("search_center"), fields.get("scale"), fields.get("rounding_factor"),
            fields.get("base"), base, warnings)
    if "metric" not in settings_src:
        warnings.append("metric: not in the source; wrote metric: score, goal: "
                        f"{goal}: set them to what your trainer reports")
    sweep: dict[str, Any] = {"metric": metric, "goal": goal, "method": "protein",
                             "parameters": parameters}
    if settings:
        sweep["settings"] = settings
    return {"sweep": sweep}, warnings


def check_rows(doc: Any, new: Mapping[str, Any]) -> list[list[Any]]:
    """Rows (path, CARBS space, Protein distribution, min, max, center) for ``--check``."""
    rows = []
    old = _old_spaces(doc)
    for name, e in new["sweep"]["parameters"].items():
        rows.append([name, old.get(name, "?"), e["distribution"], e["min"], e["max"],
                     e.get("mean", "mid")])
    return rows


def _old_spaces(doc: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(doc, list) or (isinstance(doc, Mapping) and isinstance(doc.get("parameters"), list)):
        for p in doc if isinstance(doc, list) else doc["parameters"]:
            sp = p.get("space")
            label = sp if isinstance(sp, str) else (
                next(iter(sp)) if isinstance(sp, Mapping) and len(sp) == 1 else
                (sp or {}).get("type", "?"))
            out[str(p.get("name")).replace("/", ".")] = str(label)
        return out
    for k, v in flatten(doc).items():
        if isinstance(v, str) and (m := SS.match(v.strip())):
            out[k] = "ss:" + m.group("args").split(",")[0].strip()
    for k, v in _explicit(doc, ""):
        out[k] = str(v)
    return out


def _explicit(node: Any, prefix: str):  # type: ignore[no-untyped-def]
    if isinstance(node, Mapping):
        if "space" in node and set(node) <= LEAF_KEYS:
            yield prefix.rstrip("."), node["space"]
            return
        for k, v in node.items():
            yield from _explicit(v, f"{prefix}{k}.")
