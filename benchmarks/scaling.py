"""Per-step cost scaling on SO(N): projUNN rank-1 vs exp / Cayley steps vs one Givens rotation.

Measures, with BLAS pinned to one thread (threadpoolctl), the best CPU time
of one step at N = 256 … 4096 and fits the log–log slope:

* projUNN-D and projUNN-T, rank 1, LSI sketch (the whole step from the
  Euclidean gradient: sketch + exact projection), target slope ≤ 2.2, with
  the default ``direction="riemannian"`` (the sketch applies
  Δ = −η U skew(UᴴG) matrix-free: 3 N×N passes per product) and with
  ``direction="euclidean"`` (Δ = −ηG as in the paper: 1 pass per product);
* a Riemannian gradient step with the exp and Cayley retractions
  (projection + retraction), expected slope ≈ 3;
* one Givens rotation of two rows, in place (``rotate_rows_inplace``),
  target slope ≤ 1.2; for reference also the array-API route
  (``apply_givens``, which copies the matrix: O(N²));
* the projUNN rank-1 step at N = 1024 in GEMM units (one N×N product timed in
  the same process), target ≤ 0.5 GEMM.

The O(N³) steps are timed up to ``--max-cubic`` (default 2048: at N = 4096 one
exp step takes minutes on one thread). Usage::

    python benchmarks/scaling.py [--sizes 256 512 1024 2048 4096] [--max-cubic 2048]

Writes benchmarks/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from orthopt.linalg import apply_givens
from orthopt.manifolds import SpecialOrthogonal
from orthopt.optim.coordinate import rotate_rows_inplace
from orthopt.optim.projunn import ProjUNN


def best_time(fn, min_repeats=3, min_total=0.5, max_repeats=300):
    """Fastest CPU time of fn() over repeats (at least min_repeats, ≈ min_total seconds).

    CPU time of this process (``time.process_time``), not wall time: on a
    shared, oversubscribed machine the wall clock also counts the time the
    process waits for a core. With BLAS on one thread the two agree on an idle
    machine. The minimum, because other processes only ever add time
    (through shared caches and memory bandwidth).
    """
    fn()  # warm-up
    times = []
    start = time.process_time()
    while len(times) < max_repeats and (len(times) < min_repeats
                                        or time.process_time() - start < min_total):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return float(np.min(times))


def slope(sizes, times):
    """Least-squares slope of log t against log N."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(times, float))
    return float(np.polyfit(x, y, 1)[0])


def step_functions(n, rng):
    manifold = SpecialOrthogonal(n)
    u = manifold.random_point(rng=rng)
    g = rng.standard_normal((n, n)) / math.sqrt(n)
    lr = 1e-2
    fns = {}
    for variant, direction, name in (("D", "riemannian", "projunn_d_rank1"),
                                     ("T", "riemannian", "projunn_t_rank1"),
                                     ("D", "euclidean", "projunn_d_rank1_euclid"),
                                     ("T", "euclidean", "projunn_t_rank1_euclid")):
        solver = ProjUNN(variant=variant, rank=1, approximation="lsi", direction=direction,
                         lr=lr, manifold=manifold)
        state = solver.init_state(u, rng=0)
        fns[name] = lambda solver=solver, state=state: solver.step(u, g, state)
    for retraction in ("exp", "cayley"):
        m = SpecialOrthogonal(n, retraction=retraction)
        fns[f"{retraction}_step"] = (
            lambda m=m: m.retraction(u, -lr * m.euclidean_to_riemannian_gradient(u, g)))
    work = u.copy()
    c, s = math.cos(1e-3), math.sin(1e-3)
    fns["givens_rotation"] = lambda: rotate_rows_inplace(work, 3, n - 2, c, s)
    cc, ss = np.asarray([c]), np.asarray([s])
    fns["givens_apply_givens_copy"] = lambda: apply_givens(u, [3], [n - 2], cc, ss)
    fns["gemm"] = lambda: u @ g
    return fns


CUBIC = ("exp_step", "cayley_step", "gemm")
TARGETS = {"projunn_d_rank1": 2.2, "projunn_t_rank1": 2.2, "projunn_d_rank1_euclid": 2.2,
           "projunn_t_rank1_euclid": 2.2, "givens_rotation": 1.2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--max-cubic", type=int, default=2048)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scaling.json"))
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    timings = {}
    gemm_units = {}
    with threadpool_limits(1):
        for n in args.sizes:
            fns = step_functions(n, rng)
            for name, fn in fns.items():
                if name in CUBIC and n > args.max_cubic:
                    continue
                timings.setdefault(name, {})[n] = best_time(fn)
            if "gemm" in timings and n in timings["gemm"]:
                gemm_units[n] = {name: t[n] / timings["gemm"][n]
                                 for name, t in timings.items() if n in t}
            print(f"N = {n}: " + ", ".join(f"{k} {v[n] * 1e3:.3g} ms"
                                           for k, v in timings.items() if n in v), flush=True)

    slopes = {name: slope(list(t), list(t.values())) for name, t in timings.items()}
    print()
    header = f"{'step':28s}" + "".join(f"{n:>11d}" for n in args.sizes) + "   slope  target"
    print(header)
    print("-" * len(header))
    for name, t in timings.items():
        row = f"{name:28s}" + "".join(
            f"{t[n] * 1e3:9.3g}ms" if n in t else f"{'—':>11s}" for n in args.sizes)
        target = TARGETS.get(name)
        print(row + f"  {slopes[name]:6.2f}  " + (f"≤ {target}" if target else ""))
    print()
    if 1024 in gemm_units:
        print("at N = 1024, in GEMM units (one 1024×1024 product = 1):")
        for name, v in gemm_units[1024].items():
            print(f"  {name:28s} {v:8.3f}" + ("   target ≤ 0.5" if "projunn" in name else ""))

    result = {
        "benchmark": "scaling",
        "machine": platform.platform(),
        "processor": platform.processor(),
        "blas_threads": 1,
        "sizes": args.sizes,
        "max_cubic": args.max_cubic,
        "seconds": {k: {str(n): t for n, t in v.items()} for k, v in timings.items()},
        "slopes": slopes,
        "targets": TARGETS,
        "gemm_units": {str(n): v for n, v in gemm_units.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
