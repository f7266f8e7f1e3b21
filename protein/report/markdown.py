"""``protein report``: results.csv, topk.json, best_config.yaml, SUMMARY.md and plots."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from protein.errors import ProteinError
from protein.invocation import shell_line, trial_invocation
from protein.optimizer.importance import importance
from protein.output import fmt_value, iso_time, metric_headers
from protein.pareto import objective_front
from protein.report import plots as P
from protein.tree import flatten
from protein.trial import TrialState


def reproduce_command(study: Any, trial: Any, runs_dir: str | Path = "runs") -> str:
    """One line that reruns ``trial``'s config, with its seed, through the sweep's trainer or
    command, as ``protein run`` handed it over (``protein.invocation``)."""
    spec = run_spec(study.name, runs_dir)
    if spec.get("trainer"):  # a trainer module's script mode takes flags and --seed
        command, mode, key = f"python -m {spec['trainer']}", "flags", "seed"
    else:
        command = spec.get("command") or "python train.py"
        mode, key = spec.get("pass_mode", "flags"), study.config.seed_key
    params_file = Path(runs_dir) / study.name / f"trial_{trial.trial_id:04d}" / "params.json"
    argv, env = trial_invocation(command, mode, study.space.nest(trial.params),
                                 study.trial_seed(trial), key, params_file)
    return shell_line(argv, {} if spec.get("trainer") else env)  # a trainer reads --seed


def run_spec(study: str, runs_dir: str | Path = "runs") -> dict[str, Any]:
    """What ``protein run`` recorded of how it ran ``study`` (``runs/STUDY/run.json``); {}
    when there is no record, a one-line error when the record is damaged."""
    p = Path(runs_dir) / study / "run.json"
    if not p.exists():
        return {}
    try:
        spec = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProteinError(f"{p}: cannot read how the sweep was run ({e}); pass --trainer or "
                           "--command, or delete the file") from None
    if not isinstance(spec, dict):
        raise ProteinError(f"{p}: expected a JSON object; pass --trainer or --command, or "
                           "delete the file")
    return spec


def write_report(study: Any, out: Path, top_k: int = 5, runs_dir: str | Path = "runs",
                 plots: bool = True) -> list[Path]:
    """Write every report file into ``out``; returns their paths."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    cfg = study.config
    trials = study.trials()
    done = sorted(study.feasible(trials), key=lambda t: -cfg.sign * t.score)
    pset = (objective_front(cfg.objectives, cfg.constraints, trials)
            if len(cfg.objectives) > 1 else [])
    written: list[Path] = []

    # results.csv
    names = study.space.names
    extra = [m for m in cfg.metric_names if m != cfg.metric] if cfg.multi else []
    reported = list(dict.fromkeys(k for t in trials for k in t.metrics
                                  if k not in cfg.metric_names))
    path = out / "results.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        fixed = ["trial", "state", cfg.metric, *extra, "cost", *names, "reason", "failure",
                 "worker", "created_at", "finished_at", "seconds"]
        w.writerow([*fixed[:3 + len(extra)], *metric_headers(reported, fixed),
                    *fixed[3 + len(extra):]])
        for t in trials:
            secs = (t.finished_at - t.created_at) if t.finished_at and t.created_at else ""
            vals = t.reported
            w.writerow([t.trial_id, t.state.value, "" if t.score is None else t.score,
                        *[vals.get(m, "") for m in extra + reported],
                        "" if t.cost is None else t.cost,
                        *[t.params.get(n, "") for n in names], t.info.get("reason", ""),
                        t.info.get("failure", t.info.get("pruned", "")), t.worker or "",
                        iso_time(t.created_at) or "", iso_time(t.finished_at) or "", secs])
    written.append(path)

    # topk.json: complete trials best first, then pruned ones (at their last value, which
    # is not a score: a trial stopped early at a noisy step can look better than any finished)
    ranked = sorted(done + [t for t in trials if t.state is TrialState.PRUNED
                            and t.score is not None and math.isfinite(t.score)],
                    key=lambda t: (t.state is TrialState.PRUNED, -cfg.sign * t.score,
                                   t.trial_id))
    path = out / "topk.json"
    path.write_text(json.dumps([
        {"rank": i + 1, "trial": t.trial_id, "state": t.state.value, "score": t.score,
         "cost": t.cost,
         **({"values": t.values} if t.values else {}),
         **({"metrics": t.metrics} if t.metrics else {}),
         **({"pruned": t.info["pruned"]} if "pruned" in t.info else {}),
         "params": t.nested_params}
        for i, t in enumerate(ranked[:top_k])
    ], indent=2))
    written.append(path)

    best = done[0] if done else None
    if best is not None:
        path = out / "best_config.yaml"
        cmd = reproduce_command(study, best, runs_dir)
        head = (f"Best trial {best.trial_id} of study {study.name}: {cfg.metric} = "
                f"{best.score}\nReproduce: {cmd}")
        # every line a comment: a value with a newline (a prompt, a path) must not end it
        path.write_text("".join(f"# {line}\n" for line in head.splitlines())
                        + yaml.safe_dump(study.space.nest(best.params), sort_keys=False))
        written.append(path)

    imp = (importance(study.space, trials, cfg.sign) if importance_meaningful(study, done)
           else {})
    front = study.cost_front()
    images: list[Path] = []
    if plots and trials:
        images.append(P.history(study, trials, out / "history.png"))
        if done:
            images.append(P.cost_front(study, trials, front, out / "pareto.png"))
            if pset:
                images.append(P.objective_front(study, trials, pset,
                                                out / "pareto_set.png"))
            images.append(P.parameters(study, trials, imp, out / "parameters.png"))
            images.append(P.distribution(study, trials, out / "score_distribution.png"))
        c = P.curves(study, trials, out / "learning_curves.png")
        if c is not None:
            images.append(c)
        written += images

    path = out / "SUMMARY.md"
    path.write_text(summary_markdown(study, trials, done, front, imp, images, runs_dir, pset))
    written.append(path)
    return written


