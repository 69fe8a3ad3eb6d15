"""Truncated SVD on the product St(m, k) × St(n, k): orthopt against pymanopt 2.2.

The k leading singular triplets of A (m×n) maximize

    f(U, V) = tr(Uᵀ A V N),   N = diag(k, k − 1, …, 1),

over U ∈ St(m, k), V ∈ St(n, k) (Brockett's cost on a product; N breaks the
rotation symmetry, so the maximizer is U = [u₁ … u_k], V = [v₁ … v_k] up to
column signs, with f* = Σ_i (k + 1 − i)·σ_i). Both libraries minimize −f on
``Product([Stiefel(m, k), Stiefel(n, k)])`` from the same start (U₀, V₀)
(Haar-random), to the same tolerance ‖grad f‖ ≤ 1e-6·‖grad f(x₀)‖, in the same
process, with BLAS pinned to one thread (threadpoolctl). The singular values
are read off the result as diag(UᵀAV) and compared with ``numpy.linalg.svd``;
the times of ``numpy.linalg.svd`` (thin) and ``scipy.sparse.linalg.svds`` on
the same matrix are printed for scale.

A is a standard Gaussian 2000×1000 matrix: its leading singular values sit at
the edge of the Marchenko–Pastur law, a few percent apart, so every solver
needs hundreds of iterations (a hard truncated SVD, not a planted low rank).

Cost modes, as in ``benchmarks/solvers.py``:

``hand``
    orthopt: one function returning f and (∂f/∂U, ∂f/∂V) = (−AVN, −AᵀUN)
    (``cost_and_gradient``), plus the Hessian-vector product
    (−AV̇N, −AᵀU̇N) for trust regions; pymanopt: ``cost``,
    ``euclidean_gradient`` and ``euclidean_hessian`` (it has no combined
    interface).
``autograd``
    the cost written with ``autograd.numpy``; each library differentiates it.

Headline: pymanopt's best time / orthopt's best time over the solvers that
reached the tolerance (all pymanopt solvers, and its first-order ones).
Times are the process's CPU time (``time.process_time``): with BLAS on one
thread it is the work done, and on a shared machine other processes' load
(which moved wall times of the same run by 2× between passes here) leaves it
alone. Wall times are recorded too; the ``max_time`` cap is in wall time.

Usage::

    python benchmarks/products.py                # 2000×1000, k = 10, cap 60 s per run
    python benchmarks/products.py --quick        # 400×200, k = 5
    python benchmarks/products.py --modes hand --max-time 30

Writes ``benchmarks/results/products.json`` (``products_quick.json`` with ``--quick``).
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RELATIVE_TOLERANCE = 1e-6

#: label → (orthopt.optim class, constructor arguments); skipped when the class is absent
ORTHOPT_SOLVERS = {
    "RGD bb": ("RiemannianGradientDescent", {"step": "bb"}),
    "CG hz": ("RiemannianConjugateGradient", {"beta": "hz"}),
    "CG hs": ("RiemannianConjugateGradient", {"beta": "hs"}),
    "L-BFGS": ("RiemannianLBFGS", {}),
    "TR": ("RiemannianTrustRegions", {}),
}
PYMANOPT_SOLVERS = ("SteepestDescent", "ConjugateGradient", "TrustRegions")


# -- the problem ------------------------------------------------------------------------


def truncated_svd(m, n, k, seed):
    """The specification of max tr(UᵀAVN) for a Gaussian m×n matrix A (dict of callables)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, n))
    w = np.arange(k, 0, -1.0)  # N = diag(k, …, 1), applied as a column scaling
    start = time.perf_counter()
    sigma_all = np.linalg.svd(a, compute_uv=False)
    svd_time = time.perf_counter() - start
    sigma = sigma_all[:k]
    optimum = -float(np.sum(w * sigma))
    u0 = np.linalg.qr(rng.standard_normal((m, k)))[0]
    v0 = np.linalg.qr(rng.standard_normal((n, k)))[0]

    def cost(u, v):
        return -float(np.sum(u * ((a @ v) * w)))

    def cost_and_gradient(x):
        u, v = x
        avn = (a @ v) * w
        return -float(np.sum(u * avn)), (-avn, -((a.T @ u) * w))

    def gradient(u, v):
        return -((a @ v) * w), -((a.T @ u) * w)

    def hessian(u, v, du, dv):
        # the gradient is linear in (U, V): ∇²f[(U̇, V̇)] = (−AV̇N, −AᵀU̇N)
        return -((a @ dv) * w), -((a.T @ du) * w)

    def cost_autograd(u, v):
        import autograd.numpy as anp

        return -anp.sum(u * (anp.dot(a, v) * w))

    return dict(name=f"truncated SVD {m}×{n}, k = {k}", m=m, n=n, k=k, a=a, x0=(u0, v0),
                sigma=sigma, gap=float((sigma_all[k - 1] - sigma_all[k]) / sigma_all[0]),
                optimum=optimum, svd_time=svd_time, cost=cost,
                cost_and_gradient=cost_and_gradient, gradient=gradient, hessian=hessian,
                cost_autograd=cost_autograd)


