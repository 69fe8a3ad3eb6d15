"""Second-order tools: check_hessian's reliability, trust regions against pymanopt, L-BFGS.

Three measurements, BLAS pinned to one thread (threadpoolctl), one process:

``check_hessian``
    How often the verdict is right. Right Hessians: Brockett (hand and
    finite-difference Hessians) and Procrustes costs on St(7, 3) real and
    complex, SO(5), U(4), every dtype, 4 data seeds × 8 (point, direction)
    seeds. Wrong ones: the Brockett Hessian off by a factor 2, same grid.
``trust regions``
    orthopt's RiemannianTrustRegions against pymanopt 2.2's TrustRegions on
    Brockett min tr(xᵀAxN), A = (G + Gᵀ)/2, N = diag(p, …, 1), hand gradient
    and Hessian, same x₀, both stopping at ‖grad‖ ≤ 1e-10: outer iterations,
    Hessian-vector products (orthopt: res.nhev), time, relative cost error.
``L-BFGS``
    RiemannianLBFGS against RGD with Barzilai–Borwein steps and CG on
    Brockett with A = Q diag(logspace(0, log10 κ, n)) Qᵀ (condition number
    κ), ‖grad‖ ≤ 1e-8, three starting points: iterations and time.

Usage::

    python benchmarks/second_order.py            # about a minute
    python benchmarks/second_order.py --quick    # smaller problems

Writes ``benchmarks/results/second_order.json`` (``second_order_quick.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from orthopt import (  # noqa: E402
    Problem,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    RiemannianLBFGS,
    RiemannianTrustRegions,
    SpecialOrthogonal,
    Stiefel,
    Unitary,
    check_hessian,
)

MANIFOLDS = {
    "St(7,3)": (lambda: Stiefel(7, 3), ("float64", "float32")),
    "St(7,3) complex": (lambda: Stiefel(7, 3, field="complex"), ("complex128", "complex64")),
    "SO(5)": (lambda: SpecialOrthogonal(5), ("float64", "float32")),
    "U(4)": (lambda: Unitary(4), ("complex128", "complex64")),
}


def _data(manifold, dtype, seed):
    n, p = manifold.n, manifold.p
    rng = np.random.default_rng(seed)
    complex_ = dtype.startswith("complex")
    a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if complex_ else 0)
    a = (a + a.conj().T) / 2
    b = rng.standard_normal((n, p)) + (1j * rng.standard_normal((n, p)) if complex_ else 0)
    return a.astype(dtype), np.diag(np.arange(p, 0, -1.0)).astype(dtype), b.astype(dtype)


def _brockett(manifold, a, nn, hessian="hand", factor=1.0):
    def cost(x):
        return float(np.real(np.trace(x.conj().T @ a @ x @ nn)))

    kwargs = {} if hessian == "finite-difference" else {
        "euclidean_hessian": lambda x, v: factor * 2 * a @ v @ nn}
    return Problem(manifold, cost, euclidean_gradient=lambda x: 2 * a @ x @ nn, **kwargs)


def _procrustes(manifold, b):
    return Problem(manifold, lambda x: 0.5 * float(np.sum(np.abs(x - b) ** 2)),
                   euclidean_gradient=lambda x: x - b, euclidean_hessian=lambda x, v: v)


def check_hessian_reliability(data_seeds, point_seeds):
    rows = []
    for name, (make, dtypes) in MANIFOLDS.items():
        manifold = make()
        for dtype in dtypes:
            right = wrong = right_passed = wrong_failed = 0
            slopes_right, slopes_wrong = [], []
            for data_seed in range(data_seeds):
                a, nn, b = _data(manifold, dtype, data_seed)
                problems = [_brockett(manifold, a, nn), _procrustes(manifold, b),
                            _brockett(manifold, a, nn, "finite-difference")]
                wrong_problem = _brockett(manifold, a, nn, factor=2.0)
                for seed in range(point_seeds):
                    x = manifold.random_point(rng=100 + seed, dtype=dtype)
                    for problem in problems:
                        check = check_hessian(problem, x=x, rng=seed)
                        right += 1
                        right_passed += check.passed
                        slopes_right.append(check.slope)
                    check = check_hessian(wrong_problem, x=x, rng=seed)
                    wrong += 1
                    wrong_failed += not check.passed
                    slopes_wrong.append(check.slope)
            rows.append({"manifold": name, "dtype": dtype, "right": right,
                         "right_passed": right_passed, "wrong": wrong,
                         "wrong_failed": wrong_failed,
                         "min_slope_right": float(np.nanmin(slopes_right)),
                         "max_slope_wrong": float(np.nanmax(slopes_wrong))})
            print(f"  {name:16s} {dtype:10s} right {right_passed}/{right} passed "
                  f"(min slope {rows[-1]['min_slope_right']:.2f}), wrong {wrong_failed}/{wrong} "
                  f"failed (max slope {rows[-1]['max_slope_wrong']:.2f})", flush=True)
    return rows


def trust_regions_against_pymanopt(sizes, seeds):
    import pymanopt
    from pymanopt.optimizers import TrustRegions

    rows = []
    for n, p in sizes:
        rng = np.random.default_rng(0)
        g = rng.standard_normal((n, n))
        a = (g + g.T) / 2
        nn = np.diag(np.arange(p, 0, -1.0))
        optimum = float(np.linalg.eigvalsh(a)[:p] @ np.diag(nn))
        pm_manifold = pymanopt.manifolds.Stiefel(n, p)

        @pymanopt.function.numpy(pm_manifold)
        def pm_cost(x):
            return np.trace(x.T @ a @ x @ nn)

        @pymanopt.function.numpy(pm_manifold)
        def pm_gradient(x):
            return 2 * a @ x @ nn

        @pymanopt.function.numpy(pm_manifold)
        def pm_hessian(x, v):
            return 2 * a @ v @ nn

        pm_problem = pymanopt.Problem(pm_manifold, pm_cost, euclidean_gradient=pm_gradient,
                                      euclidean_hessian=pm_hessian)
        problem = _brockett(Stiefel(n, p), a, nn)
        for seed in range(seeds):
            x0 = Stiefel(n, p).random_point(rng=seed + 1)
            start = time.perf_counter()
            pm = TrustRegions(verbosity=0, min_gradient_norm=1e-10).run(pm_problem,
                                                                        initial_point=x0)
            pm_time = time.perf_counter() - start
            res = RiemannianTrustRegions(gradient_tolerance=1e-10).run(problem, x0=x0)
            rows.append({"n": n, "p": p, "seed": seed,
                         "orthopt": {"iterations": res.nit, "hessian_products": res.nhev,
                                     "time": res.time, "status": res.status,
                                     "relative_error": abs(res.fun - optimum) / abs(optimum)},
                         "pymanopt": {"iterations": pm.iterations, "time": pm_time,
                                      "relative_error": abs(pm.cost - optimum) / abs(optimum)}})
            print(f"  St({n},{p}) seed {seed}: orthopt {res.nit} it, {res.nhev} Hess·v, "
                  f"{res.time:.3f} s | pymanopt {pm.iterations} it, {pm_time:.3f} s", flush=True)
    return rows


def lbfgs_against_first_order(cases, seeds):
    rows = []
    for n, p, condition in cases:
        rng = np.random.default_rng(0)
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        a = q @ np.diag(np.logspace(0.0, np.log10(condition), n)) @ q.T
        nn = np.diag(np.arange(p, 0, -1.0))
        problem = Problem(Stiefel(n, p), lambda x: float(np.trace(x.T @ a @ x @ nn)),
                          euclidean_gradient=lambda x: 2 * a @ x @ nn)
        solvers = {"lbfgs": RiemannianLBFGS, "rgd-bb": lambda **o: RiemannianGradientDescent(
            step_size="bb", **o), "cg": RiemannianConjugateGradient}
        for seed in range(seeds):
            x0 = Stiefel(n, p).random_point(rng=seed + 1)
            row = {"n": n, "p": p, "condition": condition, "seed": seed}
            for name, make in solvers.items():
                res = make(gradient_tolerance=1e-8, max_iterations=20000).run(problem, x0=x0)
                row[name] = {"iterations": res.nit, "evaluations": res.nfev, "time": res.time,
                             "status": res.status}
            rows.append(row)
            print(f"  St({n},{p}) κ={condition:.0e} seed {seed}: " + " | ".join(
                f"{k} {row[k]['iterations']} it {row[k]['time']:.2f} s" for k in solvers),
                flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with threadpool_limits(limits=1, user_api="blas"):
        print("check_hessian verdicts:")
        reliability = check_hessian_reliability(2 if args.quick else 4, 4 if args.quick else 8)
        print("trust regions against pymanopt:")
        tr = trust_regions_against_pymanopt([(50, 5)] if args.quick else [(200, 5), (500, 10)],
                                            2 if args.quick else 3)
        print("L-BFGS against first-order methods:")
        lbfgs = lbfgs_against_first_order(
            [(12, 3, 1e2)] if args.quick else [(12, 3, 1e2), (12, 3, 1e3), (30, 5, 1e2)],
            2 if args.quick else 3)
    result = {"machine": platform.platform(), "python": platform.python_version(),
              "numpy": np.__version__, "check_hessian": reliability, "trust_regions": tr,
              "lbfgs": lbfgs}
    name = "second_order_quick.json" if args.quick else "second_order.json"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)
    with open(path, "w") as handle:
        json.dump(result, handle, indent=1, default=lambda value: value.item())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
