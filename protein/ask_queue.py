"""The ask queue behind ``Study.ask``: trials for every process asking at once.

Asks that arrive while another is being computed wait in the storage's queue; whoever holds
the ask lock next serves every waiting request from one call of the optimizer (a batch, each
point aware of the others). Stale trials (dead or silent workers) are handed out again first
where wanted, and an ask interrupted before its caller received its trials fails what was
made for it, so none is left running unseen.
"""

from __future__ import annotations

import itertools
from typing import Any

from protein.errors import SearchExhausted
from protein.optimizer import suggest_config
from protein.process import gone, identity, worker_name
from protein.storage.base import AskAnswer, AskRequest
from protein.storage.rules import counts
from protein.trial import Trial, TrialState

MAX_RETRIES = 2  # times a trial whose worker died is handed out again
MAX_HANDBACKS = 5  # ... and one its worker handed back (preempted, out of time): a trial
# longer than a job's time limit would otherwise go round for ever


def ask(study: Any, n: int | None, worker: str | None, max_trials: int | None,
        retry_stale: bool, lease_s: float | None, held: bool) -> Any:
    """``Study.ask`` (see there): through the queue with the ``protein`` method."""
    count = 1 if n is None else n
    worker = worker or worker_name()
    me = identity()
    study.handed = []
    if study.config.method != "protein":
        try:
            with study.storage.lock():
                request = AskRequest(-1, me, worker, count, max_trials, retry_stale,
                                     lease_s, held)
                answers, stored = serve(study, [request], request.request_id)
                answer = answers[request.request_id]
        except BaseException:
            abandon(study, -1)  # no queued request: only what it stored itself
            raise
    else:
        # the heavy imports happen here, before the lock, not while holding it
        import protein.optimizer.multi
        import protein.optimizer.single
        import protein.optimizer.surrogate  # noqa: F401

        request = study.storage.enqueue(me, worker, count, max_trials, retry_stale, lease_s,
                                       held)
        try:
            with study.storage.lock():
                answer = study.storage.answer_of(request.request_id)
                stored: dict[int, Trial] = {}
                study.handed = list(answer.trial_ids) if answer else []
                if answer is None:  # nobody served it while we waited: serve every waiter
                    waiting = [r for r in study.storage.waiting()
                               if r.request_id == request.request_id or not gone(r.requester)]
                    answers, stored = serve(study, waiting, request.request_id)
                    for r in waiting:
                        if r.request_id != request.request_id:
                            study.storage.answer(r.request_id, answers[r.request_id])
                    answer = answers[request.request_id]
                # inside the lock: the next holder must not serve this request again
                study.storage.withdraw(request.request_id)
        except BaseException:
            abandon(study, request.request_id)
            raise
    # trials this call stored come back as stored; ones another asker stored are read
    made = [stored.get(i) or study.storage.get_trial(i) for i in answer.trial_ids]
    study.exhausted = answer.exhausted
    if n is None:
        return made[0] if made else None
    return made


def abandon(study: Any, request_id: int) -> None:
    """An ask interrupted (a signal, an error) before its caller received its trials:
    withdraw the request and fail every trial made for it, by this process or by
    another holder of the ask lock, so none is left running unseen. Under the lock, so
    a holder serving the queue now either answered it already or will not see it."""
    try:
        with study.storage.lock():
            answer = study.storage.answer_of(request_id)
            study.storage.withdraw(request_id)
    except Exception:  # noqa: BLE001 - the storage is gone too: the lease expires them
        answer = None
    for tid in dict.fromkeys([*study.handed, *(answer.trial_ids if answer else ())]):
        try:
            study.storage.finish_trial(tid, TrialState.FAILED, None, None, {
                "failure": "expired: the ask was interrupted before its caller received "
                           "the trial; nothing ran"})
        except Exception:  # noqa: BLE001 - finished meanwhile, or the storage is gone
            pass
    study.handed = []


def serve(study: Any, requests: list[AskRequest],
          own: int) -> tuple[dict[int, AskAnswer], dict[int, Trial]]:
    """Trials for each request (under the ask lock): stale trials handed out again first
    where wanted, then new suggestions, all of them from one call of the optimizer.
    Request ``own`` is this caller's: its trials go to ``handed`` as they are stored.
    Returns each request's answer and the trials stored here, by id."""
    given: dict[int, list[int]] = {r.request_id: [] for r in requests}
    given[own] = study.handed  # the same list: filled as trials are stored
    stored: dict[int, Trial] = {}

    def keep(t: Trial) -> int:
        stored[t.trial_id] = t
        return t.trial_id

    if study.lease_s is not None:
        retry = study.on_expire == "retry" or any(r.retry_stale for r in requests)
        takers = [r for r in requests if r.retry_stale or study.on_expire == "retry"]
        for t in study.storage.expire(study.lease_s, "retry" if retry else study.on_expire):
            if int(t.info.get("retries", 0)) >= MAX_RETRIES:
                study.storage.finish_trial(t.trial_id, TrialState.FAILED, None, None, {
                    "failure": f"expired: its worker died {MAX_RETRIES + 1} times"})
                continue
            if int(t.info.get("handed_back", 0)) > MAX_HANDBACKS:
                study.storage.finish_trial(t.trial_id, TrialState.FAILED, None, None, {
                    "failure": f"handed back {MAX_HANDBACKS + 1} times (last: "
                               f"{t.info.get('released')}): it never finishes within one "
                               "job; give the jobs more time (--time), or let the trainer "
                               "resume from $PROTEIN_CHECKPOINT_DIR"})
                continue
            r = next((r for r in takers if len(given[r.request_id]) < r.count), None)
            if r is not None:
                given[r.request_id].append(
                    keep(study.storage.reassign(t.trial_id, r.worker,
                                               r.requester if r.held else None)))

    protein = study.config.method == "protein"
    if protein or any(r.max_trials is not None for r in requests):
        history = study.storage.trials()
        k, used = len(history), sum(1 for t in history if counts(t, history))
    else:  # random, sobol and grid need only the count of trials so far
        history, k = [], study.storage.count()
        used = k
    rooms: dict[int, int] = {}
    for r in requests:
        room = r.count - len(given[r.request_id])
        if r.max_trials is not None:
            room = min(room, max(0, r.max_trials - used))
        rooms[r.request_id] = room
        used += room
    total = sum(rooms.values())
    exhausted = None
    suggestions: list = []
    if total > 0:
        try:
            suggestions = suggest_config(study.config, history, seed=study.seed, n=total,
                                         count=k)
        except SearchExhausted as e:
            exhausted = str(e)
        if 0 < len(suggestions) < total:
            exhausted = (f"the search space ran out after {len(suggestions)} more "
                         "trial(s): every point has been run or is running")
    it = iter(suggestions)
    out: dict[int, AskAnswer] = {}
    for r in requests:
        for s in itertools.islice(it, rooms[r.request_id]):
            info = {**s.info, "batch": len(suggestions)} if len(suggestions) > 1 else s.info
            if r.held:  # who holds it: see protein.process
                info = {**info, "process": r.requester}
            given[r.request_id].append(
                keep(study.storage.create_trial(s.params, info, r.worker, r.lease_s)))
        short = len(given[r.request_id]) < r.count
        out[r.request_id] = AskAnswer(tuple(given[r.request_id]), exhausted if short else None)
    return out, stored
