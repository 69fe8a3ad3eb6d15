r"""Three problems with known solutions, solved end to end (``orthopt demo``).

1. **Brockett cost** on St(500, 10): f(X) = tr(XᵀAXN), A symmetric with
   random eigenvectors and eigenvalues 1, 2, …, n, N = diag(p, …, 1). Its minimum pairs the p smallest eigenvalues of A with the
   weights in reverse order, f* = Σᵢ λᵢ·(p − i + 1) (Brockett 1991), so the
   optimum comes from :func:`numpy.linalg.eigh`.
2. **Orthogonal Procrustes** on SO(200): f(X) = ‖AX − B‖²_F with
   B = AQ + noise, Q a random rotation. The minimizer over O(n) is UVᵀ from
   the SVD AᵀB = UΣVᵀ (Schönemann 1966), computed by
   :func:`scipy.linalg.orthogonal_procrustes`; with small noise it has
   det = +1, so it is also the minimizer over SO(n).
3. **Unitary Procrustes** on U(64): the same with complex A, B; the
   minimizer is UVᴴ from the SVD of AᴴB.
"""

from __future__ import annotations

import time

import numpy as np

from ._threads import blas_threads
from .manifolds import SpecialOrthogonal, Stiefel, Unitary
from .optim import Problem, RiemannianGradientDescent

__all__ = ["run_demo", "demo_problems"]


def _brockett(rng, n=500, p=10):
    # random eigenvectors, eigenvalues spread evenly over [1, n]: gaps of 1
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    a = (q * np.linspace(1.0, n, n)) @ q.T
    a = (a + a.T) / 2
    weights = np.arange(p, 0, -1.0)
    eigenvalues = np.linalg.eigvalsh(a)
    optimum = float(np.sum(eigenvalues[:p] * weights))

    def cost_and_gradient(x):
        ax = a @ x
        return float(np.sum(x * ax * weights)), 2.0 * ax * weights

    manifold = Stiefel(n, p, retraction="qr")
    return "Brockett tr(XᵀAXN)", manifold, cost_and_gradient, optimum


def _procrustes(rng, manifold, m, dtype):
    n = manifold.n
    a = rng.standard_normal((m, n))
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((m, n))
    q_true = manifold.random_point(rng=rng)
    noise = 0.1 * rng.standard_normal((m, n))
    b = a @ q_true + noise
    import scipy.linalg

    r, _ = scipy.linalg.orthogonal_procrustes(a, b)
    optimum = float(np.linalg.norm(a @ r - b) ** 2)
    if not np.iscomplexobj(r) and np.linalg.det(r) < 0:  # pragma: no cover - seed dependent
        raise RuntimeError("the O(n) Procrustes solution left SO(n); pick another seed")

    def cost_and_gradient(x):
        residual = a @ x - b
        return float(np.linalg.norm(residual) ** 2), 2.0 * (a.conj().T @ residual)

    return cost_and_gradient, optimum


def demo_problems(seed=0):
    """The three demo problems.

    Returns
    -------
    list of (name, manifold, cost_and_gradient, optimum)
    """
    rng = np.random.default_rng(seed)
    problems = [_brockett(rng)]
    so = SpecialOrthogonal(200, retraction="cayley")
    cg, opt = _procrustes(rng, so, 400, np.float64)
    problems.append(("Procrustes ‖AX − B‖²", so, cg, opt))
    u = Unitary(64, retraction="polar")
    cg, opt = _procrustes(rng, u, 128, np.complex128)
    problems.append(("unitary Procrustes", u, cg, opt))
    return problems


def run_demo(seed=0, plot=None, verbose=False, out=print):
    """Solve the demo problems and print a table; optionally save a figure.

    Parameters
    ----------
    seed : int
        Seed of the problem data and the random starts.
    plot : str or path, optional
        Save the convergence figure (relative cost error per iteration) here.
    verbose : bool
        Show progress bars.
    out : callable
        Where lines of the table go.

    Returns
    -------
    list of dict
        One row per problem with the columns of the table.
    """
    rows, results, optima, labels = [], [], [], []
    header = (f"{'problem':<22} {'manifold':<22} {'retraction':<10} {'iters':>6} "
              f"{'final cost':>20} {'known optimum':>20} {'rel. error':>10} "
              f"{'‖grad‖':>9} {'‖XᴴX − I‖':>10} {'time [s]':>8}")
    out(header)
    out("-" * len(header))
    # one thread for every BLAS, SciPy's included (see orthopt._threads): multithreaded
    # BLAS on small machines is erratic (12.8 s instead of 0.86 s for the Brockett solve)
    with blas_threads(1):
        for k, (name, manifold, cost_and_gradient, optimum) in enumerate(demo_problems(seed)):
            problem = Problem(manifold, None, cost_and_gradient=cost_and_gradient)
            solver = RiemannianGradientDescent(
                step="bb", max_iterations=20000, gradient_tolerance=0.0,
                relative_gradient_tolerance=1e-9, verbose=verbose,
            )
            start = time.perf_counter()
            res = solver.run(problem, x0=manifold.random_point(rng=seed + 1 + k))
            elapsed = time.perf_counter() - start
            rel = abs(res.fun - optimum) / abs(optimum)
            size = (f"St({manifold.n}, {manifold.p})" if type(manifold) is Stiefel
                    else repr(manifold).split(",")[0] + ")")
            row = dict(problem=name, manifold=size, retraction=manifold.retraction_name,
                       iterations=res.nit, cost=res.fun, optimum=optimum, relative_error=rel,
                       grad_norm=res.grad_norm, feasibility=manifold.feasibility(res.x),
                       time=elapsed, status=res.status)
            rows.append(row)
            out(f"{name:<22} {size:<22} {row['retraction']:<10} {res.nit:>6d} "
                f"{res.fun:>20.12f} {optimum:>20.12f} {rel:>10.1e} {res.grad_norm:>9.1e} "
                f"{row['feasibility']:>10.1e} {elapsed:>8.2f}")
            results.append(res)
            optima.append(optimum)
            labels.append(f"{name} on {size}")
    out("")
    out("solver: Riemannian gradient descent, Barzilai–Borwein steps with the Zhang–Hager "
        "nonmonotone line search (orthopt.RiemannianGradientDescent(step='bb'))")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        from .viz import plot_convergence

        ax = plot_convergence(results, labels=labels, quantity="cost_gap", optimum=optima)
        ax.set_title("orthopt demo: convergence to the known optima")
        ax.figure.savefig(plot, dpi=120)
        out(f"convergence figure saved to {plot}")
    return rows
