"""``Study``: ask/tell over a trial log, with the optimizer state rebuilt from the trials.

The study keeps no optimizer state of its own: every ``ask`` passes the stored trials to
``suggest``, so a study reopened in another process continues exactly where it stopped.
A study reads and writes its trials through a ``StudyStorage`` (in memory, SQLite or PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from protein.ask_queue import ask
from protein.config import SweepConfig, load_config
from protein.config.objectives import feasible
from protein.config.sweep import check_study_name
from protein.dataframe import trials_dataframe
from protein.errors import TrialError
from protein.optimizer.early_stop import StopConfig, Verdict, decide, default_rule
from protein.pareto import front, objective_front
from protein.results import cost_of, finite, number, validate_result
from protein.storage import open_backend
from protein.storage.memory import MemoryStudyStorage
from protein.storage.sql import DEFAULT_LEASE_S
from protein.trial import Trial

if TYPE_CHECKING:
    from protein.storage.base import StudyStorage


class Study:
    """A sweep's trials and the optimizer that extends them.

    Args:
        config: anything ``load_config`` takes.
        seed: seeds every random choice; the same trials and seed give the same asks.
        storage: a ``StudyStorage``; in memory when omitted.
    """

    def __init__(self, config: Any, seed: int = 0, storage: StudyStorage | None = None,
                 name: str = "default",
                 lease_s: float | None = None, on_expire: str = "fail"):
        self.config: SweepConfig = load_config(config)
        self.seed = seed
        self.name = name
        self.storage: StudyStorage = storage if storage is not None else MemoryStudyStorage()
        self.lease_s = lease_s
        self.on_expire = on_expire
        self.exhausted: str | None = None  # why the last ask handed out fewer trials
        self.handed: list[int] = []  # the trials the last ask stored for its caller, so far

    @classmethod
    def create(cls, config: Any, name: str = "default", storage: Any = None, seed: int = 0,
               lease_s: float | None = None, on_expire: str = "fail",
               replace: bool = False) -> Study:
        """Create (or reopen, if identical) study ``name`` in ``storage`` (a URL or backend)."""

        check_study_name(name)
        backend = open_backend(storage) if storage is None or isinstance(storage, str) else storage
        cfg = load_config(config)
        if replace and name in backend.study_names():
            _same_objectives(cls._from_record(backend, backend.get_study(name)), cfg)
        rec = backend.create_study(name, cfg.to_dict(), seed,
                                   lease_s if lease_s is not None else DEFAULT_LEASE_S,
                                   on_expire, replace)
        return cls._from_record(backend, rec)

    @classmethod
    def load(cls, name: str = "default", storage: Any = None) -> Study:
        """Open an existing study; its optimizer state comes from the stored trials alone."""
        backend = open_backend(storage) if storage is None or isinstance(storage, str) else storage
        return cls._from_record(backend, backend.get_study(name))

    @classmethod
    def _from_record(cls, backend: Any, rec: Any) -> Study:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cfg = load_config(rec.config)
        return cls(cfg, seed=rec.seed, storage=backend.bound(rec.name), name=rec.name,
                   lease_s=rec.lease_s, on_expire=rec.on_expire)

    @property
    def space(self):  # type: ignore[no-untyped-def]
        return self.config.space

    # -------------------------------------------------------------- ask / tell
    def ask(self, n: int | None = None, worker: str | None = None,
            max_trials: int | None = None, retry_stale: bool = False,
            lease_s: float | None = None, held: bool = True) -> Any:
        """Create ``n`` running trials (one Trial when ``n`` is None, else a list).

        ``worker`` is stored with each trial (default ``host:pid``), so a study can tell
        a dead local worker's trials from a slow one's. With ``max_trials``, no trial is
        created past that count (trials lost to dead workers do not count) and ``None`` /
        a shorter list comes back. With ``retry_stale``, trials of dead workers are handed
        out again first (at most ``ask_queue.MAX_RETRIES`` times each), whatever the study's
        ``on_expire``: this is how ``protein run`` resumes an interrupted sweep.
        ``lease_s`` gives these trials their own lease instead of the study's. ``held``:
        this process runs them, so they are recorded as its own (``info["process"]``) and
        never expire while it lives, and fail as soon as it dies; pass False when another
        process will run them (a command-line ask): then only the lease expires them.

        With the ``protein`` method, asks that arrive while another is being computed are
        queued, and the next holder of the ask lock answers all of them from one model fit
        (a batch, each point aware of the others), so many workers asking at once wait for
        one fit rather than one each.
        """
        return ask(self, n, worker, max_trials, retry_stale, lease_s, held)

    def start(self, params: Mapping[str, Any], *, worker: str | None = None,
              reason: str = "given") -> Trial:
        """Start a trial with params of the caller's choosing (flat or nested; checked against
        the space), e.g. a known-good config or a dry run. ``info["reason"]`` is ``reason``."""
        flat = self.space.flatten(params)
        self.space.encode(flat, where="params")
        with self.storage.lock():
            return self.storage.create_trial(flat, {"reason": reason}, worker)

    def heartbeat(self, trials: Sequence[Trial | int]) -> None:
        """Tell the study these running trials' workers are alive."""
        self.storage.heartbeat([t.trial_id if isinstance(t, Trial) else int(t) for t in trials])

    def release(self, trial: Trial | int, reason: str, wall: float = 0.0) -> Trial:
        """Hand a running trial back, unfinished, for another worker: this one was told to
        stop (preempted, out of time, cancelled). Neither failed nor lost: the next worker
        asking with ``retry_stale`` runs it again, with the same params and seed, and its
        intermediate values are kept. ``wall``: the seconds this attempt ran, added to the
        trial's cost where that is wall time."""
        return self.storage.release(trial.trial_id if isinstance(trial, Trial) else int(trial),
                                    reason, wall)

    def tell(
        self,
        trial: Trial | int,
        score: float | Mapping[str, float] | None = None,
        cost: float | None = None,
        *,
        failed: bool = False,
        pruned: bool = False,
        reason: str | None = None,
        metrics: Mapping[str, float] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Trial:
        """Finish a running trial with ``score`` (and ``cost``, default 1), or as failed/pruned.

        With several metrics (or constraints), ``score`` is a mapping of every metric to its
        value (``{"reward": 1.2, "memory_gb": 31}``); the values are kept in
        ``info["values"]`` and the primary metric's value becomes the score.
        A NaN or infinite score is kept as a failed trial with that reason (and a warning
        on stderr); it never reaches the GP as a number. ``metrics`` are further numbers
        the trial reported (``success_rate``, ``max_reward``): kept in ``info["metrics"]``
        and shown by ``trials``, ``report`` and ``summary``, never optimised. Telling a finished trial the same
        result again is harmless; a different result is an error.
        """
        trial_id = trial.trial_id if isinstance(trial, Trial) else int(trial)
        state, score, cost, record = validate_result(trial_id, score, cost, failed, pruned,
                                                    reason, self.config)
        if metrics:
            record["metrics"] = {str(k): finite(trial_id, f"metric {k}", v)
                                 for k, v in metrics.items()}
        return self.storage.finish_trial(trial_id, state, score, cost, {**(info or {}), **record})

    def report(self, trial: Trial | int, step: float, value: float,
               cost: float | None = None) -> None:
        """Record an intermediate value of a running trial: ``value`` after ``step``, having
        spent ``cost`` so far in the unit of ``tell``'s cost (steps, examples, tokens,
        seconds; leave it out when unknown). The learning-curve model and the curve rule
        read the spend; where it is left out they use the step when every complete trial's
        cost equals its last step."""
        trial_id = trial.trial_id if isinstance(trial, Trial) else int(trial)
        step_f = number(trial_id, "step", step)
        if not math.isfinite(step_f):
            raise TrialError(f"trial {trial_id}: step must be a finite number, got {step!r}")
        spent = None if cost is None else cost_of(trial_id, cost, "the cost spent so far")
        self.storage.add_intermediate(trial_id, step_f, number(trial_id, "value", value), spent)

    def should_stop(self, trial: Trial | int, *, rule: str = "auto", **options: Any) -> Verdict:
        """Whether a running trial should stop, judged from the intermediate values it has
        reported (``report``) and every other trial: ``rule`` and ``options`` as
        ``StopConfig`` (``auto``: the curve rule where it can judge). The verdict's ``info``
        holds the figures behind it (predicted final score, its chance to reach the front)."""
        trial_id = trial.trial_id if isinstance(trial, Trial) else int(trial)
        me = self.storage.get_trial(trial_id)
        others = [t for t in self.trials() if t.trial_id != trial_id]
        cfg = StopConfig(rule=default_rule(rule, self.config.method),
                         quantile=self.config.settings.early_stop_quantile, **options)
        return decide(cfg, self.config.sign, me.intermediate, others, params=me.params,
                      space=self.config.space, device=self.config.settings.device)

    # ----------------------------------------------------------------- queries
    def trials(self) -> list[Trial]:
        return self.storage.trials()

    def trial(self, trial_id: int) -> Trial:
        return self.storage.get_trial(trial_id)

    def trial_seed(self, trial: Trial | int) -> int:
        """The training seed of a trial: its id, shifted by ``SEED_STRIDE`` per study seed, so
        the same sweep run again under another ``--seed`` trains with other seeds too (and
        seed 0 keeps seed = trial id)."""
        trial_id = trial.trial_id if isinstance(trial, Trial) else int(trial)
        return self.seed * SEED_STRIDE + trial_id

    def trials_dataframe(self) -> Any:
        """The trials as a pandas DataFrame, one row per trial (``protein.dataframe``; needs
        pandas: ``pip install 'protein-hpo[dataframe]'``)."""
        return trials_dataframe(self.trials(), self.space.names, self.config.metric_names)

    def complete(self) -> list[Trial]:
        return [t for t in self.trials() if t.is_complete]

    def feasible(self, trials: Sequence[Trial] | None = None) -> list[Trial]:
        """Complete trials (of ``trials``, default the study's) that meet every constraint."""
        done = [t for t in (self.trials() if trials is None else trials) if t.is_complete]
        if not self.config.constraints:
            return done
        return [t for t in done if feasible(self.config.constraints, t.info.get("values", {}))]

    def best(self) -> Trial | None:
        """The feasible trial with the best score (primary metric; earliest on ties), or None."""
        done = self.feasible()
        if not done:
            return None
        return max(done, key=lambda t: (self.config.sign * t.score, -t.trial_id))

    def objective_front(self) -> list[Trial]:
        """Feasible trials that no other feasible trial beats on every objective, best on the
        primary metric first. With a single objective: the best trial(s)."""
        return objective_front(self.config.objectives, self.config.constraints, self.trials())

    def cost_front(self) -> list[Trial]:
        """Complete trials on the cost-score front, cheapest first."""
        done = self.complete()
        if not done:
            return []
        y = np.array([self.config.sign * t.score for t in done])
        c = np.array([t.cost if t.cost is not None else 1.0 for t in done])
        return [done[i] for i in front(y, c)]


SEED_STRIDE = 1_000_000  # training seeds per study seed (Study.trial_seed)


def _same_objectives(old: Study, new: SweepConfig) -> None:
    """Refuse a new config whose metrics differ from those the study's finished trials were
    scored by: their scores would be read as values of the new metrics."""
    before, after = list(old.config.metric_names), list(new.metric_names)
    if before == after:
        return
    scored = [t.trial_id for t in old.trials() if t.score is not None]
    if not scored:
        return
    have = [t.trial_id for t in old.trials() if t.score is not None and all(
        m in t.reported for m in after)]
    lack = [i for i in scored if i not in have]
    shown = ", ".join(map(str, lack[:8])) + (" ..." if len(lack) > 8 else "")
    raise TrialError(
        f"study {old.name!r}: its {len(scored)} finished trials are scored by "
        f"{', '.join(before)}; the new config scores by {', '.join(after)}, so their scores "
        f"would be read as {', '.join(after)}"
        + (f" (trials {shown} did not report it)" if lack else "")
        + ". Start a new study for the new metric (--study NEW_NAME)")


__all__ = ["Study"]
