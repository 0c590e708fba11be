"""One BLAS thread while the solvers step: their matrices are small, and OpenBLAS's threads cost
more than they save (measured at 96 x 72 modes on 2 busy cores: 63 ms a step with threads, 10 ms
without).

The dataset's worker processes get OMP_NUM_THREADS=1 before numpy loads; inside a running process
(tests, `hpo.data simulate`) threadpoolctl limits the BLAS that numpy loaded, and restores it after.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits


def one_blas_thread() -> threadpool_limits:
    """A context manager: its body runs with one BLAS thread, then the previous counts return."""
    return threadpool_limits(limits=1, user_api="blas")
