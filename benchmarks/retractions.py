"""Retraction cost in units of one matrix product of the same size.

Three settings (issues 2 and 16, DESIGN.md "Retractions"):

* square, SO(n) with n = 1024: time of ``M.retraction(x, v)`` divided by one
  n×n GEMM ``a @ b``. Targets (issue 16): qr ≤ 2.5, cayley ≤ 3.5, polar ≤ 4,
  exp ≤ 5, givens (full sweep) ≤ 4.
* tall, St(n, p) with n = 8192, p = 64: divided by one XᵀY product (n×p by
  n×p, a p×p result). Targets: qr ≤ 4, polar ≤ 4, cayley ≤ 8, exp ≤ 8
  (givens: measured, no target).
* batched, 10 000 points of SO(3) and of SO(8), each with its own tangent
  vector: divided by one batched product ``a @ b`` of shape (10000, n, n).
  Target: every retraction ≤ 10. The exponential kernel is also compared with
  ``scipy.linalg.expm`` and ``torch.linalg.matrix_exp`` (one thread) on the
  same generators: target ≥ 5× faster than both.

Each retraction is timed for two tangent steps, ‖v‖_F = 0.1 (the issue's
case; per point in the batched setting) and 1. For the diagnosis the script
also times the LAPACK building blocks (Cholesky, LU solve, triangular solve,
eigh, QR, expm) in the same unit.

All timings: float64, one process, BLAS pinned to one thread with
threadpoolctl, measured as the CPU time of the thread (``time.thread_time``).
Each run is paired with a GEMM timed just before it, and the
median of the ``--repeats`` ratios is reported: robust to load that drifts
on a shared machine. The load average is recorded in the JSON.

Usage::

    python benchmarks/retractions.py                 # full sizes
    python benchmarks/retractions.py --quick         # n = 256, tall 2048 × 16
    python benchmarks/retractions.py --profile-givens
    python benchmarks/retractions.py --only batched  # one setting

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

from orthopt.expm import expm_skew
from orthopt.linalg import qr_positive
from orthopt.linalg import skew as skew_part
from orthopt.manifolds import SpecialOrthogonal, Stiefel

RETRACTIONS = ("qr", "cayley", "polar", "exp", "givens")
SQUARE_TARGETS = {"qr": 2.5, "cayley": 3.5, "polar": 4.0, "exp": 5.0, "givens": 4.0}
TALL_TARGETS = {"qr": 4.0, "polar": 4.0, "cayley": 8.0, "exp": 8.0, "givens": None}
BATCH_TARGETS = {name: 10.0 for name in RETRACTIONS}
BATCH_SPEEDUP_TARGET = 5.0
STEPS = (0.1, 1.0)


def pin_allocator():
    """Keep freed memory in the process (glibc only); returns what was set.

    By default glibc hands every freed block of ≥ 128 KiB back to the kernel
    and page-faults it in again on the next allocation. The stacks of the
    batched setting (10 000 × 8 × 8 doubles = 5 MB per temporary) then pay
    one fault per 4 KiB page, and how many depends on the allocation history
    of the process: the same kernel measured 4 and 7 units in two runs.
    Raising the mmap and trim thresholds removes that noise for every kernel
    timed here alike (orthopt, SciPy, PyTorch and the unit product).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or not name:
        return None
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = (libc.mallopt(m_mmap_threshold, 1 << 30) == 1
          and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1)
    return {"M_MMAP_THRESHOLD": 1 << 30, "M_TRIM_THRESHOLD": (1 << 31) - 1} if ok else None


def clock():
    """CPU time of the calling thread.

    Every timed kernel runs in this thread (BLAS pinned to one thread, PyTorch
    set to one thread), so its CPU time is its cost. Unlike wall time it does
    not count the time the thread waits for a core: on these shared 2-core
    machines the load average reaches 10 and wall-clock ratios of
    millisecond kernels scatter by factors of 2–5.
    """
    return time.thread_time()


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs (after ``warmup`` runs)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
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
        start = clock()
        out = fn()
        elapsed = clock() - start
        times.append(elapsed)
        ratios.append(elapsed / unit)
    return statistics.median(ratios), statistics.median(times), out


def scaled_tangent(M, x, norm, rng):
    v = M.random_tangent_vector(x, rng=rng)
    return v * (norm / float(np.linalg.norm(v)))


