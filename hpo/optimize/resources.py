"""The process's share of the machine: threads per worker (hpo.backend sets them for its backend),
resident memory."""

from __future__ import annotations

import os

from hpo import backend


def resident_mib() -> float:
    """This process's resident memory (Linux), for the progress lines; NaN elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def configure_threads(n_workers: int) -> None:
    """Divide the cores between workers: each process gets its share of threads, and with more
    than one worker the GPU is shared too (memory taken as needed, not up front)."""
    cores = os.cpu_count() or 1
    per_worker = max(1, cores // max(1, n_workers))
    backend.set_threads(per_worker, shared=n_workers > 1)