def riemannian_gradient_norm(spec, u, v):
    """‖grad f(U, V)‖ on St × St with the embedded metric (the same for both libraries)."""
    total = 0.0
    for x, g in zip((u, v), spec["gradient"](u, v)):
        sym = x.T @ g
        total += float(np.sum((g - x @ ((sym + sym.T) / 2)) ** 2))
    return total ** 0.5


def outcome(spec, u, v):
    """Singular values diag(UᵀAV) (signs folded in) and their largest error relative to σ₁."""
    estimate = np.abs(np.diag(u.T @ spec["a"] @ v))
    error = float(np.max(np.abs(estimate - spec["sigma"])) / spec["sigma"][0])
    cost_error = float((spec["cost"](u, v) - spec["optimum"]) / abs(spec["optimum"]))
    return error, cost_error


# -- runners ----------------------------------------------------------------------------


def run_orthopt(spec, mode, label, max_time):
    from orthopt import optim
    from orthopt.manifolds import Product, Stiefel

    manifold = Product([Stiefel(spec["m"], spec["k"]), Stiefel(spec["n"], spec["k"])])
    if mode == "autograd":
        problem = optim.Problem(manifold, lambda x: spec["cost_autograd"](*x))
    else:
        problem = optim.Problem(manifold, None, cost_and_gradient=spec["cost_and_gradient"],
                                euclidean_hessian=lambda x, d: spec["hessian"](*x, *d))
    class_name, kwargs = ORTHOPT_SOLVERS[label]
    solver = getattr(optim, class_name)(
        **kwargs, gradient_tolerance=0.0, relative_gradient_tolerance=RELATIVE_TOLERANCE,
        max_iterations=10**7, max_time=max_time, step_tolerance=0.0,
    )
    cpu = time.process_time()
    res = solver.run(problem, x0=tuple(a.copy() for a in spec["x0"]))
    cpu = time.process_time() - cpu
    g0 = res.history["grad_norm"][0]
    u, v = res.x
    sigma_error, cost_error = outcome(spec, u, v)
    return dict(library="orthopt", solver=label, time=cpu, wall_time=res.time,
                iterations=int(res.nit),
                cost_evaluations=int(res.nfev), status=res.status,
                reached=bool(res.grad_norm <= RELATIVE_TOLERANCE * g0),
                relative_grad=float(res.grad_norm / g0), sigma_error=sigma_error,
                cost_error=cost_error)


def run_pymanopt(spec, mode, label, max_time, grad0):
    import pymanopt
    from pymanopt import optimizers

    manifold = pymanopt.manifolds.Product([pymanopt.manifolds.Stiefel(spec["m"], spec["k"]),
                                           pymanopt.manifolds.Stiefel(spec["n"], spec["k"])])
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
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = optimizer.run(problem, initial_point=[a.copy() for a in spec["x0"]])
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    u, v = res.point
    grad_norm = riemannian_gradient_norm(spec, u, v)
    sigma_error, cost_error = outcome(spec, u, v)
    return dict(library="pymanopt", solver=label, time=cpu, wall_time=elapsed,
                iterations=int(res.iterations),
                cost_evaluations=None, status=str(res.stopping_criterion),
                reached=bool(grad_norm <= RELATIVE_TOLERANCE * grad0 * (1 + 1e-9)),
                relative_grad=float(grad_norm / grad0), sigma_error=sigma_error,
                cost_error=cost_error)


