"""Many independent problems at once: batched solves against loops of single solves.

Three measurements (issue 14, item 5), BLAS pinned to one thread (threadpoolctl;
the workers of the cluster too, through ``blas_threads=1``), every ratio taken
in this one process. Times in this process are its CPU time
(``time.process_time``): with BLAS on one thread that is the work done, and
other processes on a shared machine (which moved wall times of the same run
by 1.5× between runs here) leave it alone. The cluster's throughput is wall
time (its workers are other processes).

1. **10 000 Wahba / orthogonal Procrustes problems on SO(3)**: f_i(R) = −⟨R, B_i⟩
   (the least-squares rotation between two point sets reduces to it), with
   the SVD optimum R* = U diag(1, 1, det UVᵀ) Vᵀ, f* = −(s₁ + s₂ + det(UVᵀ) s₃).
   Target: every problem within 1e-10 relative of its optimum. The batch time
   is the best of three runs after a warm-up solve of 10 problems (the first
   call in a process pays imports; the loops below amortize theirs). The batch runs
   ``minimize(..., method="trust-regions", batched=True)`` with the hand
   gradient and Hessian (and, for reference, ``"rgd-bb"``); against it
   * a Python loop of pymanopt's TrustRegions (hand gradient and Hessian),
     timed on ``--pymanopt-sample`` problems and scaled to the batch: target ≥ 100×
     (against the batched trust regions);
   * a Python loop of orthopt's own single-problem solve (same method,
     options and retraction), timed on ``--single-sample`` problems and
     scaled: target ≥ 20×.
2. **1 000 dominant subspaces on St(50, 5)**: f_i(X) = −tr(XᵀA_iX), A_i a
   Wishart matrix, optimum −(sum of the 5 largest eigenvalues) from ``eigh``;
   batched "rgd-bb", "cg" and "trust-regions" against orthopt's single-problem loops (scaled from
   a sample).
3. **One million SO(3) Wahba problems on a two-worker dask LocalCluster**
   (batched trust regions)
   (``LocalCluster(n_workers=2, threads_per_worker=1)``), data generated on
   the workers, chunked along the batch axis: throughput in problems per
   second, and the worst relative error.

Usage::

    PYTHONPATH=. python benchmarks/batches.py [--wahba 10000] [--pymanopt-sample 200]
        [--single-sample 300] [--stiefel 1000] [--million 1000000] [--chunk 50000]
        [--skip-cluster]

Prints a table and writes benchmarks/results/batches.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import orthopt
from orthopt.manifolds import SpecialOrthogonal, Stiefel

RESULTS = Path(__file__).parent / "results" / "batches.json"
WAHBA_OPTIONS = {"gradient_tolerance": 1e-9}
STIEFEL_OPTIONS = {"gradient_tolerance": 1e-8}
RETRACTION = "cayley"
BATCH_REPEATS = 3


# -- problems (module level: the cluster's workers receive them by value) -----------------

def wahba_cost(x, b):
    """f_i(R_i) = −⟨R_i, B_i⟩, shape (k,)."""
    return -np.sum(x * b, axis=(-2, -1))


def wahba_gradient(x, b):
    return -b


def wahba_optimum(b):
    """f* = −(s₁ + s₂ + det(UVᵀ) s₃) per problem (the SVD solution on SO(3))."""
    u, s, vt = np.linalg.svd(b)
    det = np.sign(np.linalg.det(u @ vt))
    return -(s[..., 0] + s[..., 1] + det * s[..., 2])


def subspace_cost(x, a):
    """f_i(X_i) = −tr(X_iᵀ A_i X_i), shape (k,)."""
    return -np.sum(x * (a @ x), axis=(-2, -1))


def subspace_gradient(x, a):
    return -2.0 * (a @ x)


def subspace_hessian(x, v, a):
    return -2.0 * (a @ v)


def relative_error(fun, optimum):
    return np.abs(fun - optimum) / np.abs(optimum)


# -- 1. Wahba on SO(3) ----------------------------------------------------------------------

def wahba_hessian(x, v, b):
    return 0.0 * v  # a linear cost: the Riemannian Hessian is the Weingarten term alone


def wahba(k, pymanopt_sample, single_sample):
    rng = np.random.default_rng(0)
    b = rng.standard_normal((k, 3, 3))
    manifold = SpecialOrthogonal(3, retraction=RETRACTION)
    x0 = manifold.random_point(rng=1, shape=(k,))
    optimum = wahba_optimum(b)
    rows = {}
    for method, sample in (("trust-regions", single_sample), ("rgd-bb", single_sample // 3)):
        hess = wahba_hessian if method == "trust-regions" else None

        def solve(rows):
            return orthopt.minimize(wahba_cost, x0[rows], method=method, jac=wahba_gradient,
                                    hess=hess, manifold=manifold, batched=True,
                                    args=(b[rows],), options=WAHBA_OPTIONS)

        # the first call of a method in a process pays one-time costs (imports, first
        # calls into NumPy's kernels) that a loop amortizes: warm up on 10 problems,
        # then the best of BATCH_REPEATS runs, as timeit does
        start = time.process_time()
        solve(slice(0, 10))
        warm_up_time = time.process_time() - start
        times = []
        for _ in range(BATCH_REPEATS):
            start = time.process_time()
            res = solve(slice(None))
            times.append(time.process_time() - start)
        batched_time = min(times)
        error = relative_error(res.fun, optimum)
        start = time.process_time()
        single_errors = []
        for i in range(sample):
            one = orthopt.minimize(wahba_cost, x0[i], method=method, jac=wahba_gradient,
                                   hess=hess, manifold=manifold, args=(b[i],),
                                   options=WAHBA_OPTIONS)
            single_errors.append(relative_error(one.fun, optimum[i]))
        single_time = (time.process_time() - start) / sample * k
        rows[method] = {
            "batched_time": batched_time, "batched_times": times,
            "warm_up_time_10_problems": warm_up_time,
            "max_relative_error": float(error.max()),
            "all_within_1e-10": bool((error <= 1e-10).all()),
            "statuses": {str(s): int(c) for s, c in zip(*np.unique(res.status,
                                                                    return_counts=True))},
            "iterations_median": float(np.median(res.nit)),
            "iterations_max": int(res.nit.max()),
            "single_sample": sample, "single_loop_time_scaled": single_time,
            "single_max_relative_error": float(np.max(single_errors)),
            "speedup_vs_single_loop": single_time / batched_time,
        }
    pymanopt_time, pymanopt_error = pymanopt_loop(b[:pymanopt_sample], x0, optimum)
    pymanopt_time *= k / pymanopt_sample
    best = rows["trust-regions"]
    return {
        "problems": k, "retraction": RETRACTION, "options": WAHBA_OPTIONS, "methods": rows,
        "pymanopt_sample": pymanopt_sample, "pymanopt_loop_time_scaled": pymanopt_time,
        "pymanopt_max_relative_error": pymanopt_error,
        "speedup_vs_pymanopt": pymanopt_time / best["batched_time"],
        "speedup_vs_single_loop": best["speedup_vs_single_loop"],
    }


def pymanopt_loop(b, x0, optimum):
    """A loop of pymanopt TrustRegions solves (NumPy backend, hand gradient and Hessian)."""
    import pymanopt
    from pymanopt.optimizers import TrustRegions

    errors = []
    start = time.process_time()
    for i, bi in enumerate(b):
        manifold = pymanopt.manifolds.SpecialOrthogonalGroup(3)
        cost = pymanopt.function.numpy(manifold)(lambda x, bi=bi: -np.sum(x * bi))
        grad = pymanopt.function.numpy(manifold)(lambda x, bi=bi: -bi)
        hess = pymanopt.function.numpy(manifold)(lambda x, v: np.zeros_like(v))
        problem = pymanopt.Problem(manifold, cost, euclidean_gradient=grad,
                                   euclidean_hessian=hess)
        optimizer = TrustRegions(min_gradient_norm=WAHBA_OPTIONS["gradient_tolerance"],
                                 verbosity=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = optimizer.run(problem, initial_point=x0[i].copy())
        errors.append(relative_error(result.cost, optimum[i]))
    return time.process_time() - start, float(np.max(errors))


# -- 2. dominant subspaces on St(50, 5) -----------------------------------------------------

def subspaces(k, single_sample, n=50, p=5):
    rng = np.random.default_rng(2)
    g = rng.standard_normal((k, n, 2 * n))
    a = g @ np.swapaxes(g, -1, -2) / (2 * n)
    optimum = -np.linalg.eigvalsh(a)[:, -p:].sum(axis=-1)
    manifold = Stiefel(n, p, retraction=RETRACTION)
    x0 = manifold.random_point(rng=3, shape=(k,))
    rows = {}
    for method in ("rgd-bb", "cg", "trust-regions"):
        hess = subspace_hessian if method == "trust-regions" else None
        start = time.process_time()
        res = orthopt.minimize(subspace_cost, x0, method=method, jac=subspace_gradient,
                               hess=hess, manifold=manifold, batched=True, args=(a,),
                               options=STIEFEL_OPTIONS)
        batched_time = time.process_time() - start
        start = time.process_time()
        for i in range(single_sample):
            orthopt.minimize(subspace_cost, x0[i], method=method, jac=subspace_gradient,
                             hess=hess, manifold=manifold, args=(a[i],),
                             options=STIEFEL_OPTIONS)
        single_time = (time.process_time() - start) / single_sample * k
        error = relative_error(res.fun, optimum)
        rows[method] = {
            "problems": k, "n": n, "p": p, "options": STIEFEL_OPTIONS,
            "batched_time": batched_time, "max_relative_error": float(error.max()),
            "statuses": {str(s): int(c) for s, c in zip(*np.unique(res.status,
                                                                    return_counts=True))},
            "iterations_median": float(np.median(res.nit)),
            "iterations_max": int(res.nit.max()),
            "single_sample": single_sample, "single_loop_time_scaled": single_time,
            "speedup_vs_single_loop": single_time / batched_time,
        }
    return rows


# -- 3. a million problems on a two-worker cluster --------------------------------------------

def _block_b(block_info=None):
    info = block_info[None]
    seed = 1000 + info["chunk-location"][0]
    return np.random.default_rng(seed).standard_normal(info["chunk-shape"])


def _block_x0(block_info=None):
    info = block_info[None]
    return SpecialOrthogonal(3, retraction=RETRACTION).random_point(
        rng=2000 + info["chunk-location"][0], shape=info["chunk-shape"][:1])


def cluster(k, chunk):
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    chunks = (chunk,) * (k // chunk) + ((k % chunk,) if k % chunk else ())
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as lc, \
            Client(lc):
        b = da.map_blocks(_block_b, chunks=(chunks, (3,), (3,)), dtype=float)
        x0 = da.map_blocks(_block_x0, chunks=(chunks, (3,), (3,)), dtype=float)
        start = time.perf_counter()
        res = orthopt.minimize(wahba_cost, x0, method="trust-regions", jac=wahba_gradient,
                               hess=wahba_hessian,
                               manifold=SpecialOrthogonal(3, retraction=RETRACTION),
                               batched=True, args=(b,),
                               options=dict(WAHBA_OPTIONS, blas_threads=1))
        optimum = b.map_blocks(wahba_optimum, drop_axis=[1, 2], dtype=float)
        error = relative_error(res.fun, optimum)
        worst, converged, nit_max = dask.compute(error.max(), res.success.sum(), res.nit.max())
        elapsed = time.perf_counter() - start
    return {"problems": k, "chunk": chunk, "workers": 2, "threads_per_worker": 1,
            "time": elapsed, "problems_per_second": k / elapsed,
            "max_relative_error": float(worst), "converged": int(converged),
            "iterations_max": int(nit_max)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wahba", type=int, default=10_000)
    parser.add_argument("--pymanopt-sample", type=int, default=200)
    parser.add_argument("--single-sample", type=int, default=300)
    parser.add_argument("--stiefel", type=int, default=1000)
    parser.add_argument("--stiefel-sample", type=int, default=50)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    results = {"machine": platform.platform(), "python": platform.python_version(),
               "numpy": np.__version__, "blas_threads": 1}
    with threadpool_limits(limits=1, user_api="blas"):
        results["wahba_so3"] = wahba(args.wahba, args.pymanopt_sample, args.single_sample)
        results["subspaces_st50_5"] = subspaces(args.stiefel, args.stiefel_sample)
    if not args.skip_cluster:
        results["cluster_so3"] = cluster(args.million, args.chunk)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {RESULTS}")


def table(results):
    w = results["wahba_so3"]
    lines = ["| problems | batched | max rel. error | loop of single solves (scaled) | speed-up |",
             "|---|---|---|---|---|"]
    for method, r in w["methods"].items():
        lines.append(f"| {w['problems']:,} × Wahba SO(3), {method} | {r['batched_time']:.2f} s | "
                     f"{r['max_relative_error']:.1e} | orthopt {method}: "
                     f"{r['single_loop_time_scaled']:.0f} s (from {r['single_sample']}) | "
                     f"{r['speedup_vs_single_loop']:.0f}× |")
    lines.append(f"| | | | pymanopt TrustRegions: {w['pymanopt_loop_time_scaled']:.0f} s "
                 f"(from {w['pymanopt_sample']}) | **{w['speedup_vs_pymanopt']:.0f}×** against "
                 f"batched trust-regions (target ≥ 100×) |")
    for method, s in results["subspaces_st50_5"].items():
        lines.append(f"| {s['problems']:,} × dominant subspace St({s['n']}, {s['p']}), {method} "
                     f"| {s['batched_time']:.2f} s | {s['max_relative_error']:.1e} | orthopt: "
                     f"{s['single_loop_time_scaled']:.0f} s (from {s['single_sample']}) | "
                     f"{s['speedup_vs_single_loop']:.0f}× |")
    if "cluster_so3" in results:
        c = results["cluster_so3"]
        lines.append(f"| {c['problems']:,} × Wahba SO(3), trust-regions, 2-worker LocalCluster | "
                     f"{c['time']:.1f} s | {c['max_relative_error']:.1e} | "
                     f"**{c['problems_per_second']:,.0f} problems/s** | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
