"""Storage throughput: asks and tells per second with many worker processes.

    python -m benchmarks.concurrency [--seconds 8] [--backends sqlite postgres]

Each worker process loops ``ask`` then ``tell`` on one study for a fixed time; the study is
pre-filled with 0, 1,000 or 10,000 finished trials. The study uses ``method: random`` so
the figures measure storage and locking, not GP fitting. Afterwards every trial is checked:
no duplicate ids, none lost, none left running. Prints a table; ``benchmarks.run`` embeds it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
import uuid

CFG = {
    "goal": "minimize", "method": "random",
    "parameters": {
        "lr": {"distribution": "log_normal", "min": 1e-5, "max": 1e-1},
        "bs": {"distribution": "uniform_pow2", "min": 16, "max": 1024},
        "layers": {"distribution": "int_uniform", "min": 1, "max": 8},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    },
}
PG = os.environ.get("PROTEIN_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def _worker(url: str, name: str, seconds: float, out: mp.Queue) -> None:
    import protein.optimizer.baselines  # noqa: F401 - warm imports: measure the steady state
    from protein.study import Study

    study = Study.load(name, url)
    asks = tells = 0
    ask_t = tell_t = 0.0
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.perf_counter()
        t = study.ask()
        t1 = time.perf_counter()
        study.tell(t, float(t.params["lr"]), cost=1.0)
        t2 = time.perf_counter()
        asks += 1
        tells += 1
        ask_t += t1 - t0
        tell_t += t2 - t1
    out.put((asks, tells, ask_t, tell_t))


def prefill(url: str, name: str, n: int, cfg: dict | None = None, score=None) -> None:
    """Create study ``name`` with ``n`` finished trials (random params; ``score(params)``,
    else the ``lr``), written in one transaction as a long-running study would have them."""
    from protein.optimizer.baselines import suggest_baseline
    from protein.storage import open_backend
    from protein.storage.sql import _dumps
    from protein.study import Study

    study = Study.create(cfg or CFG, name, url)
    if not n:
        return
    backend = open_backend(url)
    params = [s.params for s in suggest_baseline("random", study.space, 0,
                                                 settings=study.config.settings, seed=1, n=n)]
    now = time.time()
    rows = [(name, i, "complete", _dumps(p), float(score(p) if score else p["lr"]), 1.0,
             _dumps({"reason": "random"}), "prefill", now, now, now) for i, p in enumerate(params)]
    sql = backend._sql("INSERT INTO trials (study, trial_id, state, params, score, cost, info, "
                       "worker, created_at, finished_at, heartbeat_at) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    with backend._transaction() as tx:
        for r in rows:
            tx(sql, r)
        backend._stamp(tx, name)  # so readers that looked before see the new rows


def measure(backend: str, workers: int, stored: int, seconds: float, tmp: str) -> dict:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    url = os.path.join(tmp, f"{name}.db") if backend == "sqlite" else PG
    prefill(url, name, stored)
    q: mp.Queue = mp.get_context("fork").Queue()
    procs = [mp.get_context("fork").Process(target=_worker, args=(url, name, seconds, q))
             for _ in range(workers)]
    t0 = time.time()
    for p in procs:
        p.start()
    res = [q.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.time() - t0
    asks = sum(r[0] for r in res)
    from protein.study import Study

    trials = Study.load(name, url).trials()
    ids = [t.trial_id for t in trials]
    ok = ids == list(range(len(ids))) and len(ids) == stored + asks and all(
        t.state.value == "complete" for t in trials)
    if backend == "postgres":
        Study.load(name, url).storage.backend.delete_study(name)
    return {"backend": backend, "workers": workers, "stored": stored, "asks_per_s": asks / wall,
            "tells_per_s": sum(r[1] for r in res) / wall,
            "ask_ms": 1000 * sum(r[2] for r in res) / max(1, asks),
            "tell_ms": 1000 * sum(r[3] for r in res) / max(1, asks), "accounted": ok}


HEADING = "### Storage throughput (ask + tell loops, `method: random`)"  # the scale tables' first


def table(rows: list[dict]) -> str:
    lines = [HEADING, "",
             "| backend | workers | stored trials | asks/s | tells/s | mean ask ms | mean tell ms | every trial accounted for |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['workers']} | {r['stored']} | {r['asks_per_s']:.1f} | "
                     f"{r['tells_per_s']:.1f} | {r['ask_ms']:.1f} | {r['tell_ms']:.1f} | "
                     f"{'yes' if r['accounted'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--stored", type=int, nargs="+", default=[0, 1000, 10000])
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in args.backends:
            for s in args.stored:
                for w in args.workers:
                    rows.append(measure(b, w, s, args.seconds, tmp))
                    print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
