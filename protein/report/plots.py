"""Report plots (matplotlib, PNG). Every plot labels its axes, uses log axes for log-scaled
parameters and cost, and marks failed trials."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from protein.config.objectives import feasible
from protein.errors import require
from protein.trial import Trial, TrialState

FAIL_STYLE = {"marker": "x", "color": "tab:red", "s": 30, "label": "failed", "zorder": 3}
NOISE_RATIO = 1.5  # costs closer than this are one budget measured with noise
PRUNED_STYLE = {"marker": "v", "color": "tab:orange", "s": 18, "label": "pruned", "zorder": 2}


def _plt():  # type: ignore[no-untyped-def]
    mpl = require("matplotlib", "report", "protein report's plots")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _log_like(dist: Any) -> bool:
    return dist.kind in ("log_normal", "uniform_pow2")


def history(study: Any, trials: list, path: Path) -> Path:
    """Score and best-so-far against trial number and against cumulative cost. Failed trials
    sit in a band of their own below the scores (red x); best-so-far counts only feasible
    complete trials."""
    plt = _plt()
    cfg = study.config
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ids = np.array([t.trial_id for t in trials])
    cost = np.array([t.cost or 0.0 for t in trials])
    cum = np.cumsum(cost)
    ok = np.array([t.is_complete for t in trials])
    feasible = {t.trial_id for t in study.feasible(trials)}
    scores = np.array([t.score if t.is_complete else np.nan for t in trials], dtype=float)
    best = np.full(len(trials), np.nan)
    run = None
    for i, (t, s) in enumerate(zip(trials, scores)):
        if t.trial_id in feasible and (run is None or cfg.sign * s > cfg.sign * run):
            run = s
        best[i] = np.nan if run is None else run
    lo, hi = (np.nanmin(scores), np.nanmax(scores)) if ok.any() else (0.0, 1.0)
    band = lo - 0.12 * ((hi - lo) or 1.0)  # the failed trials' band, apart from real scores
    failed = np.array([t.state is TrialState.FAILED for t in trials])
    pruned = np.array([t.state is TrialState.PRUNED and t.score is not None for t in trials])
    for ax, x, label in ((axes[0], ids, "trial"), (axes[1], cum, "cumulative cost")):
        ax.scatter(x[ok], scores[ok], s=16, alpha=0.7, label=cfg.metric)
        ax.step(x, best, where="post", color="black", lw=1.5,
                label=f"best so far ({cfg.goal}" + (", feasible only)" if cfg.constraints else ")"))
        if failed.any():
            ax.axhspan(band - 0.04 * ((hi - lo) or 1.0), band + 0.04 * ((hi - lo) or 1.0),
                       color="tab:red", alpha=0.08)
            ax.scatter(x[failed], np.full(failed.sum(), band), **FAIL_STYLE)
        if pruned.any():
            ax.scatter(x[pruned], [t.score for t in trials if t.state is TrialState.PRUNED
                                   and t.score is not None], **PRUNED_STYLE)
        ax.set_xlabel(label)
        ax.set_ylabel(cfg.metric)
        ax.grid(alpha=0.3)
    if cum.max() > 0 and cum[cum > 0].min() * 100 < cum.max():
        axes[1].set_xscale("log")
    axes[0].legend(loc="best", fontsize=8)
    axes[0].set_title("optimisation history" + (" (failed: red band)" if failed.any() else ""))
    axes[1].set_title("against compute spent")
    return _save(fig, path)


def cost_front(study: Any, trials: list, front: list, path: Path) -> Path:
    """Every complete trial in the cost-score plane, the front highlighted."""
    plt = _plt()
    cfg = study.config
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    done = [t for t in trials if t.is_complete]
    ax.scatter([t.cost for t in done], [t.score for t in done], s=16, alpha=0.5, label="trials")
    costs = [t.cost for t in done if t.cost]
    if costs and max(costs) < NOISE_RATIO * min(costs):
        ax.text(0.5, 0.95, f"costs differ by less than {NOISE_RATIO}x (noise): no cost-score "
                "front", transform=ax.transAxes, ha="center", va="top", fontsize=9)
        ax.set_xlabel("cost")
        ax.set_ylabel(f"{cfg.metric} ({cfg.goal})")
        ax.set_title("cost against score")
        ax.grid(alpha=0.3)
        return _save(fig, path)
    fc = [t.cost for t in front]
    fs = [t.score for t in front]
    ax.step(fc, fs, where="post", color="black", lw=1.2)
    ax.scatter(fc, fs, s=40, facecolors="none", edgecolors="black", label="Pareto front")
    for t in front:
        ax.annotate(str(t.trial_id), (t.cost, t.score), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    costs = [t.cost for t in done if t.cost]
    if costs and min(costs) > 0 and max(costs) / min(costs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("cost")
    ax.set_ylabel(f"{cfg.metric} ({cfg.goal})")
    ax.set_title("cost-score Pareto front")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def objective_front(study: Any, trials: list, front: list, path: Path) -> Path:
    """The first two objectives of every complete trial, infeasible ones crossed out, the
    Pareto set of the feasible ones joined by a step line."""
    plt = _plt()
    cfg = study.config
    a, b = cfg.objectives[0], cfg.objectives[1]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    done = [t for t in trials if t.is_complete and t.values]
    ok = [t for t in done if feasible(cfg.constraints, t.values)]
    bad = [t for t in done if t not in ok]
    ax.scatter([t.values[a.name] for t in ok], [t.values[b.name] for t in ok],
               s=16, alpha=0.5, label="feasible trials")
    if bad:
        ax.scatter([t.values[a.name] for t in bad],
                   [t.values[b.name] for t in bad], s=16, marker="x", color="tab:red",
                   alpha=0.6, label="violate " + ", ".join(map(str, cfg.constraints)))
    pts = sorted((t.values[a.name], t.values[b.name], t.trial_id) for t in front)
    if pts:
        ax.step([p[0] for p in pts], [p[1] for p in pts],
                where="post" if (a.sign > 0) == (b.sign > 0) else "pre", color="black", lw=1.2)
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=40, facecolors="none",
                   edgecolors="black", label="Pareto set")
        for x, y, tid in pts:
            ax.annotate(str(tid), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for axis, name, scale in (("x", a.name, ax.set_xscale), ("y", b.name, ax.set_yscale)):
        v = np.array([t.values[name] for t in done], dtype=float)
        if len(v) and (v > 0).all() and v.max() > 100 * v.min():
            scale("log")  # one far point would squash the rest
    ax.set_xlabel(f"{a.name} ({a.goal})")
    ax.set_ylabel(f"{b.name} ({b.goal})")
    ax.set_title("Pareto set" + (f" (first two of {len(cfg.objectives)} objectives)"
                                 if len(cfg.objectives) > 2 else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def parameters(study: Any, trials: list, imp: Mapping[str, float], path: Path) -> Path:
    """One panel per parameter: value against score, importance in the title."""
    plt = _plt()
    cfg = study.config
    names = study.space.names
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    done = [t for t in trials if t.is_complete]
    failed = [t for t in trials if t.state is TrialState.FAILED]
    lo = min((t.score for t in done), default=0.0)
    for ax, name in zip(axes.flat, names):
        dist = study.space.dists[name]
        pts = [(t.params[name], t.score) for t in done if name in t.params]
        fails = [t.params[name] for t in failed if name in t.params]
        if dist.is_categorical:
            labels = [str(c) for c in dist.choices]
            pos = {str(c): i for i, c in enumerate(dist.choices)}
            ax.scatter([pos[str(v)] for v, _ in pts], [s for _, s in pts], s=16, alpha=0.7)
            if fails:
                ax.scatter([pos[str(v)] for v in fails], [lo] * len(fails), **FAIL_STYLE)
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=30, fontsize=8)
        else:
            ax.scatter([v for v, _ in pts], [s for _, s in pts], s=16, alpha=0.7)
            if fails:
                ax.scatter(fails, [lo] * len(fails), **FAIL_STYLE)
            if _log_like(dist):
                ax.set_xscale("log", base=2 if dist.kind == "uniform_pow2" else 10)
            elif dist.kind == "int_uniform":
                from matplotlib.ticker import MaxNLocator

                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        share = imp.get(name)
        ax.set_title(f"{name}" + (f"  (importance {share:.2f})" if share is not None
                                  else "  (importance: too few trials yet)"), fontsize=9)
        ax.set_xlabel(name.rsplit(".", 1)[-1])
        ax.set_ylabel(cfg.metric)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    return _save(fig, path)


def distribution(study: Any, trials: list, path: Path) -> Path:
    plt = _plt()
    cfg = study.config
    fig, ax = plt.subplots(figsize=(6, 3.8))
    scores = [t.score for t in trials if t.is_complete]
    ax.hist(scores, bins=min(30, max(5, len(scores) // 2)), color="tab:blue", alpha=0.8)
    n_fail = sum(t.state is TrialState.FAILED for t in trials)
    ax.set_xlabel(cfg.metric)
    ax.set_ylabel("trials")
    ax.set_title(f"score distribution ({len(scores)} complete, {n_fail} failed)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def curves(study: Any, trials: list, path: Path) -> Path | None:
    """Intermediate values of every trial that reported any, coloured by final score (a
    colour bar, complete trials only), pruned ones dashed grey, failed ones ending in x;
    one-point curves as dots."""
    with_curves = [t for t in trials if t.intermediate]
    if not with_curves:
        return None
    plt = _plt()
    from matplotlib import cm, colors

    cfg = study.config
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    def final(t: Trial) -> float | None:  # a pruned trial's last value is not a final score
        ok = t.state is TrialState.COMPLETE and t.score is not None and np.isfinite(t.score)
        return t.score if ok else None

    finals = [f for t in with_curves if (f := final(t)) is not None]
    norm = colors.Normalize(min(finals), max(finals)) if finals else colors.Normalize(0, 1)
    # viridis without its palest tenth, whose yellow vanishes on white
    shades = cm.viridis(np.linspace(0.0, 0.85, 256))
    cmap = colors.ListedColormap(shades if cfg.sign > 0 else shades[::-1])
    best = study.best()
    for t in with_curves:
        steps = [r.step for r in t.intermediate]
        values = [r.value for r in t.intermediate]
        is_best = best is not None and t.trial_id == best.trial_id
        color = "grey" if final(t) is None else cmap(norm(final(t)))
        style = "--" if t.state is TrialState.PRUNED else "-"
        ax.plot(steps, values, style, lw=2.4 if is_best else 1.0, color=color,
                alpha=1.0 if is_best else 0.7, marker="o" if len(steps) == 1 else None,
                markersize=4, label=f"best (trial {t.trial_id})" if is_best else None)
        if t.state is TrialState.FAILED:
            ax.scatter([steps[-1]], [values[-1]], **{**FAIL_STYLE, "label": None})
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"final {cfg.metric}")
    ax.set_xlabel("step (as reported)")
    ax.set_ylabel(cfg.metric)
    ax.set_title("learning curves (colour: final score; pruned dashed grey; failed x)")
    if best is not None and any(t.trial_id == best.trial_id for t in with_curves):
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)
