"""Studies at scale: storage throughput, many workers asking a GP study at once, and the
CLI's speed per call and in bash worker loops, beside Optuna's CLI on the same machine.

    python -m benchmarks.scale [--quick] [--backends sqlite postgres]

Every cell counts what it did: asks, tells and the rows stored, so nothing lost and nothing
duplicated is checked where it is measured. Prints the tables; ``benchmarks.run`` embeds
them in RESULTS.md, and its target list reads the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from benchmarks import concurrency

GP_CFG = {**concurrency.CFG, "method": "protein"}
SEARCH_SPACE = {  # the same space for Optuna's CLI
    "lr": {"name": "FloatDistribution", "attributes": {"low": 1e-5, "high": 1e-1, "step": None, "log": True}},
    "bs": {"name": "IntDistribution", "attributes": {"low": 16, "high": 1024, "step": 1, "log": True}},
    "layers": {"name": "IntDistribution", "attributes": {"low": 1, "high": 8, "step": 1, "log": False}},
    "dropout": {"name": "FloatDistribution", "attributes": {"low": 0.0, "high": 0.5, "step": None, "log": False}},
}
YAML = textwrap.dedent("""\
    metric: loss
    goal: minimize
    method: {method}
    parameters:
      lr: {{distribution: log_normal, min: 1e-5, max: 1e-1}}
      bs: {{distribution: uniform_pow2, min: 16, max: 1024}}
      layers: {{distribution: int_uniform, min: 1, max: 8}}
      dropout: {{distribution: uniform, min: 0.0, max: 0.5}}
    """)


def _score(p: dict) -> float:
    import math

    return (math.log10(p["lr"]) + 3) ** 2 + 0.1 * p["layers"] + p["dropout"]


# ----------------------------------------------------------------- GP crowd
def _asker(url: str, name: str, ready: mp.Queue, go, out: mp.Queue) -> None:
    from protein.study import Study

    warm = Study(GP_CFG, seed=1)  # a worker that has asked before: measure the steady state
    for _ in range(6):
        t = warm.ask()
        warm.tell(t, _score(t.params))
    study = Study.load(name, url)
    ready.put(os.getpid())
    go.wait()
    t0 = time.time()
    t = study.ask()
    out.put((t.trial_id, time.time() - t0, int(t.info.get("batch", 1))))


def gp_crowd(backend: str, workers: int, stored: int, tmp: str) -> dict:
    """``workers`` processes ask a GP study of ``stored`` finished trials at the same moment."""
    import protein.optimizer.multi  # noqa: F401 - imported once, shared by the forked askers
    import protein.optimizer.phases  # noqa: F401
    import protein.optimizer.single  # noqa: F401
    from protein.study import Study

    name = f"crowd_{uuid.uuid4().hex[:8]}"
    url = os.path.join(tmp, f"{name}.db") if backend == "sqlite" else concurrency.PG
    concurrency.prefill(url, name, stored, GP_CFG, _score)
    ctx = mp.get_context("fork")
    ready: mp.Queue = ctx.Queue()
    q: mp.Queue = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_asker, args=(url, name, ready, go, q)) for _ in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=600)
    go.set()
    got = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    study = Study.load(name, url)
    trials = study.trials()
    ids = sorted(g[0] for g in got)
    ok = (ids == list(range(stored, stored + workers)) and len(trials) == stored + workers
          and study.storage.waiting() == [])
    waits = sorted(g[1] for g in got)
    if backend == "postgres":
        study.storage.backend.delete_study(name)
    return {"backend": backend, "workers": workers, "stored": stored, "max_wait_s": waits[-1],
            "median_wait_s": statistics.median(waits),
            "largest_batch": max(g[2] for g in got), "accounted": ok}


def crowd_table(rows: list[dict]) -> str:
    lines = ["### GP asks from many workers at once (`method: protein`)", "",
             "Each worker process asks once, all at the same moment; the asks that wait while a "
             "fit runs are answered together by the next fit.", "",
             "| backend | workers | stored trials | longest wait s | median wait s | largest batch | every trial accounted for |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['workers']} | {r['stored']} | {r['max_wait_s']:.1f} | "
                     f"{r['median_wait_s']:.1f} | {r['largest_batch']} | "
                     f"{'yes' if r['accounted'] else 'NO'} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- CLI
def _timed(cmd: list[str], cwd: str, env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()[-400:]}")
    return time.perf_counter() - t0


def _bin(name: str) -> str:
    path = shutil.which(name) or os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise RuntimeError(f"no {name} executable on PATH")
    return path


def cli_calls(reps: int, gp_stored: int, tmp: str) -> dict:
    """Median seconds per call of ``protein tell``, random ``protein ask``, GP ``protein ask``
    on a ``gp_stored``-trial study, and Optuna's ``ask``/``tell``."""
    from protein.study import Study

    env = {**os.environ, "PROTEIN_STORAGE": os.path.join(tmp, "cli.db")}
    protein, optuna = _bin("protein"), _bin("optuna")
    Path(tmp, "r.yaml").write_text(YAML.format(method="random"))
    Path(tmp, "g.yaml").write_text(YAML.format(method="protein"))
    subprocess.run([protein, "init", "r.yaml"], cwd=tmp, env=env, check=True, capture_output=True)
    ask = [_timed([protein, "ask", "--study", "r", "--format", "flags"], tmp, env)
           for _ in range(reps)]
    tell = [_timed([protein, "tell", "--study", "r", "--trial", str(i), "--score", "0.5"], tmp, env)
            for i in range(reps)]
    name = "g"
    url = env["PROTEIN_STORAGE"]
    concurrency.prefill(url, name, gp_stored, GP_CFG, _score)
    gp = []
    for _ in range(reps):
        gp.append(_timed([protein, "ask", "--study", name, "--format", "flags"], tmp, env))
        s = Study.load(name, url)
        t = s.trials()[-1]
        s.tell(t, _score(t.params))
    odb = f"sqlite:///{os.path.join(tmp, 'optuna.db')}"
    subprocess.run([optuna, "create-study", "--storage", odb, "--study-name", "o", "--direction",
                    "minimize"], check=True, capture_output=True)
    oask = [_timed([optuna, "ask", "--storage", odb, "--study-name", "o", "--sampler",
                    "RandomSampler", "--search-space", json.dumps(SEARCH_SPACE), "-f", "json"],
                   tmp, env) for _ in range(reps)]
    otell = [_timed([optuna, "tell", "--storage", odb, "--study-name", "o", "--trial-number",
                     str(i), "--values", "0.5"], tmp, env) for i in range(reps)]
    med = statistics.median
    return {"tell": med(tell), "ask_random": med(ask), "ask_gp": med(gp), "gp_stored": gp_stored,
            "optuna_ask": med(oask), "optuna_tell": med(otell), "reps": reps}


