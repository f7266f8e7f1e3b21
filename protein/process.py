"""Which process holds a trial, and whether it is still alive.

A trial records the process that holds it as data (``info["process"]``: ``host:pid:start``,
``start`` the process's start time in clock ticks since boot where ``/proc`` has it), apart
from the worker's *name*, which is the user's label (``node:$SLURM_JOB_ID`` is a natural
one) and is never read as a pid. The start time tells a live process from a new one that
reuses a dead one's pid.
"""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """The default worker label: ``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _start_time(pid: int) -> str:
    """The start time of process ``pid`` (clock ticks since boot); "" where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return fields[19] if len(fields) > 19 else ""


def identity(pid: int | None = None) -> str:
    """``host:pid:start`` of process ``pid`` (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def local_pid(ident: str | None) -> int | None:
    """The pid in ``ident`` (an ``identity``) when it names a process of this machine."""
    if not ident:
        return None
    parts = ident.rsplit(":", 2)
    if len(parts) == 2:  # written before start times were recorded
        parts.append("")
    if len(parts) != 3:
        return None
    host, pid, _ = parts
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def alive(ident: str | None) -> bool:
    """Whether ``ident`` names a live process of this machine (the same one: same start)."""
    pid = local_pid(ident)
    if pid is None or not pid_alive(pid):
        return False
    start = ident.rsplit(":", 2)[-1] if ident and ident.count(":") >= 2 else ""
    return not start or start == _start_time(pid)


def gone(ident: str | None) -> bool:
    """Whether ``ident`` names a process of this machine that has exited (or whose pid a
    newer process now holds)."""
    return local_pid(ident) is not None and not alive(ident)


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid is alive (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
