"""Which core solver the SparsePCA refit uses: the candidates on pitprops supports.

For ManPG's ℓ1 solutions on pitprops (6 components, tol 1e-9) the refit
maximizes v on the manifold 𝓜_S of orthonormal loadings with their zero
pattern (:class:`orthopt.decomposition.refit.SupportStiefel`) to
‖grad‖ ≤ 1e-10 with each candidate, and records iterations, evaluations,
the final gradient norm, the status and the largest single-step loss of v
(relative). Run::

    python benchmarks/refit_solvers.py      # writes benchmarks/results/refit_solvers.txt
"""

import pathlib

import numpy as np
from threadpoolctl import threadpool_limits

from orthopt.decomposition import load_pitprops, manpg
from orthopt.decomposition.problem import captured_variance
from orthopt.decomposition.refit import SupportStiefel, project_to_support_manifold
from orthopt.optim import (Armijo, GradientNorm, MaxIterations, NonmonotoneBB, Problem,
                           RiemannianGradientDescent, RiemannianLBFGS, StrongWolfe)


def candidates():
    stop = GradientNorm(1e-10) | MaxIterations(2000)
    return [
        ("rgd Armijo", RiemannianGradientDescent(step_size=Armijo(), stopping=stop)),
        ("rgd NonmonotoneBB", RiemannianGradientDescent(step_size=NonmonotoneBB(), stopping=stop)),
        ("rgd StrongWolfe(c2=0.9)", RiemannianGradientDescent(
            step_size=StrongWolfe(curvature=0.9, max_evaluations=20), stopping=stop)),
        ("lbfgs", RiemannianLBFGS(stopping=stop)),
        ("lbfgs Wolfe(40) (refit)", RiemannianLBFGS(
            step_size=StrongWolfe(curvature=0.9, max_evaluations=40, initial_step=1.0),
            stopping=stop)),
    ]


def main():
    corr = load_pitprops()[0]
    lines = []
    for alpha, variance in [(0.5, "total"), (0.5, "adjusted"), (0.1, "total"), (2.0, "adjusted")]:
        x = manpg(corr, 6, alpha, tol=1e-9, variance=variance).x
        support = np.abs(x) > 1e-5
        z, _ = project_to_support_manifold(x, support.astype(float))

        def cost_and_gradient(y, variance=variance):
            if not np.all(np.isfinite(y)):
                return np.nan, y
            value, gradient = captured_variance(y, corr @ y, variance)
            return -value, -gradient

        problem = Problem(SupportStiefel(support), lambda y: cost_and_gradient(y)[0],
                          cost_and_gradient=cost_and_gradient)
        for name, solver in candidates():
            res = solver.run(problem, x0=z, rng=0)
            cost = res.history["cost"]
            loss = max(float(np.max(np.diff(cost))), 0.0) / abs(cost[0])
            lines.append(f"alpha={alpha:<4} {variance:9s} {name:25s} nit={res.nit:4d} "
                         f"nfev={res.nfev:4d} v={-res.fun:.12f} grad={res.grad_norm:.1e} "
                         f"{res.status:20s} largest step loss of v (relative) {loss:.1e}")
            print(lines[-1])
    out = pathlib.Path(__file__).parent / "results" / "refit_solvers.txt"
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