def batch_tangent(M, x, norm, rng):
    """One tangent vector xΩ per point of the stack x, each of Frobenius norm ``norm``."""
    v = x @ skew_part(rng.standard_normal(x.shape))
    return v * (norm / np.linalg.norm(v, axis=(-2, -1), keepdims=True))


def feasibility_of(y):
    """Largest ‖YᴴY − I‖_F over a stack (or of one matrix)."""
    gram = np.swapaxes(y, -1, -2).conj() @ y
    return float(np.max(np.linalg.norm(gram - np.eye(y.shape[-1]), axis=(-2, -1))))


def measure_retractions(make, x, unit_fn, repeats, givens_repeats, rng, targets,
                        tangent=scaled_tangent):
    rows = []
    for name in RETRACTIONS:
        M = make(name)
        for step in STEPS:
            v = tangent(M, x, step, rng)
            slow = name == "givens"
            reps = givens_repeats if slow else repeats
            ratio, seconds, y = paired_ratio(lambda: M.retraction(x, v), unit_fn, reps,
                                             warmup=0 if slow else 1)
            feas = feasibility_of(y)
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
    profiler = cProfile.Profile(clock)
    profiler.enable()
    M.retraction(x, v)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(top)
    return stream.getvalue()


# What each route computes, in units of the setting (the counts behind the
# measured ratios; the LAPACK and elementwise building blocks are measured
# alongside). Written for the short step ‖v‖_F = 0.1.
ROUTES = {
    "square": {
        "qr": "Gram (x+v)ᵀ(x+v) by syrk (~0.65) + Cholesky potrf (~0.5) + one trsm (~0.7)",
        "cayley": "2x(I − Ω/2)⁻¹ − x: Ω = skew(xᵀv) (1) + one LU solve with n right-hand "
                  "sides (gesv, ~2.1)",
        "polar": "one Newton–Schulz step of degree 4: Gram by syrk (~0.65) + E² by syrk (~0.65) "
                 "+ 1 Horner product + y·p(E) (1); degree 8 at ‖v‖_F = 1 (3 Horner products)",
        "exp": "Ω = xᵀv (1) + Ω² by syrk (~0.65) + degree-8 Taylor in 2 more products "
               "+ x·T₈(Ω) (1) "
               "= 4.65 products, + ~0.3 of elementwise passes over 8 MB matrices; degree 12 "
               "(one more product) at ‖v‖_F = 1",
        "givens": "Ω = xᵀv (1) + 31 rounds of 64×64 block rotations applied by batched products "
                  "(≈ 2 GEMMs of flops in 64-wide panels) + the elementwise accumulation of those "
                  "blocks (32 sequential steps per round, 992 in all) and the gathers: see "
                  "givens_profile",
    },
    "batched": {
        "qr": "Gram (1, transposed operand) + batched LAPACK potrf + vectorized forward "
              "substitution (p(p−1)/2 row updates) ; SO(3) the same",
        "cayley": "SO(3): closed form in ω (elementwise) + xᵀv and x·Q (2); SO(8): xᵀv (1) + "
                  "batched LU solve with 8 right-hand sides (LAPACK per matrix, ~7.6) + passes "
                  "(the products-only route, used off NumPy, measured 12.3 here)",
        "polar": "SO(3): closed form (I + Ω)/s + ωωᵀ/(s(s+1)); SO(8): Gram (1) + E² (1) + Horner "
                 "degree 6 (2) + y·p(E) (1) + ~12 elementwise passes of ~0.15–0.2 each",
        "exp": "SO(3): Rodrigues (elementwise) + 2 products; SO(8): xᵀv (1) + Ω² (1) + degree 8 "
               "with one squaring (2 + 1) + x·T (1) + ~16 passes",
        "givens": "n − 1 rounds of disjoint rotations, each a gather, an elementwise update and a "
                  "scatter-free reassembly (take/concat) of the whole stack",
    },
}


def building_blocks_batched(n, count, unit_fn, repeats, rng):
    """Kernels on (count, n, n) stacks in batched-product units (what the routes are made of)."""
    a = rng.standard_normal((count, n, n))
    spd = np.swapaxes(a, -1, -2) @ a + n * np.eye(n)
    kernels = {
        "one elementwise pass (a + a)": lambda: a + a,
        "aᵀa (transposed operand)": lambda: np.swapaxes(a, -1, -2) @ a,
        "Frobenius norm of each matrix": lambda: np.linalg.norm(a, axis=(-2, -1)),
        "cholesky (LAPACK per matrix)": lambda: np.linalg.cholesky(spd),
        "LU solve n×n rhs": lambda: np.linalg.solve(spd, a),
        "eigh": lambda: np.linalg.eigh(spd),
    }
    return blocks_in_units(kernels, unit_fn, repeats)