def best(rows):
    """The fastest run that reached the tolerance, else the one that got closest."""
    reached = [r for r in rows if r["reached"]]
    if reached:
        return min(reached, key=lambda r: r["time"]), True
    return min(rows, key=lambda r: r["relative_grad"]), False


def headline(rows):
    """Best times and the ratio pymanopt / orthopt (all solvers, and first-order only)."""
    ours, ours_ok = best([r for r in rows if r["library"] == "orthopt"])
    head = dict(orthopt_best=ours["solver"], orthopt_time=ours["time"], orthopt_reached=ours_ok)
    for suffix, names in (("", None), ("_first_order", ("SteepestDescent", "ConjugateGradient"))):
        theirs_rows = [r for r in rows if r["library"] == "pymanopt"
                       and (names is None or r["solver"] in names)]
        if not theirs_rows:
            continue
        theirs, theirs_ok = best(theirs_rows)
        ratio = theirs["time"] / ours["time"] if (ours_ok or theirs_ok) else None
        head.update({f"pymanopt{suffix}_best": theirs["solver"],
                     f"pymanopt{suffix}_time": theirs["time"],
                     f"pymanopt{suffix}_reached": theirs_ok,
                     f"ratio{suffix}": ratio,
                     f"ratio{suffix}_is_lower_bound": (not theirs_ok) and ours_ok})
    return head


def reference_times(spec):
    """CPU seconds of numpy.linalg.svd (thin, with vectors) and scipy.sparse.linalg.svds(k)."""
    import scipy.sparse.linalg

    start = time.process_time()
    np.linalg.svd(spec["a"], full_matrices=False)
    thin = time.process_time() - start
    start = time.process_time()
    _, s, _ = scipy.sparse.linalg.svds(spec["a"], k=spec["k"], random_state=0)
    svds = time.process_time() - start
    svds_error = float(np.max(np.abs(np.sort(s)[::-1] - spec["sigma"])) / spec["sigma"][0])
    return dict(numpy_svd_thin=thin, scipy_svds=svds, scipy_svds_sigma_error=svds_error)


