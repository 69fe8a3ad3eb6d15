"""BLAS threads under control: ``with blas_threads(1): ...`` pins every BLAS a run uses.

threadpoolctl limits the thread pools of the libraries *loaded when the limit
is set*. NumPy's BLAS is loaded with NumPy, but SciPy's (a second OpenBLAS in
the SciPy wheels) is loaded only when ``scipy.linalg`` is first imported —
which in orthopt happens inside a solve, after a naive limit was set, so that
BLAS kept all cores. :func:`blas_threads` imports ``scipy.linalg`` first, then
sets the limit, so every BLAS the run can call is pinned.

Why pin at all: on small shared machines multithreaded OpenBLAS is erratic
(the demo's Brockett solve took 12.8 s with SciPy's BLAS on 2 threads next to
one busy process, 0.86 s on one thread); measurements for the RNN sizes are in
``benchmarks/results/blas_threads.json`` (``benchmarks/blas_threads.py``).
Solvers and the ``orthopt rnn`` command use this context manager.
"""

from __future__ import annotations

import contextlib

__all__ = ["blas_threads", "load_blas_libraries"]


def load_blas_libraries():
    """Import the modules that load a BLAS, so that threadpoolctl can see (and limit) them."""
    import numpy  # noqa: F401  (NumPy's own BLAS)
    import scipy.linalg  # noqa: F401  (SciPy wheels ship a second OpenBLAS)


@contextlib.contextmanager
def blas_threads(n):
    """Limit every BLAS (and OpenMP) thread pool to ``n`` threads inside the ``with`` block.

    Parameters
    ----------
    n : int or None
        Threads per BLAS library (≥ 1). None leaves the thread pools as they are.

    Yields
    ------
    threadpoolctl.ThreadpoolController limits, or None when ``n`` is None

    Raises
    ------
    ValueError
        ``n`` is not None and not a positive integer.
    """
    if n is None:
        yield None
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"blas_threads must be a positive integer or None, got {n!r}")
    # every pool, OpenMP included: an OpenMP-threaded BLAS takes its threads from there
    with _controller().limit(limits=n) as limits:
        yield limits


_CONTROLLER = None


def _controller():
    """One threadpoolctl controller for the process, made after SciPy's BLAS is loaded.

    Finding the loaded libraries costs about 2 ms; limiting them through a kept
    controller costs 10 µs, which matters for solvers run thousands of times
    on small problems. A library loaded later than the first call (a second
    BLAS brought in by another package) is not limited.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        load_blas_libraries()
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER
