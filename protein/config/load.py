"""Sweep configs: one validated object from any of the formats people write.

Formats (``load_config`` tells them apart):

* **sweep YAML** (Metta style): ``rollout_count``, ``num_samples`` and a ``sweep:``
  section with ``parameters`` (dotted keys or a nested tree), ``metric``, ``goal``,
  ``method``, ``settings`` and fixed overrides under any other key (``sweep.trainer``);
* **Protein-Hydra YAML / plain dict**: the ``sweep`` section itself at the root, with
  optimizer settings under ``settings`` or ``protein``;
* **PufferLib INI**: ``[sweep]`` with method/metric/goal/settings and one section per
  parameter (``[sweep.train.learning_rate]``); the other sections are fixed values;
* **hyperparameter YAML** (seed 000 style): ``hyperparameters`` with ``type: choice |
  loguniform | uniform | int``, ``search: {method, n_trials, optimization_metric, goal}``.

Every error names the file (and line, when known), the key path and the fix.
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distributions import DistributionError, from_config
from protein.config.objectives import GOALS, Objective, infer_goal, parse_constraint, parse_metrics
from protein.config.settings import FIELDS as SETTING_FIELDS
from protein.config.settings import IGNORED as IGNORED_SETTINGS
from protein.config.settings import RENAMED as RENAMED_SETTINGS
from protein.config.settings import ProteinWarning, Settings, settings_from
from protein.config.sweep import STUDY_NAME, STUDY_NAME_RULE, SweepConfig
from protein.config.wandb import is_wandb, section_from_wandb
from protein.errors import ConfigError, SpaceError
from protein.space import Space, conditions_from
from protein.tree import has_path
from protein.config.ini import parse_ini

METHODS = {
    "protein": "protein", "bayes": "protein", "bayesian": "protein",
    "random": "random", "grid": "grid", "sobol": "sobol",
}
RUN_KEYS = ("rollout_count", "num_samples", "max_trials")
SWEEP_KEYS = {"method", "metric", "goal", "metrics", "constraints", "parameters", "settings",
              "protein", "study", "seed_key", "slurm", *RUN_KEYS}
# the config's ``slurm:`` key: each Slurm worker's resources (``protein.runner.slurm``)
SLURM_KEYS = ("partition", "time", "gpus_per_worker", "cpus_per_worker", "mem", "account",
              "qos", "args")
LEAF_KEYS = {"distribution", "values", "choices", "min", "max"}
# Setting names a training config may well use too: at the sweep level they are fixed
# overrides; every other optimizer-setting name there is ambiguous and an error.
SHARED_NAMES = {"device", "gpus", "use_gpu", "downsample", "threads"}


# --------------------------------------------------------------------------- entry
def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> SweepConfig:
    """Load and validate a sweep config from a path (YAML, JSON or INI) or a dict."""
    if isinstance(source, SweepConfig):
        return source
    if isinstance(source, Mapping):
        return _from_document(dict(source), _Where("<dict>", {}))
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"{path}: no such file; give the path of a sweep config")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory; give the path of a sweep config file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not a text file (byte {e.start} is not UTF-8); give a "
                          "sweep config in YAML, JSON or INI") from None
    if path.suffix.lower() in (".ini", ".cfg"):
        doc, lines = parse_ini(text, str(path))
        return _from_ini_document(doc, _Where(str(path), lines))
    doc, lines = _parse_yaml(text, str(path))
    return _from_document(doc, _Where(str(path), lines))


class _Where:
    """Formats ``file:line: key.path: message`` for errors."""

    def __init__(self, source: str, lines: Mapping[tuple[str, ...], int]) -> None:
        self.source, self.lines = source, lines

    def error(self, path: tuple[str, ...] | str, message: str) -> ConfigError:
        keys = tuple(path.split(".")) if isinstance(path, str) else path
        # a dotted parameter name is one key in YAML ("trainer.lr") but nested sections in
        # INI ([sweep.trainer.lr]): look the line up both ways, the longest match first
        split = tuple(part for k in keys for part in str(k).split("."))
        line = None
        for path_ in (keys, split):
            for n in range(len(path_), 0, -1):
                found = self.lines.get(path_[:n])
                if found is not None and (line is None or n > line[0]):
                    line = (n, found)
                    break
        line = None if line is None else line[1]
        loc = self.source if line is None else f"{self.source}:{line}"
        dotted = ".".join(keys)
        return ConfigError(f"{loc}: {dotted}: {message}" if dotted else f"{loc}: {message}")


def yaml_loader() -> type:
    """SafeLoader that also reads ``1e-5`` and ``10e12`` as floats (YAML 1.2 style); on
    LibYAML's C parser where PyYAML has it (the same safe constructor, many times faster)."""
    import re

    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""", re.X),
        list("-+0123456789."),
    )
    return Loader


MAX_YAML_NODES = 100_000  # values a document may expand to through its aliases (&a / *a);
# a sweep config has hundreds, and an alias bomb of 500 bytes billions


def _expanded_size(node: Any) -> int:
    """How many nodes ``node`` stands for once every alias is expanded, counted once per
    distinct node (so in time linear in the document), stopping at ``MAX_YAML_NODES``."""
    import yaml

    sizes: dict[int, int] = {}
    order, stack = [], [node]
    while stack:  # children before parents, each node once
        n = stack.pop()
        if id(n) in sizes:
            continue
        sizes[id(n)] = -1
        order.append(n)
        if isinstance(n, yaml.MappingNode):
            stack.extend(x for kv in n.value for x in kv)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    for n in reversed(order):
        kids = ([x for kv in n.value for x in kv] if isinstance(n, yaml.MappingNode) else
                n.value if isinstance(n, yaml.SequenceNode) else [])
        sizes[id(n)] = min(MAX_YAML_NODES + 1, 1 + sum(max(sizes[id(k)], 1) for k in kids))
    return sizes[id(node)]


def parse_yaml(text: str, name: str, *, mapping: bool = True
               ) -> tuple[Any, dict[tuple[str, ...], int]]:
    """A YAML (or JSON) document and the line of each key path, read safely: one-line
    errors with ``name:line`` for invalid YAML, duplicate keys and aliases that expand past
    ``MAX_YAML_NODES``; ``mapping``: the document must be a mapping."""
    import yaml

    try:
        loader = yaml_loader()(text)  # a safe loader: no arbitrary objects
        try:
            node = loader.get_single_node()  # parsed once: lines from the nodes, values built
            if node is not None and _expanded_size(node) > MAX_YAML_NODES:
                raise ConfigError(
                    f"{name}: its aliases (&name / *name) expand to more than "
                    f"{MAX_YAML_NODES:,} values; a sweep config needs far fewer, so write "
                    "the repeated parts out or use fewer nested aliases")
            doc = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f"{name}:{mark.line + 1}" if mark is not None else name
        raise ConfigError(f"{loc}: not valid YAML: {getattr(e, 'problem', e)}") from None
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to be a sweep config") from None
    if doc is None:
        raise ConfigError(f"{name}: the file is empty; see examples/ for sweep configs")
    if mapping and not isinstance(doc, dict):
        raise ConfigError(f"{name}: expected a mapping at the top, got {type(doc).__name__}")
    lines: dict[tuple[str, ...], int] = {}

    def walk(n: Any, path: tuple[str, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for k, v in n.value:
                key = path + (str(k.value),)
                line = k.start_mark.line + 1
                if isinstance(k, yaml.ScalarNode) and k.value != "<<":
                    if str(k.value) in seen:
                        raise ConfigError(
                            f"{name}:{line}: {'.'.join(key)}: duplicate key (first at line "
                            f"{seen[str(k.value)]}); YAML would keep only the last one, so "
                            "remove or rename one of them")
                    seen[str(k.value)] = line
                lines[key] = line
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines[path + (str(i),)] = v.start_mark.line + 1
                walk(v, path + (str(i),))

    try:
        walk(node, ())
    except RecursionError:
        raise ConfigError(f"{name}: nested too deeply to be a sweep config") from None
    return doc, lines


def _parse_yaml(text: str, name: str) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    return parse_yaml(text, name)


# ------------------------------------------------------------------ YAML / dict
def _from_document(doc: dict[str, Any], where: _Where) -> SweepConfig:
    if "hyperparameters" in doc:
        return _from_hyperparameter_yaml(doc, where)
    if "sweep" in doc:
        return _from_sweep_yaml(doc, where)

    if is_wandb(doc):
        sec, extras = section_from_wandb(doc, where.error)
        return _from_section(sec, (), where, run=sec, extras=extras)
    return _from_section(doc, (), where, run=doc)


def _from_sweep_yaml(doc: dict[str, Any], where: _Where) -> SweepConfig:
    sweep = doc["sweep"]
    if not isinstance(sweep, Mapping):
        raise where.error("sweep", f"expected a mapping, got {sweep!r}")
    stray = [k for k in doc if k not in ("sweep", *RUN_KEYS, "study", "defaults", "slurm")]
    if stray:
        k = stray[0]
        raise where.error(
            (k,),
            f"top-level overrides are not applied; move '{k}:' under 'sweep:' "
            f"(as sweep.{k}) so every trial gets it",
        )
    for k in (*RUN_KEYS, "study", "slurm"):
        if k in sweep and k in doc:
            raise where.error(("sweep", k), "given both at the top and under sweep; keep one")
    run = {**{k: doc[k] for k in (*RUN_KEYS, "study", "slurm") if k in doc}}
    return _from_section(dict(sweep), ("sweep",), where, run={**run, **sweep})


def _from_section(
    sec: dict[str, Any], at: tuple[str, ...], where: _Where, run: Mapping[str, Any],
    extras: dict[str, Any] | None = None,
) -> SweepConfig:
    if "parameters" not in sec:
        raise where.error(
            at + ("parameters",),
            "missing; add the searched parameters, e.g. parameters: {lr: {distribution: "
            "log_normal, min: 1e-5, max: 1e-1}}",
        )
    if "settings" in sec and "protein" in sec:
        raise where.error(at + ("protein",), "give optimizer settings under one of settings/protein")
    settings_key = "settings" if "settings" in sec else "protein"
    if not isinstance(sec.get(settings_key, {}) or {}, Mapping):
        raise where.error(at + (settings_key,), "expected a mapping of setting: value, got "
                                                f"{str(sec[settings_key])[:40]!r}")
    raw_settings = dict(sec.get(settings_key) or {})
    fixed = _fixed_overrides(sec, at, where)
    settings = _settings(raw_settings, at + (settings_key,), where)
    space = _space(sec["parameters"], at + ("parameters",), where, fixed)
    return _finish(sec, at, where, space, settings, run, extras=dict(extras or {}))


def _fixed_overrides(sec: Mapping[str, Any], at: tuple[str, ...],
                     where: _Where) -> dict[str, Any]:
    """Every key of a sweep section that is not Protein's own: the user's training keys.

    They are never taken as optimizer settings (those live under ``settings:``). A name that
    is an optimizer setting and unlikely to be a training key is ambiguous, so an error.
    """
    fixed: dict[str, Any] = {}
    for key, value in sec.items():
        if key in SWEEP_KEYS:
            continue
        optimizer_name = key in SETTING_FIELDS or key in IGNORED_SETTINGS or key in RENAMED_SETTINGS
        if optimizer_name and key not in SHARED_NAMES:
            raise where.error(
                at + (key,),
                f"ambiguous: '{key}' is an optimizer setting, but here it would be a fixed "
                f"override passed to every trial; to set Protein's setting move it under "
                f"settings: ({'.'.join(at + ('settings', key))}), to pass it to your trainer "
                f"put it in a group (e.g. {'.'.join(at + ('trainer', key))})",
            )
        if not isinstance(value, Mapping):
            close = difflib.get_close_matches(key, sorted(SWEEP_KEYS), n=1, cutoff=0.8)
            if close and close[0] not in sec:
                raise where.error(
                    at + (key,),
                    f"unknown key; did you mean {close[0]!r}? (if '{key}' is a key of your "
                    f"trainer, put it in a group, e.g. {'.'.join(at + ('trainer', key))})")
            if close:
                warnings.warn(
                    f"{'.'.join(at + (key,))}: passed to every trial as a fixed override "
                    f"({key}={value!r}); did you mean Protein's '{close[0]}'?",
                    ProteinWarning, stacklevel=4)
        fixed[key] = value
    return fixed


def _finish(
    sec: Mapping[str, Any],
    at: tuple[str, ...],
    where: _Where,
    space: Space,
    settings: Settings,
    run: Mapping[str, Any],
    extras: dict[str, Any],
    keys: Mapping[str, str] | None = None,
) -> SweepConfig:
    keys = keys or {"goal": "goal", "metric": "metric", "method": "method"}
    objectives: tuple[Objective, ...] = ()
    if sec.get("metrics") is not None:
        for k in ("metric", "goal"):
            if k in sec:
                raise where.error(at + (k,), "give either metric/goal or metrics, not both; "
                                  "with several metrics the first one is the primary")
        try:
            objectives = parse_metrics(sec["metrics"])
        except ValueError as e:
            raise where.error(at + ("metrics",), str(e)) from None
        goal, metric = objectives[0].goal, objectives[0].name
    else:
        goal = sec.get("goal")
        metric = sec.get("metric", "score")
        if not isinstance(metric, str) or not metric:
            raise where.error(at + (keys["metric"],), f"expected the metric's name, got {metric!r}")
        if "metric" not in sec and where.source != "<dict>":
            warnings.warn(f"{where.source}: {'.'.join(at + (keys['metric'],))} not given; trials "
                          "report 'score' (set it to the name your trainer reports, e.g. "
                          "metric: val_loss)", ProteinWarning, stacklevel=4)
        if goal is None and sec.get("metric") is not None:
            goal = infer_goal(metric)
            if goal is None:
                raise where.error(at + (keys["goal"],),
                                  f"missing, and the metric's name {metric!r} does not say its "
                                  "direction; set it to maximize or minimize")
            warnings.warn(f"{where.source}: {'.'.join(at + (keys['goal'],))} not given; "
                          f"{goal} {metric!r} (inferred from the metric's name; set "
                          f"{keys['goal']}: {goal} to make it explicit)", ProteinWarning,
                          stacklevel=4)
        if goal is None:
            raise where.error(at + (keys["goal"],), "missing; set it to maximize or minimize")
        if goal not in GOALS:
            raise where.error(at + (keys["goal"],), f"expected maximize or minimize, got {goal!r}")
        objectives = (Objective(metric, goal),)
    raw_c = sec.get("constraints") or []
    if isinstance(raw_c, str):
        raw_c = [raw_c]
    if not isinstance(raw_c, list):
        raise where.error(at + ("constraints",),
                          f"expected a list like ['memory_gb <= 40'], got {raw_c!r}")
    constraints = []
    for i, text in enumerate(raw_c):
        try:
            constraints.append(parse_constraint(text))
        except ValueError as e:
            raise where.error(at + ("constraints", str(i)), str(e)) from None
    method_raw = sec.get("method", "protein")
    method = METHODS.get(str(method_raw).lower())
    if method is None:
        raise where.error(
            at + (keys["method"],),
            f"unknown method {method_raw!r}; expected one of: {', '.join(METHODS)}",
        )
    counts: dict[str, int | None] = {}
    for k in RUN_KEYS:
        v = run.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise where.error((k,), f"expected an integer >= 1, got {v!r}")
        counts[k] = v
    if counts["max_trials"] is not None:
        extras["max_trials"] = counts["max_trials"]
    if method == "grid" and space.grid_size is None:
        extras.setdefault("grid_points", settings.grid_points)
    if run.get("slurm") is not None:
        extras["slurm"] = _slurm(run["slurm"], ("slurm",) if "slurm" not in sec else at + ("slurm",),
                                 where)
    study = run.get("study")
    if study is not None and (not isinstance(study, str) or not STUDY_NAME.match(study)):
        raise where.error(at + ("study",), f"expected a name of {STUDY_NAME_RULE}, got {study!r}")
    seed_key = sec.get("seed_key", "seed")
    if seed_key is not None:
        if not isinstance(seed_key, str) or not seed_key.strip("."):
            raise where.error(at + ("seed_key",), f"expected a dotted key such as train.seed, "
                              f"or null to pass the seed only as $PROTEIN_SEED; got {seed_key!r}")
        if seed_key in space.dists:
            raise where.error(at + ("seed_key",), f"{seed_key!r} is a searched parameter; the "
                              "trial seed needs a key of its own (or seed_key: null)")
        if has_path(space.fixed, seed_key):
            raise where.error(at + ("seed_key",), f"{seed_key!r} is also a fixed override: "
                              "either every trial gets that fixed value or its own seed; "
                              "remove the fixed value, or set seed_key to another key or null")
    return SweepConfig(
        space=space,
        objectives=objectives,
        method=method,
        settings=settings,
        rollout_count=counts["rollout_count"],
        num_samples=counts["num_samples"] or 1,
        source=where.source,
        extras=extras,
        constraints=tuple(constraints),
        study=study,
        seed_key=seed_key,
    )


def _settings(raw: Mapping[str, Any], at: tuple[str, ...], where: _Where) -> Settings:
    if not isinstance(raw, Mapping):
        raise where.error(at, f"expected a mapping of settings (e.g. num_random_samples: 5), "
                              f"got {type(raw).__name__} {str(raw)[:40]!r}")
    try:
        return settings_from(raw, ".".join(at))
    except ConfigError as e:
        msg = str(e)
        key = msg.split(":", 1)[0].split(".")
        raise where.error(tuple(key), msg.split(": ", 1)[1]) from None


def _space(
    params: Any, at: tuple[str, ...], where: _Where, fixed: Mapping[str, Any]
) -> Space:
    if not isinstance(params, Mapping) or not params:
        raise where.error(at, f"expected a non-empty mapping of parameters, got {params!r}")
    leaves: dict[str, tuple[tuple[str, ...], Mapping[str, Any]]] = {}

    def walk(node: Mapping[str, Any], prefix: str, path: tuple[str, ...]) -> None:
        for key, spec in node.items():
            name = f"{prefix}{key}"
            p = path + (str(key),)
            if isinstance(spec, Mapping) and (set(spec) & LEAF_KEYS):
                if name in leaves:
                    raise where.error(p, f"parameter {name} is defined twice")
                leaves[name] = (p, spec)
            elif isinstance(spec, Mapping) and spec:
                walk(spec, name + ".", p)
            else:
                raise where.error(
                    p,
                    f"expected a parameter (distribution, min, max, ...) or a group of them, "
                    f"got {spec!r}; for a fixed value, move it out of parameters into the "
                    "fixed overrides",
                )

    walk(params, "", at)
    dists = {}
    when: dict[str, Mapping[str, Any]] = {}
    for name, (p, spec) in leaves.items():
        try:
            dists[name] = from_config(name, spec)
        except DistributionError as e:
            raise where.error(p, e.bare) from None
        if "when" in spec:
            w = spec["when"]
            if not isinstance(w, Mapping) or not w:
                raise where.error(
                    p + ("when",), f"expected {{parent.name: value}}, got {w!r}"
                )
            when[name] = w
    try:
        return Space(dists, conditions_from(when), fixed=fixed)
    except SpaceError as e:
        name = str(e).split(":", 1)[0].removesuffix(".when")
        p = leaves[name][0] + ("when",) if name in leaves else at
        raise where.error(p, str(e).split(": ", 1)[-1]) from None


def _slurm(raw: Any, at: tuple[str, ...], where: _Where) -> dict[str, Any]:
    """``slurm: {partition: gpu, time: "48:00:00", gpus_per_worker: 1, args: {...}}``."""
    if not isinstance(raw, Mapping):
        raise where.error(at, f"expected a mapping such as {{partition: gpu, time: '48:00:00'}}, "
                              f"got {raw!r}")
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in SLURM_KEYS:
            close = difflib.get_close_matches(str(k), SLURM_KEYS, n=1)
            raise where.error(at + (str(k),), "unknown key" + (f"; did you mean {close[0]!r}?"
                              if close else "") + f" (allowed: {', '.join(SLURM_KEYS)})")
        if k == "args":
            if not isinstance(v, Mapping):
                raise where.error(at + (k,), "expected a mapping of sbatch option: value, e.g. "
                                             f"{{constraint: a100}}, got {v!r}")
            out[k] = {str(a): str(b) for a, b in v.items()}
        elif k in ("gpus_per_worker", "cpus_per_worker"):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise where.error(at + (k,), f"expected a whole number >= 0, got {v!r}")
            out[k] = v
        else:
            if isinstance(v, (bool, Mapping, list)) or v is None:
                raise where.error(at + (k,), f"expected a value such as "
                                             f"{'48:00:00' if k == 'time' else 'gpu'}, got {v!r}")
            out[k] = str(v)
    return out


# ---------------------------------------------------------- hyperparameter YAML
_TYPE_MAP = {
    "choice": "categorical", "categorical": "categorical",
    "loguniform": "log_normal", "log_uniform": "log_normal", "log": "log_normal",
    "uniform": "uniform", "float": "uniform",
    "int": "int_uniform", "randint": "int_uniform", "int_uniform": "int_uniform",
    "pow2": "uniform_pow2", "logit": "logit_normal",
}


def _from_hyperparameter_yaml(doc: dict[str, Any], where: _Where) -> SweepConfig:
    allowed = {"hyperparameters", "search", "training", "environments", "logging", "settings"}
    for k in doc:
        if k not in allowed:
            raise where.error((k,), f"unknown top-level key; expected one of {sorted(allowed)}")
    hp = doc["hyperparameters"]
    if not isinstance(hp, Mapping) or not hp:
        raise where.error(("hyperparameters",), "expected a non-empty mapping")
    params: dict[str, Any] = {}
    for name, spec in hp.items():
        p = ("hyperparameters", str(name))
        if not isinstance(spec, Mapping):
            raise where.error(p, f"expected a mapping with type and min/max or values, got {spec!r}")
        spec = dict(spec)
        t = spec.pop("type", None)
        if "distribution" not in spec:
            if t is None:
                raise where.error(p, f"missing 'type'; expected one of {sorted(_TYPE_MAP)}")
            kind = _TYPE_MAP.get(str(t).lower())
            if kind is None:
                raise where.error(p + ("type",), f"unknown type {t!r}; expected one of {sorted(_TYPE_MAP)}")
            spec["distribution"] = kind
        if "low" in spec:
            spec["min"] = spec.pop("low")
        if "high" in spec:
            spec["max"] = spec.pop("high")
        params[str(name)] = spec
    search = doc.get("search") or {}
    if not isinstance(search, Mapping):
        raise where.error(("search",), f"expected a mapping, got {search!r}")
    known = {"method", "n_trials", "optimization_metric", "metric", "goal", "direction", "study"}
    for k in search:
        if k not in known:
            raise where.error(("search", k), f"unknown key; expected one of {sorted(known)}")
    sec = {
        "goal": search.get("goal", search.get("direction")),
        "metric": search.get("optimization_metric", search.get("metric", "score")),
        "method": search.get("method", "protein"),
    }
    goal_key = "direction" if "direction" in search else "goal"  # goal: as the README
    fixed = {"training": doc["training"]} if "training" in doc else {}
    settings = _settings(doc.get("settings") or {}, ("settings",), where)
    space = _space(params, ("hyperparameters",), where, fixed)
    extras: dict[str, Any] = {}
    if "environments" in doc:
        envs = doc["environments"]
        if not isinstance(envs, list) or not envs:
            raise where.error(("environments",), f"expected a list of names, got {envs!r}")
        extras["over"] = {"environment": list(envs)}
    if "logging" in doc:
        extras.update(_logging(doc["logging"], where))
    run = {"max_trials": search.get("n_trials"), "study": search.get("study")}
    return _finish(sec, ("search",), where, space, settings, run, extras,
                   keys={"goal": goal_key, "metric": "optimization_metric", "method": "method"})


def _logging(raw: Any, where: _Where) -> dict[str, Any]:
    """``logging: {wandb_project, wandb_entity}``: the W&B integration's defaults."""
    if not isinstance(raw, Mapping):
        raise where.error(("logging",), f"expected a mapping such as {{wandb_project: NAME}}, "
                          f"got {raw!r}")
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if k in ("wandb_project", "wandb_entity"):
            if v is not None:
                out[k] = str(v)
        else:
            warnings.warn(f"{where.source}: logging.{k}: not used by Protein (it reads "
                          "wandb_project and wandb_entity)", ProteinWarning, stacklevel=4)
    return out


