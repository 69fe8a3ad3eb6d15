"""Retraction cost in units of one matrix product of the same size.

Two settings (issue 2, DESIGN.md "Retractions"):

* square, SO(n) with n = 1024: time of ``M.retraction(x, v)`` divided by one
  n×n GEMM ``a @ b``. Targets: qr ≤ 2, cayley ≤ 2.5, polar ≤ 4, exp ≤ 5,
  givens (full sweep) ≤ 3.
* tall, St(n, p) with n = 8192, p = 64: divided by one XᵀY product (n×p by
  n×p, a p×p result). Targets: qr ≤ 4, polar ≤ 4, cayley ≤ 8, exp ≤ 8
  (givens: measured, no target).

Each retraction is timed for two tangent steps, ‖v‖_F = 0.01 and 1: the polar
retraction takes the Newton–Schulz route for short steps and an eigh of the
Gram matrix for long ones. For the diagnosis the script also times the LAPACK
building blocks (Cholesky, LU solve, triangular solve, eigh, QR, expm) in the
same unit.

All timings: float64, one process, BLAS pinned to one thread with
threadpoolctl. Each run is paired with a GEMM timed just before it, and the
median of the ``--repeats`` ratios is reported: robust to load that drifts
on a shared machine. The load average is recorded in the JSON.

Usage::

    python benchmarks/retractions.py                 # full sizes
    python benchmarks/retractions.py --quick         # n = 256, tall 2048 × 16
    python benchmarks/retractions.py --profile-givens

Writes ``benchmarks/results/retractions.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import statistics
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg
from threadpoolctl import threadpool_info, threadpool_limits

from orthopt.manifolds import SpecialOrthogonal, Stiefel

RETRACTIONS = ("qr", "cayley", "polar", "exp", "givens")
SQUARE_TARGETS = {"qr": 2.0, "cayley": 2.5, "polar": 4.0, "exp": 5.0, "givens": 3.0}
TALL_TARGETS = {"qr": 4.0, "polar": 4.0, "cayley": 8.0, "exp": 8.0, "givens": None}
STEPS = (0.01, 1.0)


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs (after ``warmup`` runs)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_ratio(fn, unit_fn, repeats, warmup=1):
    """Median of time(fn)/time(unit) with the unit timed right before each run.

    Pairing makes the ratio robust to load that drifts during the benchmark
    (these machines are shared): both numbers of a pair see the same load.
    Returns (median ratio, median seconds of fn, last result of fn).
    """
    for _ in range(warmup):
        fn()
    ratios, times, out = [], [], None
    for _ in range(repeats):
        unit = median_time(unit_fn, 3, warmup=0)
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        ratios.append(elapsed / unit)
    return statistics.median(ratios), statistics.median(times), out


def scaled_tangent(M, x, norm, rng):
    v = M.random_tangent_vector(x, rng=rng)
    return v * (norm / float(np.linalg.norm(v)))


def measure_retractions(make, x, unit_fn, repeats, givens_repeats, rng, targets):
    rows = []
    for name in RETRACTIONS:
        M = make(name)
        for step in STEPS:
            v = scaled_tangent(M, x, step, rng)
            slow = name == "givens"
            reps = givens_repeats if slow else repeats
            ratio, seconds, y = paired_ratio(lambda: M.retraction(x, v), unit_fn, reps,
                                             warmup=0 if slow else 1)
            feas = float(np.linalg.norm(y.T @ y - np.eye(y.shape[1])))
            target = targets[name]
            rows.append({
                "retraction": name, "step_norm": step, "seconds": seconds, "ratio": ratio,
                "target": target, "passed": None if target is None else bool(ratio <= target),
                "feasibility": feas, "repeats": reps,
            })
    return rows


def blocks_in_units(kernels, unit_fn, repeats):
    return {name: paired_ratio(fn, unit_fn, repeats)[0] for name, fn in kernels.items()}


def building_blocks_square(n, unit, repeats, rng):
    # unit: a callable timing one GEMM
    """LAPACK kernels on n×n matrices in GEMM units (what the retractions are made of)."""
    a = rng.standard_normal((n, n))
    spd = a.T @ a + n * np.eye(n)
    skew = (a - a.T) / (2 * math.sqrt(n))
    lower = np.linalg.cholesky(spd)
    kernels = {
        "cholesky (potrf)": lambda: scipy.linalg.cholesky(spd, lower=True, check_finite=False),
        "triangular solve n×n (trsm)": lambda: scipy.linalg.solve_triangular(
            lower, a, lower=True, check_finite=False),
        "LU solve n×n rhs (gesv)": lambda: np.linalg.solve(spd, a),
        "eigh (syevd)": lambda: np.linalg.eigh(spd),
        "QR (geqrf+orgqr)": lambda: np.linalg.qr(a),
        "expm (scipy)": lambda: scipy.linalg.expm(skew),
        "aᵀa (numpy calls syrk: half the flops)": lambda: a.T @ a,
    }
    return blocks_in_units(kernels, unit, repeats)


def building_blocks_tall(n, p, unit, repeats, rng):
    """The same kernels at the sizes the tall retractions use (p×p, 2p×2p, n×p)."""
    x = rng.standard_normal((n, p))
    b = rng.standard_normal((p, p))
    spd = b.T @ b + p * np.eye(p)
    lower = np.linalg.cholesky(spd)
    skew2 = rng.standard_normal((2 * p, 2 * p)) / (2 * p)
    kernels = {
        "cholesky p×p": lambda: scipy.linalg.cholesky(spd, lower=True, check_finite=False),
        "trsm p×p \\ p×n": lambda: scipy.linalg.solve_triangular(
            lower, x.T, lower=True, check_finite=False),
        "eigh p×p": lambda: np.linalg.eigh(spd),
        "expm 2p×2p": lambda: scipy.linalg.expm(skew2 - skew2.T),
        "QR n×p": lambda: np.linalg.qr(x),
        "x @ (p×p) (n×p result)": lambda: x @ b,
        "x + y (n×p, memory bound)": lambda: x + x,
    }
    return blocks_in_units(kernels, unit, repeats)


def profile_givens(M, x, v, top=12):
    profiler = cProfile.Profile()
    profiler.enable()
    M.retraction(x, v)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return stream.getvalue()


def print_table(title, unit_name, unit, rows):
    print(f"\n{title}   (1 unit = {unit_name} = {unit * 1e3:.2f} ms)")
    print(f"{'retraction':<10} {'‖v‖':>5} {'ms':>10} {'units':>9} {'target':>7}  "
          f"{'verdict':<7} {'‖YᵀY−I‖':>9}")
    for r in rows:
        target = "—" if r["target"] is None else f"≤ {r['target']:g}"
        verdict = "—" if r["passed"] is None else ("pass" if r["passed"] else "MISS")
        print(f"{r['retraction']:<10} {r['step_norm']:>5g} {r['seconds'] * 1e3:>10.2f} "
              f"{r['ratio']:>9.2f} {target:>7}  {verdict:<7} {r['feasibility']:>9.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="size of the square case")
    parser.add_argument("--tall-n", type=int, default=8192)
    parser.add_argument("--tall-p", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--givens-repeats", type=int, default=1,
                        help="repeats for the (slow) full Givens sweep")
    parser.add_argument("--quick", action="store_true", help="n = 256, tall 2048 × 16")
    parser.add_argument("--profile-givens", action="store_true")
    parser.add_argument("--output",
                        default=str(Path(__file__).parent / "results" / "retractions.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.tall_n, args.tall_p = 256, 2048, 16

    rng = np.random.default_rng(0)
    result = {"config": vars(args), "python": platform.python_version(),
              "numpy": np.__version__, "scipy": scipy.__version__}
    with threadpool_limits(1):
        result["load_average_before"] = list(os.getloadavg())
        result["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                          for i in threadpool_info()]
        n = args.n
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        def gemm_fn():
            return a @ b

        gemm = median_time(gemm_fn, args.repeats)
        x = SpecialOrthogonal(n).random_point(rng=rng)
        rows = measure_retractions(lambda r: SpecialOrthogonal(n, retraction=r), x, gemm_fn,
                                   args.repeats, args.givens_repeats, rng, SQUARE_TARGETS)
        blocks = building_blocks_square(n, gemm_fn, args.repeats, rng)
        result["square"] = {"n": n, "gemm_seconds": gemm, "rows": rows, "building_blocks": blocks}
        print_table(f"SO({n}): retraction time in GEMM units", f"one {n}×{n} GEMM", gemm, rows)
        print(f"\nLAPACK building blocks at n = {n}, in GEMM units:")
        for name, ratio in blocks.items():
            print(f"  {name:<30} {ratio:7.2f}")

        tn, tp = args.tall_n, args.tall_p
        xt = Stiefel(tn, tp).random_point(rng=rng)
        yt = rng.standard_normal((tn, tp))
        def xty_fn():
            return xt.T @ yt

        xty = median_time(xty_fn, args.repeats)
        rows_t = measure_retractions(lambda r: Stiefel(tn, tp, retraction=r), xt, xty_fn,
                                     args.repeats, args.givens_repeats, rng, TALL_TARGETS)
        blocks_t = building_blocks_tall(tn, tp, xty_fn, args.repeats, rng)
        result["tall"] = {"n": tn, "p": tp, "xty_seconds": xty, "rows": rows_t,
                          "building_blocks": blocks_t}
        print_table(f"St({tn}, {tp}): retraction time in XᵀY units", f"one ({tn}×{tp})ᵀ({tn}×{tp})",
                    xty, rows_t)
        print(f"\nbuilding blocks at n = {tn}, p = {tp}, in XᵀY units:")
        for name, ratio in blocks_t.items():
            print(f"  {name:<30} {ratio:7.2f}")

        if args.profile_givens:
            M = SpecialOrthogonal(n, retraction="givens")
            v = scaled_tangent(M, x, 1.0, rng)
            text = profile_givens(M, x, v)
            result["givens_profile"] = text
            print(f"\nprofile of one full Givens sweep on SO({n}):\n{text}")

    misses = [f"{case}:{r['retraction']}@{r['step_norm']:g} ({r['ratio']:.2f} > {r['target']:g})"
              for case in ("square", "tall") for r in result[case]["rows"]
              if r["passed"] is False]
    result["misses"] = misses
    result["load_average_after"] = list(os.getloadavg())
    print(f"load average before/after: {result['load_average_before']} / "
          f"{result['load_average_after']}")
    print("\ntargets missed:", ", ".join(misses) if misses else "none")
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