PROTEIN_WORKER = """\
set -euo pipefail
for i in $(seq {pairs}); do
  line=$("$PROTEIN" ask --study w --format flags --worker "w$1" 2>/dev/null)
  "$PROTEIN" tell --study w --trial "${{line%% *}}" --score 0.5 >/dev/null 2>&1
done
"""
OPTUNA_WORKER = """\
set -euo pipefail
for i in $(seq {pairs}); do
  out=$("$OPTUNA" ask --storage "$ODB" --study-name w --sampler RandomSampler \\
        --search-space "$SPACE" -f json 2>/dev/null)
  n=$(echo "$out" | sed -E 's/.*"number": ([0-9]+).*/\\1/')
  "$OPTUNA" tell --storage "$ODB" --study-name w --trial-number "$n" --values 0.5 >/dev/null 2>&1
done
"""


def bash_workers(workers: int, pairs: int, tmp: str) -> dict:
    """``workers`` bash loops of ``pairs`` ask/tell pairs each, Protein's CLI then Optuna's."""
    import sqlite3

    from protein.study import Study

    protein, optuna = _bin("protein"), _bin("optuna")
    db = os.path.join(tmp, "bash.db")
    odb = f"sqlite:///{os.path.join(tmp, 'bash_optuna.db')}"
    env = {**os.environ, "PROTEIN_STORAGE": db, "PROTEIN": protein, "OPTUNA": optuna,
           "ODB": odb, "SPACE": json.dumps(SEARCH_SPACE)}
    Path(tmp, "w.yaml").write_text(YAML.format(method="random"))
    subprocess.run([protein, "init", "w.yaml"], cwd=tmp, env=env, check=True, capture_output=True)
    subprocess.run([optuna, "create-study", "--storage", odb, "--study-name", "w", "--direction",
                    "minimize"], check=True, capture_output=True)
    out = {}
    for who, script in (("protein", PROTEIN_WORKER), ("optuna", OPTUNA_WORKER)):
        path = Path(tmp, f"{who}_worker.sh")
        path.write_text(script.format(pairs=pairs))
        t0 = time.time()
        procs = [subprocess.Popen(["bash", str(path), str(i)], cwd=tmp, env=env,
                                  stderr=subprocess.PIPE, text=True) for i in range(workers)]
        errs = [p.communicate()[1] for p in procs]
        out[f"{who}_wall_s"] = time.time() - t0
        out[f"{who}_ok_workers"] = sum(p.returncode == 0 for p in procs)
        if any(p.returncode for p in procs):
            print(f"scale: a {who} bash worker failed: {next(e for e in errs if e)[-400:]}",
                  file=sys.stderr)
    trials = Study.load("w", db).trials()
    out["protein_accounted"] = (len(trials) == workers * pairs
                                and [t.trial_id for t in trials] == list(range(len(trials)))
                                and all(t.state.value == "complete" for t in trials))
    conn = sqlite3.connect(odb[len("sqlite:///"):])
    rows = conn.execute("SELECT number, state FROM trials").fetchall()
    conn.close()
    out["optuna_accounted"] = (len(rows) == workers * pairs
                               and sorted(r[0] for r in rows) == list(range(len(rows)))
                               and all(r[1] == "COMPLETE" for r in rows))
    out.update(workers=workers, pairs=pairs, speedup=out["optuna_wall_s"] / out["protein_wall_s"])
    return out


