"""The report's plots, read back from their matplotlib figures: the elements a researcher
reads (issue "wrong results on default paths", item 11)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from protein.report import plots  # noqa: E402
from protein.study import Study  # noqa: E402

SPACE = {"x": {"distribution": "uniform", "min": 0, "max": 1},
         "y": {"distribution": "log_normal", "min": 1e-3, "max": 1}}


@pytest.fixture
def figures(monkeypatch):
    got = []

    def keep(fig, path):
        fig.canvas.draw()
        got.append(fig)
        return path

    monkeypatch.setattr(plots, "_save", keep)
    return got


def _study(costs, scores, failed=(), curves=None, cfg=None):
    study = Study(cfg or {"goal": "maximize", "parameters": SPACE,
                          "settings": {"num_random_samples": 50}})
    for i, (c, s) in enumerate(zip(costs, scores)):
        t = study.ask()
        for step, v in (curves or {}).get(i, ()):
            study.report(t, step, v)
        if i in failed:
            study.tell(t, failed=True, reason="crash")
        else:
            study.tell(t, s, c)
    return study


def test_failed_trials_sit_in_their_own_band(figures, tmp_path):
    s = _study([1.0] * 6, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], failed={2, 4})
    plots.history(s, s.trials(), tmp_path / "h.png")
    ax = figures[0].axes[0]
    fails = [c for c in ax.collections if c.get_label() == "failed"]
    ys = fails[0].get_offsets()[:, 1]
    assert len(ys) == 2 and ys.max() < 0.5  # below every real score, not on the lowest one


def test_best_so_far_skips_infeasible_trials(figures, tmp_path):
    cfg = {"metrics": {"a": "maximize", "b": "minimize"}, "constraints": ["b <= 1"],
           "parameters": SPACE, "settings": {"num_random_samples": 50}}
    s = Study(cfg)
    for a, b in ((0.1, 0.5), (0.9, 5.0), (0.2, 0.5)):
        s.tell(s.ask(), {"a": a, "b": b})
    plots.history(s, s.trials(), tmp_path / "h.png")
    line = [ln for ln in figures[0].axes[0].lines if "best so far" in ln.get_label()][0]
    assert np.nanmax(line.get_ydata()) == pytest.approx(0.2)


def test_learning_curves_have_a_colour_scale_and_show_one_point_curves(figures, tmp_path):
    s = _study([1.0] * 3, [0.2, 0.5, 0.9],
               curves={0: [(1, 0.1), (2, 0.2)], 1: [(1, 0.5)], 2: [(1, 0.3), (2, 0.9)]})
    plots.curves(s, s.trials(), tmp_path / "c.png")
    fig = figures[0]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "final score"  # the colour bar
    one = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) == 1]
    assert one and one[0].get_marker() == "o"
    assert fig.axes[0].get_legend() is not None


def test_pareto_says_so_when_costs_differ_only_by_noise(figures, tmp_path):
    s = _study([10.0, 10.5, 11.0, 10.2], [0.1, 0.4, 0.3, 0.2])
    plots.cost_front(s, s.trials(), s.cost_front(), tmp_path / "p.png")
    ax = figures[0].axes[0]
    assert any("no cost-score front" in t.get_text() for t in ax.texts)
    assert not ax.lines  # no front drawn


def test_pareto_set_uses_log_axes_for_a_far_point(figures, tmp_path):
    cfg = {"metrics": {"a": "maximize", "b": "minimize"}, "parameters": SPACE,
           "settings": {"num_random_samples": 50}}
    s = Study(cfg)
    for a, b in ((0.1, 0.5), (0.5, 1.0), (0.9, 5000.0)):
        s.tell(s.ask(), {"a": a, "b": b})
    plots.objective_front(s, s.trials(), s.objective_front(), tmp_path / "ps.png")
    assert figures[0].axes[0].get_yscale() == "log"


def test_importance_with_too_few_trials_says_so(figures, tmp_path):
    from protein.report import write_report

    s = _study([1.0] * 2, [0.1, 0.2])
    write_report(s, tmp_path / "rep")
    text = (tmp_path / "rep" / "SUMMARY.md").read_text()
    assert "Importance is not yet meaningful: 2 complete trials for 2 parameters" in text
    titles = [ax.get_title() for fig in figures for ax in fig.axes]
    assert any("too few trials" in t for t in titles) and not any("0.00" in t for t in titles)
    assert Path(tmp_path / "rep" / "topk.json").exists()


def test_learning_curves_are_readable_on_white_and_pruned_ones_grey(figures, tmp_path):
    curves = {i: [(s, v * s / 3) for s in (1, 2, 3)] for i, v in enumerate((0.2, 0.5, 0.9, 0.95))}
    s = _study([1.0] * 4, [0.2, 0.5, 0.9, 0.95], curves=curves)
    t = s.ask()
    s.report(t, 1, 5.0)  # a pruned trial's last value, far above every final score
    s.tell(t, 5.0, pruned=True)
    plots.curves(s, s.trials(), tmp_path / "c.png")
    lines = [ln for ln in figures[0].axes[0].lines if len(ln.get_xdata()) > 0]
    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b
                 for r, g, b, _ in (np.array(__import__("matplotlib").colors.to_rgba(
                     ln.get_color())) for ln in lines)]
    assert max(luminance) < 0.8  # no pale yellow (viridis ends at 0.87) on a white page
    pruned = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(pruned) == 1 and pruned[0].get_color() == "grey"