def importance_meaningful(study: Any, done: list) -> bool:
    """Importance needs more complete trials than parameters (and at least 5)."""
    return len(done) >= max(IMPORTANCE_MIN_TRIALS, len(study.space.names) + 1)


IMPORTANCE_MIN_TRIALS = 5


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt_value(c) for c in r) + " |" for r in rows]
    return lines


def summary_markdown(study: Any, trials: list, done: list, front: list, imp: dict,
                     images: list[Path], runs_dir: str | Path, pset: list | None = None) -> str:
    cfg = study.config
    L = [f"# Sweep report: {study.name}", ""]
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.value] = states.get(t.state.value, 0) + 1
    goal = (", ".join(f"{o.goal} `{o.name}`" for o in cfg.objectives) if len(cfg.objectives) > 1
            else f"{cfg.goal} `{cfg.metric}`")
    L += [f"- Goal: **{goal}**, method `{cfg.method}`, seed {study.seed}",
          f"- Trials: {len(trials)} (" + ", ".join(f"{v} {k}" for k, v in states.items()) + ")",
          f"- Total cost: {fmt_value(sum(t.cost or 0 for t in trials))}"]
    if cfg.max_trials:
        L.append(f"- Planned: {cfg.max_trials} trials ({cfg.rollout_count} rollouts x "
                 f"{cfg.num_samples} samples)" if cfg.rollout_count else f"- Planned: {cfg.max_trials} trials")
    if cfg.constraints:
        L.append("- Constraints: " + ", ".join(f"`{c}`" for c in cfg.constraints)
                 + f" ({len(done)} complete trials meet them)")
    L += ["", "## Search space", ""]
    rows = []
    for name, e in cfg.space.to_dict().items():
        rng = ("[" + ", ".join(map(str, e["choices"])) + "]" if e["distribution"] == "categorical"
               else f"[{fmt_value(e['min'])}, {fmt_value(e['max'])}]")
        rows.append([name, e["distribution"], rng, e.get("mean"), e.get("scale"),
                     imp.get(name, "")])
    L += _md_table(["parameter", "distribution", "range", "mean", "scale", "importance"], rows)
    if not imp:
        L += ["", f"Importance is not yet meaningful: {len(done)} complete trials for "
              f"{len(cfg.space.names)} parameters (it needs at least "
              f"{max(IMPORTANCE_MIN_TRIALS, len(cfg.space.names) + 1)})."]
    fixed = flatten(cfg.fixed)
    if fixed:
        L += ["", "Fixed overrides: " + ", ".join(f"`{k}={v}`" for k, v in fixed.items())]
    if pset:
        metrics = list(cfg.metric_names)
        L += ["", f"## Pareto set ({len(pset)} trials)", ""]
        L += _md_table(["trial", *metrics, "cost"],
                       [[t.trial_id, *[t.values[m] for m in metrics], t.cost]
                        for t in pset])
    L += ["", "## Best" + (f" `{cfg.metric}`" if pset else ""), ""]
    if done:
        b = done[0]
        L += [f"Trial **{b.trial_id}**: {cfg.metric} = **{fmt_value(b.score)}**, cost "
              f"{fmt_value(b.cost)}.", ""]
        L += _md_table(["parameter", "value"], [[k, v] for k, v in b.params.items()])
        L += ["", "Reproduce:", "", "```bash", reproduce_command(study, b, runs_dir), "```"]
        L += ["", "Top trials:", ""]
        L += _md_table(["rank", "trial", cfg.metric, "cost"],
                       [[i + 1, t.trial_id, t.score, t.cost] for i, t in enumerate(done[:5])])
    else:
        L.append("No complete trial yet.")
    per = max(1, cfg.num_samples)
    if cfg.rollout_count or per > 1:
        L += ["", "## Best per rollout", ""]
        rows = []
        for r in range((len(trials) + per - 1) // per):
            group = [t for t in trials[r * per:(r + 1) * per] if t.is_complete]
            if group:
                b = max(group, key=lambda t: cfg.sign * t.score)
                rows.append([r, b.trial_id, b.score])
            else:
                rows.append([r, "-", "-"])
        L += _md_table(["rollout", "best trial", cfg.metric], rows)
    L += ["", "## Cost-score Pareto front", ""]
    L += _md_table(["trial", "cost", cfg.metric], [[t.trial_id, t.cost, t.score] for t in front])
    L += ["", "## How trials were chosen", ""]
    reasons: dict[str, list[int]] = {}
    for t in trials:
        reasons.setdefault(str(t.info.get("reason", "?")), []).append(t.trial_id)
    L += _md_table(["reason", "trials", "ids"],
                   [[k, len(v), ", ".join(map(str, v[:20])) + (" ..." if len(v) > 20 else "")]
                    for k, v in reasons.items()])
    bad = [t for t in trials if t.state in (TrialState.FAILED, TrialState.PRUNED)]
    if bad:
        L += ["", "## Failed and pruned trials", ""]
        L += _md_table(["trial", "state", "reason"],
                       [[t.trial_id, t.state.value,
                         str(t.info.get("failure", t.info.get("pruned", ""))).replace("|", "/")]
                        for t in bad])
    if images:
        L += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in images]
    return "\n".join(L) + "\n"