def cli_table(calls: dict, loops: dict) -> str:
    c, b = calls, loops
    return "\n".join([
        f"### The CLI per call (median of {c['reps']}, a fresh process each)", "",
        "| call | Protein s | Optuna CLI s |", "|---|---|---|",
        f"| `tell` | {c['tell']:.2f} | {c['optuna_tell']:.2f} |",
        f"| `ask`, random method | {c['ask_random']:.2f} | {c['optuna_ask']:.2f} (RandomSampler) |",
        f"| `ask`, GP method, {c['gp_stored']} trials stored | {c['ask_gp']:.2f} | – |", "",
        f"### Bash workers: {b['workers']} loops of {b['pairs']} ask/tell pairs each, at once", "",
        "| CLI | wall s | workers finished | every trial accounted for |", "|---|---|---|---|",
        f"| Protein (`protein ask --format flags` / `protein tell`) | {b['protein_wall_s']:.1f} | "
        f"{b['protein_ok_workers']}/{b['workers']} | {'yes' if b['protein_accounted'] else 'NO'} |",
        f"| Optuna (`optuna ask -f json` / `optuna tell`) | {b['optuna_wall_s']:.1f} | "
        f"{b['optuna_ok_workers']}/{b['workers']} | {'yes' if b['optuna_accounted'] else 'NO'} |", "",
        f"Protein's loops finish {b['speedup']:.1f}x faster.", ""])


# --------------------------------------------------------------------- main
def run(backends: list[str], quick: bool = False) -> tuple[str, dict]:
    """Every table, and the figures the targets read."""
    fig: dict = {"storage": [], "crowd": []}
    text = ""
    with tempfile.TemporaryDirectory() as tmp:
        for b in backends:
            for stored in ((0, 10000) if quick else (0, 1000, 10000)):
                for w in ((8,) if quick else (1, 8, 32)):
                    try:
                        fig["storage"].append(concurrency.measure(b, w, stored, 5.0, tmp))
                    except Exception as e:  # noqa: BLE001 - e.g. no PostgreSQL server here
                        print(f"scale: {b} skipped ({e})", file=sys.stderr)
                        break
        text += concurrency.table(fig["storage"]) + "\n"
        for b in backends:
            try:
                fig["crowd"].append(gp_crowd(b, 8 if quick else 32, 200 if quick else 1000, tmp))
            except Exception as e:  # noqa: BLE001
                print(f"scale: GP crowd on {b} skipped ({e})", file=sys.stderr)
        text += crowd_table(fig["crowd"]) + "\n"
        fig["cli"] = cli_calls(3 if quick else 10, 50 if quick else 200, tmp)
        fig["bash"] = bash_workers(8 if not quick else 2, 20 if not quick else 3, tmp)
        text += cli_table(fig["cli"], fig["bash"])
    return text, fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    text, fig = run(args.backends, args.quick)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