def benchmark(args):
    from threadpoolctl import threadpool_info, threadpool_limits

    import pymanopt
    from orthopt import optim

    results = {"tolerance": RELATIVE_TOLERANCE, "max_time": args.max_time, "quick": args.quick,
               "machine": platform.platform(), "processor": platform.processor(),
               "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
               "pymanopt": pymanopt.__version__, "runs": [], "headline": []}
    with threadpool_limits(1):
        results["blas"] = [{k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                           for i in threadpool_info()]
        m, n, k = (400, 200, 5) if args.quick else (2000, 1000, 10)
        spec = truncated_svd(m, n, k, seed=0)
        results.update(problem=spec["name"], sigma=spec["sigma"].tolist(),
                       relative_gap=spec["gap"], **reference_times(spec))
        print(f"{spec['name']}: σ₁..σ_k = {np.round(spec['sigma'], 3).tolist()}, "
              f"(σ_k − σ_k+1)/σ₁ = {spec['gap']:.1e}; numpy.linalg.svd (thin) "
              f"{results['numpy_svd_thin']:.2f} s, scipy svds {results['scipy_svds']:.2f} s",
              flush=True)
        grad0 = riemannian_gradient_norm(spec, *spec["x0"])
        for mode in args.modes:
            rows = []
            for label in args.orthopt_solvers:
                if not hasattr(optim, ORTHOPT_SOLVERS[label][0]):
                    print(f"  (orthopt has no {ORTHOPT_SOLVERS[label][0]} here: {label} skipped)")
                    continue
                rows.append(run_orthopt(spec, mode, label, args.max_time))
                _print_row(mode, rows[-1])
            for label in args.pymanopt_solvers:
                rows.append(run_pymanopt(spec, mode, label, args.max_time, grad0))
                _print_row(mode, rows[-1])
            for r in rows:
                r.update(mode=mode)
            results["runs"] += rows
            head = headline(rows)
            head.update(mode=mode)
            results["headline"].append(head)
            _write(results, args.output)  # partial results survive an interruption
    _print_table(results)
    return results


def _print_row(mode, r):
    print(f"{mode:<8} {r['library']:<8} {r['solver']:<18} {'yes' if r['reached'] else 'NO ':<4} "
          f"{r['time']:8.2f}s cpu {r['wall_time']:7.2f}s wall {r['iterations']:6d} it  "
          f"‖g‖/‖g₀‖={r['relative_grad']:.1e}  σ err={r['sigma_error']:.1e}  {r['status']}", flush=True)


def _print_table(results):
    print()
    print(f"{results['problem']}, tolerance ‖grad‖ ≤ {results['tolerance']:g}·‖grad₀‖, "
          f"BLAS 1 thread, CPU seconds; numpy.linalg.svd (thin) {results['numpy_svd_thin']:.2f} s, "
          f"scipy.sparse.linalg.svds {results['scipy_svds']:.2f} s")
    print()
    print("| cost | library | solver | reached | CPU time (s) | wall (s) | iterations | ‖g‖/‖g₀‖ | "
          "max |σ̂ − σ|/σ₁ |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for r in results["runs"]:
        print(f"| {r['mode']} | {r['library']} | {r['solver']} | "
              f"{'yes' if r['reached'] else 'no'} | {r['time']:.2f} | "
              f"{r.get('wall_time', math.nan):.2f} | {r['iterations']} | "
              f"{r['relative_grad']:.1e} | {r['sigma_error']:.1e} |")
    print()
    print("| cost | orthopt best | pymanopt best (all) | ratio | pymanopt best (SD, CG) | ratio |")
    print("|---|---|---|---:|---|---:|")

    def cell(h, suffix):
        if f"pymanopt{suffix}_best" not in h:
            return "– | –"
        mark = "≥ " if h[f"ratio{suffix}_is_lower_bound"] else ""
        reached = "" if h[f"pymanopt{suffix}_reached"] else " (not reached)"
        ratio = "n/a" if h[f"ratio{suffix}"] is None else f"{mark}{h[f'ratio{suffix}']:.1f}×"
        best, seconds = h[f"pymanopt{suffix}_best"], h[f"pymanopt{suffix}_time"]
        return f"{best} {seconds:.2f} s{reached} | {ratio}"

    for h in results["headline"]:
        ours = (f"{h['orthopt_best']} {h['orthopt_time']:.2f} s"
                + ("" if h["orthopt_reached"] else " (not reached)"))
        print(f"| {h['mode']} | {ours} | {cell(h, '')} | {cell(h, '_first_order')} |")


def _write(results, output):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w") as fh:
        json.dump(results, fh, indent=2, default=lambda o: None if o is None else str(o))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="400×200, k = 5")
    parser.add_argument("--max-time", type=float, default=60.0, help="cap per run, seconds")
    parser.add_argument("--modes", default="hand,autograd")
    parser.add_argument("--orthopt-solvers", default=",".join(ORTHOPT_SOLVERS))
    parser.add_argument("--pymanopt-solvers", default=",".join(PYMANOPT_SOLVERS))
    parser.add_argument("--output", default=None)
    parser.add_argument("--table-from", default=None, help="re-print the tables of a JSON file")
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    args.orthopt_solvers = [s for s in args.orthopt_solvers.split(",") if s]
    args.pymanopt_solvers = [s for s in args.pymanopt_solvers.split(",") if s]
    for label in args.orthopt_solvers:
        if label not in ORTHOPT_SOLVERS:
            parser.error(f"unknown orthopt solver {label!r}; choose from {list(ORTHOPT_SOLVERS)}")
    if args.table_from:
        with open(args.table_from) as fh:
            _print_table(json.load(fh))
        return
    args.output = args.output or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "products_quick.json" if args.quick else "products.json")
    benchmark(args)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
