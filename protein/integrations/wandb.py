"""Weights & Biases logging: one W&B run per trial, grouped by study.

Library use::

    from protein.integrations.wandb import WandbCallback
    cb = WandbCallback(project="my-sweeps")
    trial = study.ask()
    ...
    cb.on_trial_end(study, study.tell(trial, score, cost))
    cb.on_study_end(study)       # summary table and Pareto plot in a run of its own

``protein run --wandb-project P`` does the same for every trial. Works offline
(``WANDB_MODE=offline``), when the runs are synced later with ``wandb sync``.
"""

from __future__ import annotations

import os
from typing import Any

from protein.errors import ProteinError, require

OFFLINE_MODES = ("offline", "disabled", "dryrun")


def _wandb() -> Any:
    return require("wandb", "wandb", "W&B logging (--wandb-project)")


def check_ready(project: str) -> None:
    """Before the first trial: W&B is installed and has an API key here, or logs offline
    (``WANDB_MODE=offline``); else a one-line error that says how to fix it, rather than a
    worker traceback per trial. Reads the local credentials only (no network)."""
    wandb = _wandb()
    if os.environ.get("WANDB_MODE", "").lower() in OFFLINE_MODES:
        return
    try:
        ready = bool(wandb.login(prompt=False, verify=False))
    except TypeError:  # a wandb without prompt=: the key from the environment or ~/.netrc
        import netrc

        try:
            ready = bool(os.environ.get("WANDB_API_KEY")
                         or netrc.netrc().authenticators("api.wandb.ai"))
        except (OSError, netrc.NetrcParseError):
            ready = False
    except Exception:  # noqa: BLE001 - any failure to find a key is "not logged in"
        ready = False
    if not ready:
        raise ProteinError(
            f"--wandb-project {project}: W&B has no API key on this machine; run `wandb login` "
            "(or set WANDB_API_KEY), or log offline with WANDB_MODE=offline and `wandb sync` "
            "the runs later")


def start_trial_run(project: str, study: Any, trial: Any, nested: dict,
                    entity: str | None = None) -> Any:
    """A W&B run for a running trial; intermediate values go to ``run.log``."""
    wandb = _wandb()
    return wandb.init(project=project, entity=entity, group=study.name, name=f"{study.name}-trial-{trial.trial_id}",
                      config={**nested, "protein": {"trial": trial.trial_id, **dict(trial.info)}},
                      job_type="trial", reinit="create_new")


def finish_trial_run(run: Any, trial: Any, state: str, metric: str = "score") -> None:
    if trial is not None:
        run.summary["protein/state"] = state
        run.summary["protein/cost"] = trial.cost
        if trial.score is not None:
            run.summary[metric] = trial.score
        for name, value in trial.metrics.items():
            run.summary[name] = value
            run.summary["protein/score"] = trial.score
        for name, value in trial.values.items():
            run.summary[name] = value
        if trial.info.get("failure"):
            run.summary["protein/failure"] = str(trial.info["failure"])
    run.finish(exit_code=0 if state in ("complete", "pruned") else 1)


class WandbCallback:
    """Log finished trials (and, at the end, the sweep) to W&B."""

    def __init__(self, project: str, **init_kwargs: Any) -> None:
        self.project = project
        self.init_kwargs = init_kwargs
        _wandb()

    def on_trial_end(self, study: Any, trial: Any) -> None:
        wandb = _wandb()
        run = wandb.init(project=self.project, group=study.name,
                         name=f"{study.name}-trial-{trial.trial_id}", job_type="trial",
                         config={**study.space.nest(trial.params),
                                 "protein": {"trial": trial.trial_id, **dict(trial.info)}},
                         reinit="create_new", **self.init_kwargs)
        for r in trial.intermediate:
            run.log({study.config.metric: r.value, "step": r.step,
                     **({"cost": r.cost} if r.cost is not None else {})})
        finish_trial_run(run, trial, trial.state.value, study.config.metric)

    def on_study_end(self, study: Any) -> None:
        wandb = _wandb()
        run = wandb.init(project=self.project, group=study.name, name=f"{study.name}-summary",
                         job_type="sweep-summary", reinit="create_new", **self.init_kwargs)
        cols = ["trial", "state", study.config.metric, "cost", *study.space.names]
        table = wandb.Table(columns=cols)
        for t in study.trials():
            table.add_data(t.trial_id, t.state.value, t.score, t.cost,
                           *[str(t.params.get(n, "")) for n in study.space.names])
        front = study.cost_front()
        ftable = wandb.Table(data=[[t.cost, t.score] for t in front], columns=["cost", study.config.metric])
        run.log({"trials": table,
                 "pareto": wandb.plot.line(ftable, "cost", study.config.metric, title="Pareto front")})
        best = study.best()
        if best is not None:
            run.summary["best/trial"] = best.trial_id
            run.summary["best/score"] = best.score
            run.summary["best/params"] = dict(best.params)
        run.finish()
