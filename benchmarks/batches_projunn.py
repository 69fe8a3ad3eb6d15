"""Batched projUNN against a loop of single projUNN solves (issue 14, item 3).

k Wahba / orthogonal Procrustes problems on SO(8), f_i(R) = −⟨R, B_i⟩, with
the SVD optimum f* = −(s₁ + … + s₇ + det(UVᵀ) s₈), solved by
``minimize(..., method="projunn-t" | "projunn-d", batched=True)`` with the
default options (rank 1, randomized subspace iteration, Armijo) and
``gradient_tolerance=1e-9``; against it a Python loop of the single-problem
solve with the same options, timed on ``--sample`` problems and scaled to the
batch. BLAS on one thread; times are CPU time of this process
(``time.process_time``), as in ``benchmarks/batches.py``. Reported: the
ratio loop/batch, iterations (median), and the worst relative error of the
batch against f*.

Usage::

    PYTHONPATH=. python benchmarks/batches_projunn.py [--k 1000] [--n 8] [--sample 50]

Writes benchmarks/results/batches_projunn.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import orthopt
from orthopt.manifolds import SpecialOrthogonal

RESULTS = Path(__file__).parent / "results" / "batches_projunn.json"
OPTIONS = {"gradient_tolerance": 1e-9}


def wahba_cost(x, b):
    return -np.sum(x * b, axis=(-2, -1))


def wahba_gradient(x, b):
    return -b


def optimum(b):
    """−(s₁ + … + s_{n−1} + det(UVᵀ) s_n) per problem (the SO(n) Procrustes optimum)."""
    s = np.linalg.svd(b, compute_uv=False)
    s[:, -1] *= np.sign(np.linalg.det(b))
    return -s.sum(axis=-1)


def measure(method, x0, b, sample):
    manifold = SpecialOrthogonal(b.shape[-1])
    start = time.process_time()
    res = orthopt.minimize(wahba_cost, x0, method=method, manifold=manifold, batched=True,
                           args=(b,), jac=wahba_gradient, rng=0, options=OPTIONS)
    batch = time.process_time() - start
    start = time.process_time()
    for i in range(sample):
        orthopt.minimize(lambda x, m=b[i]: wahba_cost(x, m), x0[i], method=method,
                         manifold=manifold, jac=lambda x, m=b[i]: wahba_gradient(x, m), rng=0,
                         options=OPTIONS)
    loop = (time.process_time() - start) * len(b) / sample
    f_star = optimum(b)
    return {
        "batch_cpu_s": batch, "loop_cpu_s_scaled": loop, "ratio": loop / batch,
        "median_nit": float(np.median(res.nit)), "max_nit": int(res.nit.max()),
        "worst_relative_error": float(np.max(np.abs(res.fun - f_star) / np.abs(f_star))),
        "success": int(res.success.sum()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--sample", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    b = rng.standard_normal((args.k, args.n, args.n))
    x0 = SpecialOrthogonal(args.n).random_point(rng=1, shape=(args.k,))
    results = {"k": args.k, "n": args.n, "sample": args.sample, "options": OPTIONS,
               "machine": platform.platform(), "methods": {}}
    with threadpool_limits(1):
        orthopt.minimize(wahba_cost, x0[:5], method="projunn-t", batched=True, args=(b[:5],),
                         jac=wahba_gradient)  # warm-up: imports
        for method in ("projunn-t", "projunn-d"):
            row = measure(method, x0, b, args.sample)
            results["methods"][method] = row
            print(f"{method}: batch {row['batch_cpu_s']:.2f} s, loop "
                  f"{row['loop_cpu_s_scaled']:.2f} s (scaled from {args.sample}), ratio "
                  f"{row['ratio']:.1f}×, median nit {row['median_nit']:.0f}, worst rel. error "
                  f"{row['worst_relative_error']:.1e}, success {row['success']}/{args.k}")
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
