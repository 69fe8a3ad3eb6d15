"""orthopt's solvers against pymanopt 2.2: time to reach ‖grad‖ ≤ 1e-6·‖grad₀‖.

Same problem, same starting point, same process, BLAS pinned to one thread
(threadpoolctl). Each library gets the cost twice:

``autograd``
    the cost written with ``autograd.numpy``; each library differentiates it
    (orthopt: ``Problem(M, cost)``; pymanopt: ``@pymanopt.function.autograd``).
``hand``
    hand-written gradients. orthopt gets one function returning the cost and
    gradient together (``cost_and_gradient``, sharing the product A·x);
    pymanopt, which has no such interface, gets ``cost`` and
    ``euclidean_gradient`` (and ``euclidean_hessian`` for TrustRegions).

Problems (sizes of the issue; ``--quick`` divides them):

* Brockett   min tr(xᵀAxN) on St(1000, 10) and St(2000, 50), A = (G + Gᵀ)/2
  with G standard Gaussian, N = diag(p, …, 1); optimum Σ λ_i N_ii (λ ascending).
* Procrustes min ‖Ax − B‖² on SO(500), A a 1000×500 Gaussian matrix (two
  clouds of 1000 points in ℝ⁵⁰⁰), B = A·Q + 0.01·noise; optimum from
  ``scipy.linalg.orthogonal_procrustes`` (checked to have det +1). The
  hand-written cost of both libraries uses the precomputed AᵀA and AᵀB (one
  500×500×500 product per evaluation); the autograd cost is ‖Ax − B‖².

Metric: wall time until the Riemannian gradient norm falls to 1e-6 of its
value at x₀ (each solver's own stopping rule, set to that threshold), whether
it got there, iterations, cost evaluations (orthopt), and the relative cost
error (f − f*)/|f*|. pymanopt runs with ``min_gradient_norm = 1e-6·‖grad₀‖``,
its default ``min_step_size``, ``max_iterations`` and
``max_cost_evaluations`` large, and ``max_time`` as the cap (also for orthopt).
A run that does not reach the tolerance is charged the time it ran; the
headline ratio then reads "≥".

Headline per problem and cost mode: pymanopt's best time / orthopt's best time,
over all pymanopt solvers and over its first-order ones (SteepestDescent,
ConjugateGradient — TrustRegions also uses Hessian-vector products, which
orthopt's first-order solvers do not).

Usage::

    .venv/bin/python benchmarks/solvers.py            # full sizes, max_time 60 s
    .venv/bin/python benchmarks/solvers.py --quick    # small sizes, a minute in all
    .venv/bin/python benchmarks/solvers.py --profile  # cProfile of orthopt's best solver
    .venv/bin/python benchmarks/solvers.py --table-from benchmarks/results/solvers.json

Writes ``benchmarks/results/solvers.json`` (``solvers_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings

import numpy as np

RELATIVE_TOLERANCE = 1e-6

ORTHOPT_SOLVERS = {
    "RGD armijo": ("RiemannianGradientDescent", {"step": "armijo"}),
    "RGD bb": ("RiemannianGradientDescent", {"step": "bb"}),
    "CG hs": ("RiemannianConjugateGradient", {"beta": "hs"}),
    "CG pr": ("RiemannianConjugateGradient", {"beta": "pr"}),
    "CG hz": ("RiemannianConjugateGradient", {"beta": "hz"}),
}
#: run by default (RGD armijo never reaches 1e-6 within the cap; add with --orthopt-solvers)
DEFAULT_ORTHOPT = ("RGD bb", "CG hs", "CG hz")
PYMANOPT_SOLVERS = ("SteepestDescent", "ConjugateGradient", "TrustRegions")


# -- problems --------------------------------------------------------------------------


def brockett(n, p, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    a = (g + g.T) / 2
    w = np.arange(p, 0, -1.0)
    optimum = float(np.sum(np.linalg.eigvalsh(a)[:p] * w))
    x0 = np.linalg.qr(rng.standard_normal((n, p)))[0]

    def cost_np(x):
        return float(np.sum(x * ((a @ x) * w)))

    def cost_and_gradient(x):
        ax = a @ x
        axw = ax * w
        return float(np.sum(x * axw)), 2.0 * axw

    def gradient(x):
        return 2.0 * (a @ x) * w

    def hessian(x, v):
        return 2.0 * (a @ v) * w

    def cost_ag(x):
        import autograd.numpy as anp

        return anp.sum(x * anp.dot(a, x) * w)

    return dict(name=f"Brockett St({n}, {p})", kind="stiefel", n=n, p=p, x0=x0,
                optimum=optimum, cost=cost_np, gradient=gradient, hessian=hessian,
                cost_and_gradient=cost_and_gradient, cost_autograd=cost_ag)


def procrustes(n, seed):
    import scipy.linalg

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2 * n, n))
    q_true = np.linalg.qr(rng.standard_normal((n, n)))[0]
    if np.linalg.det(q_true) < 0:
        q_true[:, 0] *= -1
    b = a @ q_true + 1e-2 * rng.standard_normal((2 * n, n))
    r, _ = scipy.linalg.orthogonal_procrustes(a, b)
    if np.linalg.det(r) < 0:
        raise RuntimeError("the O(n) Procrustes optimum is not a rotation; change the seed")
    optimum = float(np.sum((a @ r - b) ** 2))
    x0 = np.linalg.qr(rng.standard_normal((n, n)))[0]
    if np.linalg.det(x0) < 0:
        x0[:, 0] *= -1
    # hand-written: ‖Ax − B‖² = ⟨x, AᵀA x⟩ − 2⟨x, AᵀB⟩ + ‖B‖², one n×n×n product per call
    ata, atb, bb = a.T @ a, a.T @ b, float(np.sum(b * b))

    def cost_np(x):
        return float(np.sum(x * (ata @ x)) - 2.0 * np.sum(x * atb) + bb)

    def cost_and_gradient(x):
        m = ata @ x
        return float(np.sum(x * m) - 2.0 * np.sum(x * atb) + bb), 2.0 * (m - atb)

    def gradient(x):
        return 2.0 * (ata @ x - atb)

    def hessian(x, v):
        return 2.0 * (ata @ v)

    def cost_ag(x):
        import autograd.numpy as anp

        return anp.sum((anp.dot(a, x) - b) ** 2)

    return dict(name=f"Procrustes SO({n})", kind="so", n=n, p=n, x0=x0, optimum=optimum,
                cost=cost_np, gradient=gradient, hessian=hessian,
                cost_and_gradient=cost_and_gradient, cost_autograd=cost_ag)


def make_problems(quick):
    if quick:
        return [brockett(300, 5, 0), brockett(400, 10, 1), procrustes(100, 2)]
    return [brockett(1000, 10, 0), brockett(2000, 50, 1), procrustes(500, 2)]


# -- runners ----------------------------------------------------------------------------


def riemannian_gradient_norm(spec, x):
    g = spec["gradient"](x)
    sym = x.T @ g
    return float(np.linalg.norm(g - x @ ((sym + sym.T) / 2)))


def run_orthopt(spec, mode, label, max_time):
    from orthopt import optim
    from orthopt.manifolds import SpecialOrthogonal, Stiefel

    manifold = (Stiefel(spec["n"], spec["p"]) if spec["kind"] == "stiefel"
                else SpecialOrthogonal(spec["n"], retraction="qr"))
    if mode == "autograd":
        problem = optim.Problem(manifold, spec["cost_autograd"])
    else:
        problem = optim.Problem(manifold, None, cost_and_gradient=spec["cost_and_gradient"])
    class_name, kwargs = ORTHOPT_SOLVERS[label]
    solver = getattr(optim, class_name)(
        **kwargs, gradient_tolerance=0.0, relative_gradient_tolerance=RELATIVE_TOLERANCE,
        max_iterations=10**7, max_time=max_time, step_tolerance=0.0,
    )
    res = solver.run(problem, x0=spec["x0"].copy())
    g0 = res.history["grad_norm"][0]
    return dict(library="orthopt", solver=label, time=res.time, iterations=int(res.nit),
                cost_evaluations=int(res.nfev), status=res.status,
                reached=bool(res.grad_norm <= RELATIVE_TOLERANCE * g0),
                relative_grad=float(res.grad_norm / g0),
                cost_error=float((res.fun - spec["optimum"]) / abs(spec["optimum"])))


def run_pymanopt(spec, mode, label, max_time, grad0):
    import pymanopt
    from pymanopt import optimizers

    if spec["kind"] == "stiefel":
        manifold = pymanopt.manifolds.Stiefel(spec["n"], spec["p"])
    else:
        manifold = pymanopt.manifolds.SpecialOrthogonalGroup(spec["n"])
    if mode == "autograd":
        cost = pymanopt.function.autograd(manifold)(spec["cost_autograd"])
        problem = pymanopt.Problem(manifold, cost)
    else:
        cost = pymanopt.function.numpy(manifold)(spec["cost"])
        grad = pymanopt.function.numpy(manifold)(spec["gradient"])
        hess = pymanopt.function.numpy(manifold)(spec["hessian"])
        problem = pymanopt.Problem(manifold, cost, euclidean_gradient=grad,
                                   euclidean_hessian=hess)
    optimizer = getattr(optimizers, label)(
        min_gradient_norm=RELATIVE_TOLERANCE * grad0, max_iterations=10**7,
        max_cost_evaluations=10**9, max_time=max_time, verbosity=0,
    )
    x0 = spec["x0"].copy()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = optimizer.run(problem, initial_point=x0)
    elapsed = time.perf_counter() - start
    x = res.point
    grad_norm = riemannian_gradient_norm(spec, x)
    return dict(library="pymanopt", solver=label, time=elapsed, iterations=int(res.iterations),
                cost_evaluations=None, status=str(res.stopping_criterion),
                reached=bool(grad_norm <= RELATIVE_TOLERANCE * grad0 * (1 + 1e-9)),
                relative_grad=float(grad_norm / grad0),
                cost_error=float((spec["cost"](x) - spec["optimum"]) / abs(spec["optimum"])))


def best(rows):
    """The fastest run that reached the tolerance, else the one that got closest."""
    reached = [r for r in rows if r["reached"]]
    if reached:
        return min(reached, key=lambda r: r["time"]), True
    return min(rows, key=lambda r: r["relative_grad"]), False


def headline(rows):
    """Best times and ratios of one (problem, cost mode): all pymanopt solvers, and
    first-order only (SteepestDescent, ConjugateGradient; TrustRegions uses Hessians)."""
    ours, ours_ok = best([r for r in rows if r["library"] == "orthopt"])
    head = dict(orthopt_best=ours["solver"], orthopt_time=ours["time"], orthopt_reached=ours_ok)
    for suffix, names in (("", None), ("_first_order", ("SteepestDescent", "ConjugateGradient"))):
        theirs_rows = [r for r in rows if r["library"] == "pymanopt"
                       and (names is None or r["solver"] in names)]
        if not theirs_rows:
            continue
        theirs, theirs_ok = best(theirs_rows)
        # neither reached the tolerance within the cap: no time ratio (compare
        # the gradient reductions ‖g‖/‖g₀‖ reached instead)
        ratio = theirs["time"] / ours["time"] if (ours_ok or theirs_ok) else None
        head.update({f"pymanopt{suffix}_best": theirs["solver"],
                     f"pymanopt{suffix}_time": theirs["time"],
                     f"pymanopt{suffix}_reached": theirs_ok,
                     f"pymanopt{suffix}_relative_grad": theirs["relative_grad"],
                     f"ratio{suffix}": ratio,
                     f"ratio{suffix}_is_lower_bound": (not theirs_ok) and ours_ok})
    head["orthopt_relative_grad"] = ours["relative_grad"]
    return head


def benchmark(args):
    from threadpoolctl import threadpool_info, threadpool_limits

    results = {"tolerance": RELATIVE_TOLERANCE, "max_time": args.max_time, "quick": args.quick,
               "machine": platform.platform(), "processor": platform.processor(),
               "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
               "runs": [], "headline": []}
    import pymanopt

    results["pymanopt"] = pymanopt.__version__
    with threadpool_limits(1):
        results["blas"] = [{k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                           for i in threadpool_info()]
        problems = make_problems(args.quick)
        if args.problems:
            problems = [problems[int(i)] for i in args.problems.split(",")]
        for spec in problems:
            grad0 = riemannian_gradient_norm(spec, spec["x0"])
            for mode in args.modes:
                rows = []
                for label in args.orthopt_solvers:
                    rows.append(run_orthopt(spec, mode, label, args.max_time))
                    _print_row(spec, mode, rows[-1])
                for label in args.pymanopt_solvers:
                    rows.append(run_pymanopt(spec, mode, label, args.max_time, grad0))
                    _print_row(spec, mode, rows[-1])
                for r in rows:
                    r.update(problem=spec["name"], mode=mode)
                results["runs"] += rows
                head = headline(rows)
                head.update(problem=spec["name"], mode=mode)
                if args.output:
                    _write(results, args.output)  # partial results survive an interruption
                results["headline"].append(head)
                ratio = ("n/a (neither reached)" if head["ratio"] is None else
                         f"{'≥ ' if head['ratio_is_lower_bound'] else ''}{head['ratio']:.1f}×")
                print(f"  -> {spec['name']} [{mode}]: pymanopt best {head['pymanopt_best']} "
                      f"{head['pymanopt_time']:.2f}s"
                      f"{'' if head['pymanopt_reached'] else ' (not reached)'} / "
                      f"orthopt best {head['orthopt_best']} {head['orthopt_time']:.2f}s = {ratio}",
                      flush=True)
    _print_table(results)
    return results


def _print_row(spec, mode, r):
    print(f"{spec['name']:<22} {mode:<8} {r['library']:<8} {r['solver']:<18} "
          f"{'yes' if r['reached'] else 'NO ':<4} {r['time']:8.2f}s {r['iterations']:7d} it "
          f"grad/grad0={r['relative_grad']:.1e} cost err={r['cost_error']:.1e}  {r['status']}",
          flush=True)


def _print_table(results):
    print()
    print("| problem | cost | library | solver | reached | time (s) | iterations | "
          "‖g‖/‖g₀‖ | (f − f*)/|f*| |")
    print("|---|---|---|---|---|---:|---:|---:|---:|")
    for r in results["runs"]:
        print(f"| {r['problem']} | {r['mode']} | {r['library']} | {r['solver']} | "
              f"{'yes' if r['reached'] else 'no'} | {r['time']:.2f} | {r['iterations']} | "
              f"{r['relative_grad']:.1e} | {r['cost_error']:.1e} |")
    print()
    print("| problem | cost | orthopt best | pymanopt best (all) | ratio | "
          "pymanopt best (SD, CG) | ratio |")
    print("|---|---|---|---|---:|---|---:|")

    def cell(h, suffix):
        if f"pymanopt{suffix}_best" not in h:
            return "– | –"
        mark = "≥ " if h[f"ratio{suffix}_is_lower_bound"] else ""
        reached = ("" if h[f"pymanopt{suffix}_reached"] else
                   f" (not reached: ‖g‖/‖g₀‖ = {h[f'pymanopt{suffix}_relative_grad']:.1e})")
        ratio = "n/a" if h[f"ratio{suffix}"] is None else f"{mark}{h[f'ratio{suffix}']:.1f}×"
        return f"{h[f'pymanopt{suffix}_best']} {h[f'pymanopt{suffix}_time']:.2f} s{reached} | {ratio}"

    for h in results["headline"]:
        ours = (f"{h['orthopt_best']} {h['orthopt_time']:.2f} s"
                + ("" if h["orthopt_reached"] else
                   f" (not reached: ‖g‖/‖g₀‖ = {h['orthopt_relative_grad']:.1e})"))
        print(f"| {h['problem']} | {h['mode']} | {ours} | {cell(h, '')} | "
              f"{cell(h, '_first_order')} |")


def profile(args):
    """cProfile of orthopt's CG on the first problem (hand-written gradient)."""
    import cProfile
    import pstats

    from threadpoolctl import threadpool_limits

    spec = make_problems(args.quick)[args.profile_problem]
    with threadpool_limits(1):
        profiler = cProfile.Profile()
        profiler.enable()
        row = run_orthopt(spec, args.profile_mode, args.profile_solver, args.max_time)
        profiler.disable()
    print(spec["name"], row)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--max-time", type=float, default=None,
                        help="time cap per run in seconds (default 60, 20 with --quick)")
    parser.add_argument("--modes", default="autograd,hand")
    parser.add_argument("--problems", default="",
                        help="comma-separated indices into the problem list (default: all)")
    parser.add_argument("--pymanopt-solvers", default=",".join(PYMANOPT_SOLVERS))
    parser.add_argument("--orthopt-solvers", default=",".join(DEFAULT_ORTHOPT),
                        help=f"comma-separated, from: {', '.join(ORTHOPT_SOLVERS)}")
    parser.add_argument("--output", default=None)
    parser.add_argument("--table-from", default=None,
                        help="re-print the tables (and recompute the headline) of a JSON file")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-problem", type=int, default=0)
    parser.add_argument("--profile-mode", default="hand")
    parser.add_argument("--profile-solver", default="CG hs")
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    args.pymanopt_solvers = [s for s in args.pymanopt_solvers.split(",") if s]
    args.orthopt_solvers = [s for s in args.orthopt_solvers.split(",") if s]
    for label in args.orthopt_solvers:
        if label not in ORTHOPT_SOLVERS:
            parser.error(f"unknown orthopt solver {label!r}; choose from {list(ORTHOPT_SOLVERS)}")
    if args.max_time is None:
        args.max_time = 20.0 if args.quick else 60.0
    if args.profile:
        profile(args)
        return
    if args.table_from:
        with open(args.table_from) as fh:
            results = json.load(fh)
        keys = []
        for r in results["runs"]:
            if (r["problem"], r["mode"]) not in keys:
                keys.append((r["problem"], r["mode"]))
        results["headline"] = []
        for problem, mode in keys:
            head = headline([r for r in results["runs"]
                             if (r["problem"], r["mode"]) == (problem, mode)])
            head.update(problem=problem, mode=mode)
            results["headline"].append(head)
        _print_table(results)
        if args.output:
            _write(results, args.output)
        return
    args.output = args.output or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "solvers_quick.json" if args.quick else "solvers.json")
    results = benchmark(args)
    _write(results, args.output)
    print(f"\nwrote {args.output}")


def _write(results, output):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as fh:
        json.dump(results, fh, indent=2, default=lambda o: None if o is None else str(o))


if __name__ == "__main__":
    main()
