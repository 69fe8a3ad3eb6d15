"""Which method should ``orthopt.minimize`` use by default? Every method of ``METHODS``,
with its default options, over the textbook suite (``tests/textbook_problems.py``).

For each problem, size and seed, every method starts from the same x0 and runs
``orthopt.minimize(cost, x0, method=m)`` — autograd gradient, default
options, nothing else — in one process with BLAS pinned to one thread
(threadpoolctl). The methods run interleaved (their order rotates with the
seed) so that the load of a shared machine spreads over all of them.

Per run: status, ``res.success``, "solved" (success and (f − f*)/|f*| ≤ 1e-8,
absolute when f* = 0), the relative error, iterations, cost / gradient /
Hessian-vector evaluations, wall time. Per method: solved / runs,
success / runs, the median iterations and time over the runs it solved, and
the geometric mean over the instances it solved of its time over the fastest
method's time on that instance ("time / best"; 1.00 = always the fastest).
A method that raises is recorded with the error (e.g. a solver not yet on
the new core, or one that does not apply to the manifold).

Second part, the defaults target of issue 13: Brockett tr(XᵀAXN) with a dense
symmetric A on SO(20) and St(100, 5); a method that misses 1e-8 with its
default options is rerun with a budget of 100 000 iterations to say by how
much it missed (the iterations it needed to reach 1e-8 in cost and 1e-6 in
gradient norm).

Usage::

    PYTHONPATH=. python benchmarks/defaults.py               # sizes small + large, seeds 0-2
    PYTHONPATH=. python benchmarks/defaults.py --quick       # small sizes, seed 0
    PYTHONPATH=. python benchmarks/defaults.py --methods rgd-bb,cg

Writes ``benchmarks/results/defaults.json`` (``defaults_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from textbook import PROBLEMS, make, manifold_label  # noqa: E402

TARGET = 1e-8
LONG_BUDGET = 100_000


#: wall-time cap of every run (seconds), the one option added to the defaults: Givens
#: coordinate descent takes minutes on some Stiefel problems. Set by --max-time.
MAX_TIME = [10.0]


def run_one(instance, method, options=None):
    """One ``minimize`` run; a dict of what happened (an exception is recorded, not raised).

    A method that refuses the manifold (projUNN on a non-square Stiefel manifold) is
    "not_applicable"; any other exception is an "error".
    """
    import orthopt

    row = dict(method=method)
    options = dict(options or {})
    options.setdefault("max_time", MAX_TIME[0])
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = orthopt.minimize(instance.cost, instance.x0.copy(), method=method,
                                   options=options)
    except Exception as exc:  # noqa: BLE001 - recorded in the results
        message = f"{type(exc).__name__}: {exc}"[:300]
        status = ("not_applicable" if isinstance(exc, TypeError) and " acts on " in str(exc)
                  else "error")
        row.update(status=status, error=message, success=False, solved=False,
                   time=time.perf_counter() - start)
        return row, None
    error = instance.relative_error(res.fun)
    row.update(status=res.status, success=bool(res.success),
               solved=bool(res.success and error <= TARGET), relative_error=float(error),
               grad_norm=float(res.grad_norm), iterations=int(res.nit), nfev=int(res.nfev),
               ngev=int(res.ngev), nhev=int(getattr(res, "nhev", 0) or 0), time=float(res.time))
    return row, res


def suite(methods, sizes, seeds, problems):
    rows = []
    for size in sizes:
        for name in problems:
            for seed in seeds:
                instance = make(name, seed=seed, size=size)
                shift = seed % len(methods)
                for method in methods[shift:] + methods[:shift]:
                    row, _ = run_one(instance, method)
                    row.update(problem=name, size=size, seed=seed,
                               manifold=manifold_label(instance))
                    rows.append(row)
                    _print_run(row)
    return rows


def _print_run(row):
    if row["status"] in ("error", "not_applicable"):
        print(f"{row['problem']:<26} {row['size']:<5} s{row['seed']} {row['method']:<14} "
              f"ERROR {row['error'][:90]}", flush=True)
        return
    print(f"{row['problem']:<26} {row['size']:<5} s{row['seed']} {row['method']:<14} "
          f"{'solved' if row['solved'] else 'MISSED':<6} {row['status']:<19} "
          f"err={row['relative_error']:9.1e} it={row['iterations']:6d} "
          f"t={row['time']:7.3f}s", flush=True)


def summarize(rows, methods):
    """Per method: solved / success counts, medians, geometric mean of time / best."""
    instances = sorted({(r["problem"], r["size"], r["seed"]) for r in rows})
    best = {}
    for key in instances:
        times = [r["time"] for r in rows
                 if (r["problem"], r["size"], r["seed"]) == key and r["solved"]]
        if times:
            best[key] = min(times)
    summary = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        solved = [r for r in mine if r["solved"]]
        errors = [r for r in mine if r["status"] == "error"]
        inapplicable = [r for r in mine if r["status"] == "not_applicable"]
        ratios = [r["time"] / best[(r["problem"], r["size"], r["seed"])] for r in solved]
        summary.append(dict(
            method=method, runs=len(mine) - len(inapplicable), solved=len(solved),
            not_applicable=len(inapplicable),
            success=sum(r["success"] for r in mine), errors=len(errors),
            median_iterations=statistics.median([r["iterations"] for r in solved])
            if solved else None,
            median_time=statistics.median([r["time"] for r in solved]) if solved else None,
            time_over_best=math.exp(statistics.fmean(math.log(max(q, 1e-12)) for q in ratios))
            if ratios else None,
            within_2x_of_best=sum(q <= 2.0 for q in ratios),
            missed=sorted({f"{r['problem']}[{r['size']}]" for r in mine
                           if not r["solved"] and r["status"] not in ("error", "not_applicable")}),
            first_error=errors[0]["error"] if errors else None,
        ))
    return summary


def brockett_target(methods):
    """Issue 13: default options reach 1e-8 on Brockett SO(20) and St(100, 5)?"""
    from textbook import PROBLEMS as problems

    out = []
    for label, instance in (("SO(20)", problems["brockett_so"](seed=0, n=20)),
                            ("St(100, 5)", problems["brockett_stiefel"](seed=0, n=100, p=5))):
        for method in methods:
            row, _ = run_one(instance, method)
            row.update(problem=f"Brockett {label}")
            if row["status"] not in ("error", "not_applicable") and not row["solved"] \
                    and method in ("rgd", "rgd-bb", "cg", "lbfgs", "trust-regions"):
                long_row, res = run_one(instance, method, {"max_iterations": LONG_BUDGET,
                                                           "max_time": 120.0})
                if res is not None:
                    costs = np.asarray(res.history["cost"])
                    grads = np.asarray(res.history["grad_norm"])
                    errs = np.array([instance.relative_error(c) for c in costs])
                    row["long_run"] = dict(
                        status=long_row["status"], iterations=long_row["iterations"],
                        relative_error=long_row["relative_error"], time=long_row["time"],
                        grad_norm=long_row["grad_norm"],
                        iterations_to_target=_first(errs <= TARGET),
                        iterations_to_gradient_1e6=_first(grads <= 1e-6))
            out.append(row)
            _print_target(row)
    return out


def _first(mask):
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _print_target(row):
    if row["status"] in ("error", "not_applicable"):
        print(f"{row['problem']:<20} {row['method']:<14} ERROR {row['error'][:90]}", flush=True)
        return
    text = (f"{row['problem']:<20} {row['method']:<14} {'met' if row['solved'] else 'MISSED':<6} "
            f"{row['status']:<19} err={row['relative_error']:9.1e} it={row['iterations']:6d} "
            f"t={row['time']:.3f}s")
    if "long_run" in row:
        lr = row["long_run"]
        text += (f" | {LONG_BUDGET} its: {lr['status']}, 1e-8 after {lr['iterations_to_target']}"
                 f" its, ‖g‖≤1e-6 after {lr['iterations_to_gradient_1e6']} its")
    print(text, flush=True)


def print_tables(results):
    print()
    print(f"Every run capped at {results['max_time']} s of wall time (default options otherwise); "
          f"runs exclude problems a method does not apply to.")
    print("| method | solved | success | errors | n/a | median iterations | median time (s) | "
          "time / best (geo. mean) | within 2× of best | missed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in results["summary"]:
        med_it = "–" if s["median_iterations"] is None else f"{s['median_iterations']:.0f}"
        med_t = "–" if s["median_time"] is None else f"{s['median_time']:.3f}"
        ratio = "–" if s["time_over_best"] is None else f"{s['time_over_best']:.2f}"
        missed = ", ".join(s["missed"]) if s["missed"] else ""
        if s["errors"]:
            missed = (missed + "; " if missed else "") + f"error: {s['first_error'][:60]}"
        print(f"| {s['method']} | {s['solved']}/{s['runs']} | {s['success']}/{s['runs']} | "
              f"{s['errors']} | {s['not_applicable']} | {med_it} | {med_t} | {ratio} | "
              f"{s['within_2x_of_best']} | "
              f"{missed} |")
    print()
    print("| problem | method | target met | status | (f − f*)/|f*| | iterations | time (s) | "
          f"with {LONG_BUDGET} iterations: its to 1e-8, its to ‖g‖ ≤ 1e-6 |")
    print("|---|---|---|---|---:|---:|---:|---|")
    for r in results["brockett_target"]:
        if r["status"] in ("error", "not_applicable"):
            print(f"| {r['problem']} | {r['method']} | {r['status']} | {r['error'][:60]} "
                  f"| | | | |")
            continue
        long = ""
        if "long_run" in r:
            lr = r["long_run"]
            long = f"{lr['iterations_to_target']}, {lr['iterations_to_gradient_1e6']}"
        print(f"| {r['problem']} | {r['method']} | {'yes' if r['solved'] else 'no'} | "
              f"{r['status']} | {r['relative_error']:.1e} | {r['iterations']} | "
              f"{r['time']:.3f} | {long} |")


def main(argv=None):
    from orthopt.optim.minimize import METHODS
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seed 0")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", default=None, help="comma-separated (default 0,1,2)")
    parser.add_argument("--sizes", default=None, help="small,large (default both)")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--no-target", action="store_true", help="skip the Brockett target")
    parser.add_argument("--max-time", type=float, default=MAX_TIME[0],
                        help="wall-time cap of every run in seconds (default %(default)s)")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    MAX_TIME[0] = args.max_time
    methods = [m for m in args.methods.split(",") if m]
    seeds = [int(s) for s in (args.seeds or ("0" if args.quick else "0,1,2")).split(",")]
    sizes = (args.sizes or ("small" if args.quick else "small,large")).split(",")
    problems = [p for p in args.problems.split(",") if p]
    output = args.output or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                         "defaults_quick.json" if args.quick else "defaults.json")
    import orthopt

    results = dict(target=TARGET, methods=methods, seeds=seeds, sizes=sizes,
                   max_time=args.max_time,
                   default_method=_default_method(orthopt.minimize),
                   machine=platform.platform(), cpu_count=os.cpu_count(),
                   python=sys.version.split()[0], numpy=np.__version__,
                   loadavg_start=list(os.getloadavg()),
                   started=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    with threadpool_limits(1, user_api="blas"):
        results["runs"] = suite(methods, sizes, seeds, problems)
        results["summary"] = summarize(results["runs"], methods)
        results["brockett_target"] = [] if args.no_target else brockett_target(methods)
    results["loadavg_end"] = list(os.getloadavg())
    print_tables(results)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as fh:
        json.dump(results, fh, indent=2)
    print(f"\nwrote {output}  (load average {results['loadavg_start']} -> "
          f"{results['loadavg_end']})")


def _default_method(function):
    import inspect

    return inspect.signature(function).parameters["method"].default


if __name__ == "__main__":
    main()
