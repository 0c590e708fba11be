"""The process's share of the machine: TensorFlow threads per worker, resident memory."""

from __future__ import annotations

import os


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
    """Divide the cores between workers: each TensorFlow process gets its share of threads."""
    import tensorflow as tf

    cores = os.cpu_count() or 1
    per_worker = max(1, cores // max(1, n_workers))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(per_worker)
        tf.config.threading.set_inter_op_parallelism_threads(1 if n_workers > 1 else 0)
    except RuntimeError:  # already initialised in this process: keep what it has
        pass
