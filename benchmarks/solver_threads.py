"""BLAS threads in a solver run: one thread against two, the same run in one process.

Conjugate gradients on Brockett tr(XᵀAXN) for a fixed number of iterations,
at the sizes of the problems orthopt's users solve, timed with BLAS limited
to 1 and to 2 threads (threadpoolctl, SciPy's BLAS loaded first), interleaved,
best of 3. The ratio (2 threads / 1 thread) sets the solvers' default
``blas_threads``: one thread wherever two lose.

Usage::

    python benchmarks/solver_threads.py

Writes ``benchmarks/results/solver_threads.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

import orthopt
from orthopt._threads import blas_threads
from orthopt.optim import MaxIterations, Problem, RiemannianConjugateGradient

SIZES = [(50, 5, 100), (200, 10, 100), (1000, 10, 30), (500, 500, 10)]


def brockett(n, p):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    a = a + a.T
    w = np.arange(p, 0, -1.0)
    manifold = orthopt.Stiefel(n, p) if p < n else orthopt.SpecialOrthogonal(n, retraction="qr")
    problem = Problem(manifold, lambda x: float(np.sum(x * (a @ x) * w)),
                      euclidean_gradient=lambda x: 2 * (a @ x) * w)
    return problem, manifold.random_point(rng=1)


def main():
    rows = []
    print(f"{'problem':>16} {'iters':>6} {'1 thread [s]':>13} {'2 threads [s]':>14} {'2/1':>7}")
    for n, p, iterations in SIZES:
        problem, x0 = brockett(n, p)
        times = {1: [], 2: []}
        for _ in range(3):
            for threads in (1, 2):
                solver = RiemannianConjugateGradient(stopping=MaxIterations(iterations),
                                                     blas_threads=threads)
                start = time.perf_counter()
                solver.run(problem, x0)
                times[threads].append(time.perf_counter() - start)
        one, two = min(times[1]), min(times[2])
        rows.append({"n": n, "p": p, "iterations": iterations, "one_thread": one,
                     "two_threads": two, "ratio": two / one})
        print(f"{f'St({n}, {p})':>16} {iterations:>6} {one:>13.3f} {two:>14.3f} {two / one:>7.2f}")
    out = Path(__file__).parent / "results" / "solver_threads.json"
    out.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count(),
                               "loadavg": os.getloadavg()}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