# ------------------------------------------------------------------------ INI
def _from_ini_document(doc: dict[str, Any], where: _Where) -> SweepConfig:
    sweep = doc.get("sweep")
    if not isinstance(sweep, dict):
        raise where.error(("sweep",), "missing [sweep] section; add [sweep] with method, metric, goal")
    params: dict[str, Any] = {}
    sec: dict[str, Any] = {}
    raw_settings: dict[str, Any] = {}
    run: dict[str, Any] = {}

    def collect(node: Mapping[str, Any], prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict) and set(v) & LEAF_KEYS:
                params[prefix + k] = v
            elif isinstance(v, dict):
                collect(v, prefix + k + ".")
            elif prefix:
                raise where.error(("sweep",) + tuple((prefix + k).split(".")),
                                  f"expected a parameter section, got a value {v!r}")
            elif k in ("method", "metric", "goal"):
                sec[k] = v
            elif k == "max_runs":
                run["max_trials"] = v
            elif k in RUN_KEYS:
                run[k] = v
            elif k in SETTING_FIELDS or k in IGNORED_SETTINGS or k in RENAMED_SETTINGS:
                raw_settings[k] = v
            else:
                allowed = sorted({"method", "metric", "goal", "max_runs", *RUN_KEYS, *SETTING_FIELDS})
                close = difflib.get_close_matches(k, allowed, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise where.error(("sweep", k), f"unknown key; {hint}allowed: {', '.join(allowed)}")

    collect(sweep, "")
    fixed = {k: v for k, v in doc.items() if k != "sweep"}
    for path, spec in list(params.items()):  # a searched key's INI value is its default
        keys = path.split(".")
        chain = [fixed]
        for k in keys[:-1]:
            nxt = chain[-1].get(k) if isinstance(chain[-1], dict) else None
            chain.append(nxt)
        if not (isinstance(chain[-1], dict) and keys[-1] in chain[-1]):
            continue
        default = chain[-1].pop(keys[-1])
        whole = isinstance(default, int) and not isinstance(default, bool)
        if whole and spec.get("distribution") in ("uniform", "log_normal") \
                and "integer" not in spec:
            params[path] = {**spec, "integer": True}  # 10_000_000 stays an integer
        for parent, k in zip(reversed(chain[:-1]), reversed(keys[:-1])):
            if parent.get(k) == {}:
                del parent[k]  # a section left empty is no override
    settings = _settings(raw_settings, ("sweep",), where)
    space = _space(params, ("sweep",), where, fixed)
    return _finish(sec, ("sweep",), where, space, settings, run, extras={})