def measure_batched(n, count, repeats, rng):
    """SO(n) stacks: retractions in units of one batched product, expm vs SciPy/PyTorch."""
    a = rng.standard_normal((count, n, n))
    b = rng.standard_normal((count, n, n))

    def unit_fn():
        return a @ b

    unit = median_time(unit_fn, repeats)
    x, _ = qr_positive(rng.standard_normal((count, n, n)))
    x[np.linalg.det(x) < 0, :, 0] *= -1  # O(n) → SO(n), Haar measure preserved
    rows = measure_retractions(lambda r: SpecialOrthogonal(n, retraction=r), x, unit_fn,
                               repeats, repeats, rng, BATCH_TARGETS, tangent=batch_tangent)
    # the exponential kernel against SciPy and PyTorch on the same generators
    v = batch_tangent(SpecialOrthogonal(n), x, STEPS[0], rng)
    omega = skew_part(np.swapaxes(x, -1, -2) @ v)
    kernels = {"orthopt expm_skew": lambda: expm_skew(omega),
               "scipy.linalg.expm": lambda: scipy.linalg.expm(omega)}
    try:
        import torch

        torch.set_num_threads(1)
        omega_torch = torch.from_numpy(omega)
        kernels["torch.linalg.matrix_exp"] = lambda: torch.linalg.matrix_exp(omega_torch)
        torch_version = torch.__version__
    except ImportError:  # torch is optional: only this comparison needs it
        torch_version = None
    expm_units = {}
    for name, fn in kernels.items():
        reps = repeats if name.startswith("orthopt") else max(3, repeats // 2)
        expm_units[name] = paired_ratio(fn, unit_fn, reps)[0]
    ours = expm_units["orthopt expm_skew"]
    speedups = {name: ratio / ours for name, ratio in expm_units.items()
                if not name.startswith("orthopt")}
    reference = np.asarray(scipy.linalg.expm(omega))
    error = float(np.max(np.linalg.norm(expm_skew(omega) - reference, ord=2, axis=(-2, -1))))
    blocks = building_blocks_batched(n, count, unit_fn, repeats, rng)
    return {"n": n, "count": count, "unit_seconds": unit, "rows": rows, "building_blocks": blocks,
            "expm_units": expm_units, "expm_speedup": speedups,
            "expm_speedup_target": BATCH_SPEEDUP_TARGET,
            "expm_speedup_passed": {k: bool(r >= BATCH_SPEEDUP_TARGET)
                                    for k, r in speedups.items()},
            "expm_max_error_vs_scipy": error, "torch": torch_version}


def print_table(title, unit_name, unit, rows):
    print(f"\n{title}   (1 unit = {unit_name} = {unit * 1e3:.2f} ms)")
    print(f"{'retraction':<10} {'‖v‖':>5} {'ms':>10} {'units':>9} {'target':>7}  "
          f"{'verdict':<7} {'‖YᵀY−I‖':>9}")
    for r in rows:
        target = "—" if r["target"] is None else f"≤ {r['target']:g}"
        verdict = "—" if r["passed"] is None else ("pass" if r["passed"] else "MISS")
        print(f"{r['retraction']:<10} {r['step_norm']:>5g} {r['seconds'] * 1e3:>10.2f} "
              f"{r['ratio']:>9.2f} {target:>7}  {verdict:<7} {r['feasibility']:>9.1e}")


def print_batched(res):
    print_table(f"{res['count']} × SO({res['n']}): retraction time in batched-product units",
                f"one ({res['count']}, {res['n']}, {res['n']}) product", res["unit_seconds"],
                res["rows"])
    print(f"\nexpm of the {res['count']} generators (‖Ω‖_F = {STEPS[0]:g} each), in the same unit:")
    for name, ratio in res["expm_units"].items():
        speed = res["expm_speedup"].get(name)
        extra = ("" if speed is None else
                 f"   orthopt is {speed:.1f}× faster (target ≥ {BATCH_SPEEDUP_TARGET:g})")
        print(f"  {name:<26} {ratio:8.2f}{extra}")
    print(f"  max ‖expm_skew − scipy‖₂ over the stack: {res['expm_max_error_vs_scipy']:.1e}")
    print(f"\nbuilding blocks on the ({res['count']}, {res['n']}, {res['n']}) stack, same unit:")
    for name, ratio in res["building_blocks"].items():
        print(f"  {name:<30} {ratio:7.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="size of the square case")
    parser.add_argument("--tall-n", type=int, default=8192)
    parser.add_argument("--tall-p", type=int, default=64)
    parser.add_argument("--batch-count", type=int, default=10000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[3, 8])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--givens-repeats", type=int, default=3,
                        help="repeats for the full Givens sweep at size n")
    parser.add_argument("--only", choices=("square", "tall", "batched"), nargs="+",
                        default=("square", "tall", "batched"))
    parser.add_argument("--quick", action="store_true", help="n = 256, tall 2048 × 16, 1000 points")
    parser.add_argument("--profile-givens", action="store_true")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc's malloc thresholds alone (see pin_allocator)")
    parser.add_argument("--output",
                        default=str(Path(__file__).parent / "results" / "retractions.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.tall_n, args.tall_p, args.batch_count = 256, 2048, 16, 1000

    rng = np.random.default_rng(0)
    result = {"config": vars(args), "python": platform.python_version(),
              "numpy": np.__version__, "scipy": scipy.__version__,
              "timer": "time.thread_time (CPU time of the calling thread)",
              "allocator": None if args.default_allocator else pin_allocator()}
    with threadpool_limits(1):
        result["load_average_before"] = list(os.getloadavg())
        result["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "num_threads")}
                          for i in threadpool_info()]
        n = args.n
        if "square" in args.only:
            a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))

            def gemm_fn():
                return a @ b

            gemm = median_time(gemm_fn, args.repeats)
            x = SpecialOrthogonal(n).random_point(rng=rng)
            rows = measure_retractions(lambda r: SpecialOrthogonal(n, retraction=r), x, gemm_fn,
                                       args.repeats, args.givens_repeats, rng, SQUARE_TARGETS)
            blocks = building_blocks_square(n, gemm_fn, args.repeats, rng)
            for r in rows:
                r["route"] = ROUTES["square"][r["retraction"]]
            result["square"] = {"n": n, "gemm_seconds": gemm, "rows": rows,
                                "building_blocks": blocks}
            print_table(f"SO({n}): retraction time in GEMM units", f"one {n}×{n} GEMM", gemm, rows)
            print(f"\nLAPACK building blocks at n = {n}, in GEMM units:")
            for name, ratio in blocks.items():
                print(f"  {name:<30} {ratio:7.2f}")

        if "tall" in args.only:
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
            print_table(f"St({tn}, {tp}): retraction time in XᵀY units",
                        f"one ({tn}×{tp})ᵀ({tn}×{tp})", xty, rows_t)
            print(f"\nbuilding blocks at n = {tn}, p = {tp}, in XᵀY units:")
            for name, ratio in blocks_t.items():
                print(f"  {name:<30} {ratio:7.2f}")

        if "batched" in args.only:
            result["batched"] = []
            for size in args.batch_sizes:
                res = measure_batched(size, args.batch_count, args.repeats, rng)
                for r in res["rows"]:
                    r["route"] = ROUTES["batched"][r["retraction"]]
                result["batched"].append(res)
                print_batched(res)

        if args.profile_givens:
            M = SpecialOrthogonal(n, retraction="givens")
            x = SpecialOrthogonal(n).random_point(rng=rng)
            v = scaled_tangent(M, x, STEPS[0], rng)
            text = profile_givens(M, x, v)
            result["givens_profile"] = text
            print(f"\nprofile of one full Givens sweep on SO({n}):\n{text}")

    misses = [f"{case}:{r['retraction']}@{r['step_norm']:g} ({r['ratio']:.2f} > {r['target']:g})"
              for case in ("square", "tall") if case in result for r in result[case]["rows"]
              if r["passed"] is False]
    for res in result.get("batched", []):
        misses += [f"batched SO({res['n']}):{r['retraction']}@{r['step_norm']:g} "
                   f"({r['ratio']:.2f} > {r['target']:g})"
                   for r in res["rows"] if r["passed"] is False]
        misses += [f"batched SO({res['n']}): expm only "
                   f"{res['expm_speedup'][k]:.1f}× faster than {k}"
                   for k, ok in res["expm_speedup_passed"].items() if not ok]
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
