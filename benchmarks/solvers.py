"""orthopt's solvers against pymanopt 2.2: time to reach ‖grad‖ ≤ 1e-6·‖grad₀‖.

Two suites (``--suite``):

``textbook`` (default; issue 13)
    From the textbook problems (``tests/textbook_problems.py``, one source of
    truth): Brockett St(1000, 10), Procrustes SO(500) (A 1000×500),
    dominant subspace St(2000, 10), generalized eigenvalues St(1000, 5).
    orthopt's trust regions, L-BFGS, ``minimize`` with no method, RGD-BB and
    CG against pymanopt's TrustRegions and ConjugateGradient. In the ``hand``
    mode both libraries get the same three functions (cost, Euclidean
    gradient, Euclidean Hessian-vector product). Every run is repeated
    (``--repeats``, interleaved orthopt / pymanopt) and the median time is
    reported. The targets of issue 13 are checked per problem and cost mode:
    orthopt's trust regions within 1.2× pymanopt's TrustRegions outer
    iterations and ≤ 0.5× its time; orthopt's best ≤ 1.0× pymanopt's best;
    ``minimize`` with no method ≤ 1.5× pymanopt's best. Writes
    ``benchmarks/results/solvers.json`` (``solvers_textbook_quick.json``
    with ``--quick``).
``classic``
    The first benchmark, described below (writes ``solvers_classic.json``,
    ``solvers_quick.json`` with ``--quick``).

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

    PYTHONPATH=. .venv/bin/python benchmarks/solvers.py            # textbook suite, full sizes
    PYTHONPATH=. .venv/bin/python benchmarks/solvers.py --quick    # textbook suite, small sizes
    .venv/bin/python benchmarks/solvers.py --suite classic         # full sizes, max_time 60 s
    .venv/bin/python benchmarks/solvers.py --suite classic --quick # small sizes, a minute in all
    .venv/bin/python benchmarks/solvers.py --profile  # cProfile of orthopt's best solver
    .venv/bin/python benchmarks/solvers.py --table-from benchmarks/results/solvers.json

``--append`` adds the runs of this call to an existing output file (replacing
runs of the same problem, cost mode, library and solver) and recomputes the
tables: a solver that arrives later (trust regions, L-BFGS) is measured
without rerunning the others.
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
    "TR": ("RiemannianTrustRegions", {}),
    "L-BFGS": ("RiemannianLBFGS", {}),
    # orthopt.minimize(cost, x0, jac=...) with no method: whatever the default is
    "minimize()": (None, {}),
}
#: run by default (RGD armijo never reaches 1e-6 within the cap; add with --orthopt-solvers)
DEFAULT_ORTHOPT = ("RGD bb", "CG hs", "CG hz")
PYMANOPT_SOLVERS = ("SteepestDescent", "ConjugateGradient", "TrustRegions")
#: the textbook suite (issue 13): second-order and quasi-Newton methods against pymanopt's
TEXTBOOK_ORTHOPT = ("TR", "L-BFGS", "minimize()", "RGD bb", "CG hz")
TEXTBOOK_PYMANOPT = ("TrustRegions", "ConjugateGradient")


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


def textbook_spec(instance, name):
    """A problem of the textbook suite in this benchmark's format (hand mode: the same
    cost, gradient and Hessian functions for both libraries)."""
    kind = {"stiefel": "stiefel", "so": "so"}[instance.manifold]
    return dict(name=name, kind=kind, n=instance.n, p=instance.p, x0=instance.x0,
                optimum=instance.optimum, cost=lambda x: float(instance.cost(x)),
                gradient=instance.gradient, hessian=instance.hessian,
                cost_and_gradient=None, cost_autograd=instance.cost)


def make_textbook_problems(quick):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import textbook

    problems = textbook.PROBLEMS
    sizes = ((dict(n=200, p=5), dict(n=100, m=200), dict(n=400, p=5), dict(n=200, p=3))
             if quick else
             (dict(n=1000, p=10), dict(n=500, m=1000), dict(n=2000, p=10), dict(n=1000, p=5)))
    specs = []
    for (key, label), size in zip((("brockett_stiefel", "Brockett St({n}, {p})"),
                                   ("procrustes_so", "Procrustes SO({n})"),
                                   ("dominant_subspace", "Dominant subspace St({n}, {p})"),
                                   ("generalized_eigenvalues", "Generalized eig St({n}, {p})")),
                                  sizes):
        specs.append(textbook_spec(problems[key](seed=0, **size), label.format(**size)))
    return specs


def make_problems(quick, suite="classic"):
    if suite == "textbook":
        return make_textbook_problems(quick)
    if quick:
        return [brockett(300, 5, 0), brockett(400, 10, 1), procrustes(100, 2)]
    return [brockett(1000, 10, 0), brockett(2000, 50, 1), procrustes(500, 2)]


# -- runners ----------------------------------------------------------------------------


def riemannian_gradient_norm(spec, x):
    g = spec["gradient"](x)
    sym = x.T @ g
    return float(np.linalg.norm(g - x @ ((sym + sym.T) / 2)))


def orthopt_available(label):
    """Whether this checkout of orthopt has the solver behind ``label``."""
    from orthopt import optim

    class_name = ORTHOPT_SOLVERS[label][0]
    return class_name is None or hasattr(optim, class_name)


def run_orthopt(spec, mode, label, max_time):
    import orthopt
    from orthopt import optim
    from orthopt.manifolds import SpecialOrthogonal, Stiefel

    stopping = dict(gradient_tolerance=0.0, relative_gradient_tolerance=RELATIVE_TOLERANCE,
                    max_iterations=10**7, max_time=max_time, step_tolerance=0.0)
    class_name, kwargs = ORTHOPT_SOLVERS[label]
    if class_name is None:
        # minimize with no method: the manifold it infers, the default solver
        cost = spec["cost_autograd"] if mode == "autograd" else spec["cost"]
        jac = None if mode == "autograd" else spec["gradient"]
        res = orthopt.minimize(cost, spec["x0"].copy(), jac=jac, options=stopping)
    else:
        manifold = (Stiefel(spec["n"], spec["p"]) if spec["kind"] == "stiefel"
                    else SpecialOrthogonal(spec["n"], retraction="qr"))
        if mode == "autograd":
            problem = optim.Problem(manifold, spec["cost_autograd"])
        elif spec["cost_and_gradient"] is not None:
            problem = optim.Problem(manifold, None, cost_and_gradient=spec["cost_and_gradient"],
                                    euclidean_hessian=spec["hessian"])
        else:
            problem = optim.Problem(manifold, spec["cost"], euclidean_gradient=spec["gradient"],
                                    euclidean_hessian=spec["hessian"])
        solver = getattr(optim, class_name)(**kwargs, **stopping)
        res = solver.run(problem, x0=spec["x0"].copy())
    g0 = res.history["grad_norm"][0]
    return dict(library="orthopt", solver=label, time=res.time, iterations=int(res.nit),
                cost_evaluations=int(res.nfev),
                hessian_evaluations=int(getattr(res, "nhev", 0) or 0), status=res.status,
                reached=bool(res.grad_norm <= RELATIVE_TOLERANCE * g0),
                relative_grad=float(res.grad_norm / g0), cost=float(res.fun),
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
                relative_grad=float(grad_norm / grad0), cost=float(spec["cost"](x)),
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

    results = {"suite": args.suite, "tolerance": RELATIVE_TOLERANCE,
               "tolerance_kind": "relative: ‖grad f(x)‖ ≤ tolerance·‖grad f(x0)‖",
               "max_time": args.max_time, "quick": args.quick, "repeats": args.repeats,
               "machine": platform.platform(), "processor": platform.processor(),
               "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
               "loadavg_start": list(os.getloadavg()),
               "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "runs": [], "headline": [], "unavailable": []}
    import pymanopt

    results["pymanopt"] = pymanopt.__version__
    previous = _load_previous(args) if args.append else None
    orthopt_solvers = []
    for label in args.orthopt_solvers:
        if orthopt_available(label):
            orthopt_solvers.append(label)
        else:
            results["unavailable"].append(label)
            print(f"orthopt solver {label!r} ({ORTHOPT_SOLVERS[label][0]}) is not in this "
                  f"checkout: skipped", flush=True)
    with threadpool_limits(1):
        results["blas"] = [{k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                           for i in threadpool_info()]
        problems = make_problems(args.quick, args.suite)
        if args.problems:
            problems = [problems[int(i)] for i in args.problems.split(",")]
        for spec in problems:
            grad0 = riemannian_gradient_norm(spec, spec["x0"])
            for mode in args.modes:
                rows = _measure(spec, mode, orthopt_solvers, args, grad0)
                for r in rows:
                    r.update(problem=spec["name"], mode=mode)
                results["runs"] += rows
                if args.output:
                    _write(_merged(previous, results), args.output)  # survives an interruption
    results["loadavg_end"] = list(os.getloadavg())
    results = _merged(previous, results)
    _print_table(results)
    return results


def _measure(spec, mode, orthopt_solvers, args, grad0):
    """Every solver ``args.repeats`` times, orthopt and pymanopt interleaved (the order
    rotates with the repeat); one row per solver with the median time."""
    order = []
    ours, theirs = list(orthopt_solvers), list(args.pymanopt_solvers)
    while ours or theirs:
        if ours:
            order.append(("orthopt", ours.pop(0)))
        if theirs:
            order.append(("pymanopt", theirs.pop(0)))
    runs = {key: [] for key in order}
    for repeat in range(args.repeats):
        shift = repeat % max(len(order), 1)
        for library, label in order[shift:] + order[:shift]:
            if library == "orthopt":
                row = run_orthopt(spec, mode, label, args.max_time)
            else:
                row = run_pymanopt(spec, mode, label, args.max_time, grad0)
            row["loadavg"] = os.getloadavg()[0]
            runs[(library, label)].append(row)
            _print_row(spec, mode, row)
    rows = []
    for key in order:
        first = dict(runs[key][0])
        times = [r["time"] for r in runs[key]]
        first.update(time=float(np.median(times)), times=times,
                     loadavg=[r["loadavg"] for r in runs[key]])
        rows.append(first)
    return rows


def _load_previous(args):
    if not args.output or not os.path.exists(args.output):
        return None
    with open(args.output) as fh:
        return json.load(fh)


def _merged(previous, results):
    """``results`` with the runs of ``previous`` that it does not redo; headline and
    targets recomputed over all runs."""
    merged = dict(results)
    runs = list(results["runs"])
    if previous is not None:
        redone = {(r["problem"], r["mode"], r["library"], r["solver"]) for r in runs}
        runs = [r for r in previous["runs"]
                if (r["problem"], r["mode"], r["library"], r["solver"]) not in redone] + runs
        merged["appended_to"] = {k: previous.get(k) for k in
                                 ("started", "loadavg_start", "loadavg_end")}
    merged["runs"] = runs
    keys = []
    for r in runs:
        if (r["problem"], r["mode"]) not in keys:
            keys.append((r["problem"], r["mode"]))
    merged["headline"], merged["targets"] = [], []
    for problem, mode in keys:
        rows = [r for r in runs if (r["problem"], r["mode"]) == (problem, mode)]
        if not any(r["library"] == "orthopt" for r in rows):
            continue
        head = headline(rows)
        head.update(problem=problem, mode=mode)
        merged["headline"].append(head)
        target = targets(rows)
        target.update(problem=problem, mode=mode)
        merged["targets"].append(target)
    return merged


def targets(rows):
    """Issue 13's targets on one (problem, cost mode); None where a side is missing.

    tr_iterations: orthopt TR outer iterations / pymanopt TrustRegions' (≤ 1.2);
    tr_time: orthopt TR time / pymanopt TrustRegions' (≤ 0.5); best: orthopt's best
    time / pymanopt's best (≤ 1.0); default: ``minimize()`` time / pymanopt's best
    (≤ 1.5). A run that did not reach the tolerance misses every target it is in.
    """
    def find(library, solver):
        return next((r for r in rows if r["library"] == library and r["solver"] == solver), None)

    out = {}
    ours_tr, theirs_tr = find("orthopt", "TR"), find("pymanopt", "TrustRegions")
    if ours_tr and theirs_tr:
        ok = ours_tr["reached"] and theirs_tr["reached"]
        out["tr_iterations"] = ours_tr["iterations"] / max(theirs_tr["iterations"], 1)
        out["tr_time"] = ours_tr["time"] / theirs_tr["time"]
        out["tr_iterations_met"] = bool(ours_tr["reached"] and out["tr_iterations"] <= 1.2)
        out["tr_time_met"] = bool(ours_tr["reached"] and out["tr_time"] <= 0.5)
        out["tr_both_reached"] = bool(ok)
    theirs = [r for r in rows if r["library"] == "pymanopt"]
    ours = [r for r in rows if r["library"] == "orthopt"]
    if theirs and ours:
        their_best, their_ok = best(theirs)
        our_best, our_ok = best(ours)
        out["pymanopt_best"] = their_best["solver"]
        out["orthopt_best"] = our_best["solver"]
        out["best"] = our_best["time"] / their_best["time"]
        out["best_met"] = bool(our_ok and (out["best"] <= 1.0 or not their_ok))
        default = find("orthopt", "minimize()")
        if default:
            out["default"] = default["time"] / their_best["time"]
            out["default_met"] = bool(default["reached"]
                                      and (out["default"] <= 1.5 or not their_ok))
    return out


def _print_row(spec, mode, r):
    print(f"{spec['name']:<22} {mode:<8} {r['library']:<8} {r['solver']:<18} "
          f"{'yes' if r['reached'] else 'NO ':<4} {r['time']:8.2f}s {r['iterations']:7d} it "
          f"grad/grad0={r['relative_grad']:.1e} cost err={r['cost_error']:.1e}  {r['status']}",
          flush=True)


def _print_table(results):
    print()
    print("| problem | cost | library | solver | reached | time (s) | iterations | "
          "‖g‖/‖g₀‖ | final cost | (f − f*)/|f*| |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        cost = f"{r['cost']:.10g}" if r.get("cost") is not None else "–"
        print(f"| {r['problem']} | {r['mode']} | {r['library']} | {r['solver']} | "
              f"{'yes' if r['reached'] else 'no'} | {r['time']:.2f} | {r['iterations']} | "
              f"{r['relative_grad']:.1e} | {cost} | {r['cost_error']:.1e} |")
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
    if results.get("targets"):
        _print_targets(results)


def _print_targets(results):
    def ratio(t, key, limit):
        if key not in t:
            return "–"
        return f"{t[key]:.2f}× {'✓' if t[key + '_met'] else '✗'} (≤ {limit})"

    print()
    print("| problem | cost | TR iterations vs pymanopt TR | TR time vs pymanopt TR | "
          "orthopt best / pymanopt best | minimize() / pymanopt best |")
    print("|---|---|---|---|---|---|")
    for t in results["targets"]:
        best = (f"{t['orthopt_best']} / {t['pymanopt_best']}: {ratio(t, 'best', 1.0)}"
                if "best" in t else "–")
        print(f"| {t['problem']} | {t['mode']} | {ratio(t, 'tr_iterations', 1.2)} | "
              f"{ratio(t, 'tr_time', 0.5)} | {best} | {ratio(t, 'default', 1.5)} |")
    _print_candidates(results)


def _print_candidates(results):
    """Each orthopt solver's time over pymanopt's best: what ``minimize()`` would score
    with that solver as its default (target ≤ 1.5; "–": did not reach the tolerance)."""
    labels = []
    for r in results["runs"]:
        if r["library"] == "orthopt" and r["solver"] not in labels:
            labels.append(r["solver"])
    print()
    print("| problem | cost | " + " | ".join(labels) + " |")
    print("|---|---|" + "---:|" * len(labels))
    for t in results["targets"]:
        rows = [r for r in results["runs"]
                if (r["problem"], r["mode"]) == (t["problem"], t["mode"])]
        theirs = [r for r in rows if r["library"] == "pymanopt"]
        if not theirs:
            continue
        their_best, _ = best(theirs)
        cells = []
        for label in labels:
            mine = next((r for r in rows if r["library"] == "orthopt" and r["solver"] == label),
                        None)
            cells.append("" if mine is None else
                         f"{mine['time'] / their_best['time']:.2f}×" if mine["reached"] else "–")
        print(f"| {t['problem']} | {t['mode']} | " + " | ".join(cells) + " |")


def profile(args):
    """cProfile of orthopt's CG on the first problem (hand-written gradient)."""
    import cProfile
    import pstats

    from threadpoolctl import threadpool_limits

    spec = make_problems(args.quick, args.suite)[args.profile_problem]
    with threadpool_limits(1):
        profiler = cProfile.Profile()
        profiler.enable()
        row = run_orthopt(spec, args.profile_mode, args.profile_solver, args.max_time)
        profiler.disable()
    print(spec["name"], row)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(18)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("textbook", "classic"), default="textbook")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per solver, median time reported (default: 3 with "
                             "--quick, 1 at full size, 1 in the classic suite)")
    parser.add_argument("--append", action="store_true",
                        help="add this call's runs to the output file (replacing the same "
                             "problem, cost, library, solver)")
    parser.add_argument("--max-time", type=float, default=None,
                        help="time cap per run in seconds (default 60, 20 with --quick)")
    parser.add_argument("--modes", default="autograd,hand")
    parser.add_argument("--problems", default="",
                        help="comma-separated indices into the problem list (default: all)")
    parser.add_argument("--pymanopt-solvers", default=None,
                        help="default: TrustRegions,ConjugateGradient (textbook), "
                             "SteepestDescent,ConjugateGradient,TrustRegions (classic)")
    parser.add_argument("--orthopt-solvers", default=None,
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
    textbook = args.suite == "textbook"
    if args.pymanopt_solvers is None:
        args.pymanopt_solvers = ",".join(TEXTBOOK_PYMANOPT if textbook else PYMANOPT_SOLVERS)
    if args.orthopt_solvers is None:
        args.orthopt_solvers = ",".join(TEXTBOOK_ORTHOPT if textbook else DEFAULT_ORTHOPT)
    if args.repeats is None:
        args.repeats = 3 if (textbook and args.quick) else 1
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
        results = _merged(None, results)
        _print_table(results)
        if args.output:
            _write(results, args.output)
        return
    args.output = args.output or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        {("textbook", False): "solvers.json", ("textbook", True): "solvers_textbook_quick.json",
         ("classic", False): "solvers_classic.json",
         ("classic", True): "solvers_quick.json"}[(args.suite, args.quick)])
    results = benchmark(args)
    _write(results, args.output)
    print(f"\nwrote {args.output}")


def _write(results, output):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as fh:
        json.dump(results, fh, indent=2, default=lambda o: None if o is None else str(o))


if __name__ == "__main__":
    main()
