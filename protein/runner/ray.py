"""``--launcher ray``: the worker loop as Ray tasks, each with a process-like face."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Any

from protein.errors import ProteinError, require
from protein.runner.spec import RunSpec
from protein.runner.worker import worker_main


class RayWorker:
    """A Ray task running the worker loop, with a process-like face for the supervisor."""

    def __init__(self, ray: Any, ref: Any) -> None:
        self.ray, self.ref = ray, ref
        self.pid = None
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        done, _ = self.ray.wait([self.ref], timeout=0)
        if done and self.exitcode is None:
            try:
                self.ray.get(self.ref)
                self.exitcode = 0
            except Exception as e:  # noqa: BLE001 - reported by the supervisor
                print(f"protein run: error: a Ray worker failed: {e}", file=sys.stderr)
                self.exitcode = 1
        return not done

    def terminate(self) -> None:
        self.ray.cancel(self.ref, force=True)

    kill = terminate

    def join(self, timeout: float | None = None) -> None:
        try:
            self.ray.wait([self.ref], timeout=timeout)
        except Exception:  # noqa: BLE001
            pass


def ray_workers(spec: RunSpec, workers: int, address: str | None,
                 gpus_per_trial: float | None) -> list[RayWorker]:
    ray = require("ray", "ray", "--launcher ray")
    if not ray.is_initialized():
        try:
            ray.init(address=address, ignore_reinit_error=True, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ProteinError(
                f"--ray-address {address}: no Ray cluster to join ({first}); start one with "
                "`ray start --head`, give its address, or leave --ray-address out to start a "
                "local Ray instance") from None
    gpus = gpus_per_trial
    if gpus is None:
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(worker_main)
    return [RayWorker(ray, task.remote(asdict(spec))) for _ in range(workers)]
