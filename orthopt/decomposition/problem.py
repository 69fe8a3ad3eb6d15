r"""The sparse PCA problem on the Stiefel manifold, shared by all its solvers.

Problem
-------
Given a symmetric positive semidefinite matrix A (n × n: a covariance or Gram
matrix), find n × r loadings with orthonormal columns that capture much of
its variance with few nonzero entries:

.. math::

    \min_{X \in \mathrm{St}(n, r)} F(X) = f(X) + h(X), \qquad
    f(X) = -\operatorname{tr}(X^\top A X), \qquad h(X) = \alpha \|X\|_1,

where ``St(n, r) = {X : XᵀX = I_r}`` and ``‖X‖₁ = Σ_ij |X_ij|``. This is the
formulation of ManPG (Chen, Ma, So & Zhang 2020, eq. (1.2)). The smooth part
has Euclidean gradient ∇f(X) = −2AX, Lipschitz with constant L = 2‖A‖₂;
``h`` is convex but not differentiable where an entry is zero, which is
exactly what produces exact zeros in the solution.

A need not be stored: every solver here only needs the product A·X (an
n × r matrix), so A may be a dense array, a :class:`scipy.sparse.linalg.LinearOperator`,
or any callable ``X ↦ A X`` — e.g. ``X ↦ Dᵀ(D X)/(m−1)`` for a data matrix D
that is too wide to form its covariance. Givens coordinate descent is the
exception: it reads single entries of A and needs it dense.

Total or adjusted variance
--------------------------
tr(XᵀAX) is the *total* variance of the scores S = DX (D the centred data,
A = DᵀD/(m − 1)). It is invariant under X ↦ XQ, Q orthogonal, so the ℓ1 term
alone chooses the rotation: the sparsest basis of a good subspace, whose
scores are correlated and share variance. The *adjusted* variance of Zou,
Hastie & Tibshirani (2006) counts each score only for what it adds to the
previous ones: with the Cholesky factorization G = XᵀAX = RᵀR,

.. math::

    \operatorname{av}(X) = \sum_{j=1}^r R_{jj}^2, \qquad
    R_{jj}^2 = G_{jj} - g_j^\top G_{<j}^{-1} g_j
             = x_j^\top A_{(j-1)}\, x_j ,

the variance of score j after regressing out scores 1, …, j−1, i.e. the
variance x_jᵀA_{(j−1)}x_j under Schur-complement deflation
A_{(j)} = A_{(j−1)} − A_{(j−1)}x_jx_jᵀA_{(j−1)} / (x_jᵀA_{(j−1)}x_j)
(Mackey 2009, "Deflation methods for sparse PCA", NIPS). av(X) ≤ tr(XᵀAX),
with equality iff the scores are uncorrelated, and its maximum over St(n, r)
is the PCA value Σ_{j≤r} λ_j(A), reached by the leading eigenvectors. Its
Euclidean gradient needs no more than the product AX:

.. math::

    \nabla \operatorname{av}(X) = 2AX\,M, \qquad
    M = R^{-1} \operatorname{diag}(R)^2 R^{-\top}
    = \sum_j R_{jj}^2\, u_j u_j^\top, \quad u_j = R^{-1}e_j,

because d(R_jj²) = R_jj² tr((pad G_j^{-1} − pad G_{j−1}^{-1}) dG) with G_j
the leading j × j block, and pad(G_j^{-1}) − pad(G_{j−1}^{-1}) = u_ju_jᵀ
(the leading blocks of R^{-1} invert those of R). M = I when G is diagonal,
so the two gradients agree at PCA. Replacing f(X) = −tr(XᵀAX) by
f(X) = −av(X) (``variance="adjusted"``) makes the ℓ1 trade-off one between
sparsity and *adjusted* variance: the loadings keep the columns' scores
close to uncorrelated instead of letting them share variance. The order of
the columns matters (component j is charged for what components < j
already explain); solvers keep the order of the starting point, which for
``init="pca"`` is the order of the eigenvalues.

This module holds what the solvers share: the operator wrapper, the
objective, the captured variance and its gradient, the soft-thresholding
proximal map, the PCA starting point and the result record.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..backend import asarray_like, default_rng, eye_like, get_namespace, to_float, to_numpy
from ..optim.result import OptimizeResult

__all__ = [
    "CovarianceOperator",
    "as_operator",
    "objective",
    "captured_variance",
    "check_variance",
    "VARIANCES",
    "soft_threshold",
    "pca_loadings",
    "initial_point",
    "check_alpha",
    "SparsePCAResult",
]


class CovarianceOperator:
    """A symmetric PSD n × n matrix A seen only through X ↦ A X.

    Parameters
    ----------
    matvec : callable
        ``matvec(X)`` returns A X for X of shape (n, r) (an array of the same
        namespace and device as X).
    n : int
        Size of A.
    dense : array, shape (n, n), optional
        The matrix itself when it is stored; solvers that need entries
        (Givens coordinate descent, exact eigendecompositions) use it.
    trace : float, optional
        tr(A), for explained-variance ratios; computed from ``dense`` if given.

    Notes
    -----
    ``norm2()`` estimates ‖A‖₂ = λ_max(A) (A is PSD) by the power method on
    the operator and caches it; ManPG's step size is t = 1/(2‖A‖₂).
    """

    def __init__(self, matvec: Callable, n: int, dense=None, trace: float | None = None):
        self.matvec = matvec
        self.n = int(n)
        self.dense = dense
        if trace is None and dense is not None:
            xp = get_namespace(dense)
            trace = to_float(xp.sum(xp.linalg.diagonal(dense)))
        self.trace = trace
        self._norm2 = None

    def __call__(self, x):
        return self.matvec(x)

    def norm2(self, like=None, rng=0) -> float:
        """Largest eigenvalue of A (its spectral norm, A being PSD)."""
        if self._norm2 is None:
            if self.dense is not None:
                xp = get_namespace(self.dense)
                self._norm2 = float(np.max(to_numpy(xp.linalg.eigvalsh(self.dense))))
            else:
                self._norm2 = _power_method(self, like=like, rng=rng)
        return self._norm2


def _power_method(op: CovarianceOperator, like=None, rng=0, iterations=200, rtol=1e-5):
    """λ_max of a PSD operator by power iteration with a Rayleigh quotient.

    Only a step-size scale is needed, so a loose ``rtol`` and a 1 % safety
    margin suffice (each iteration is a pass over the data for a data operator).
    """
    gen = default_rng(rng)
    v = asarray_like(gen.standard_normal((op.n, 1)), like=like)
    xp = get_namespace(v)
    v = v / xp.linalg.vector_norm(v)
    lam = 0.0
    for _ in range(iterations):
        w = op(v)
        new = to_float(xp.sum(v * w))
        nw = to_float(xp.linalg.vector_norm(w))
        if nw == 0.0:
            return 0.0
        v = w / nw
        if abs(new - lam) <= rtol * abs(new):
            lam = new
            break
        lam = new
    # Rayleigh quotient ≤ λ_max; a 1 % margin keeps t = 1/(2‖A‖₂) a safe step.
    return 1.01 * lam


def as_operator(a, n: int | None = None) -> CovarianceOperator:
    """Wrap a dense matrix, a LinearOperator or a callable as a :class:`CovarianceOperator`.

    Parameters
    ----------
    a : array (n, n), scipy.sparse.linalg.LinearOperator, CovarianceOperator or callable
        A symmetric positive semidefinite matrix or the map X ↦ A X.
    n : int, optional
        Required when ``a`` is a plain callable (its size cannot be inferred).

    Returns
    -------
    CovarianceOperator
    """
    if isinstance(a, CovarianceOperator):
        return a
    if hasattr(a, "matmat") and hasattr(a, "shape"):  # scipy LinearOperator
        return CovarianceOperator(lambda x: a.matmat(x), a.shape[0])
    if callable(a) and not hasattr(a, "shape"):
        if n is None:
            raise ValueError(
                "A was given as a callable X -> A X, so its size is unknown; "
                "pass n=<number of features> (or n_features) as well"
            )
        return CovarianceOperator(a, n)
    xp = get_namespace(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(
            f"A must be a square (n, n) covariance or Gram matrix; got shape {tuple(a.shape)}"
        )
    return CovarianceOperator(lambda x: a @ x, a.shape[0], dense=a)


def check_alpha(alpha) -> float:
    """Validate the ℓ1 weight α ≥ 0 (a finite real number)."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a real number >= 0; got {alpha!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(
            f"alpha must be a finite number >= 0 (the weight of the l1 penalty); got {alpha!r}. "
            "Use alpha=0 for plain PCA."
        )
    return value


#: The variance criteria the smooth part of the objective can maximize.
VARIANCES = ("total", "adjusted")


def check_variance(variance) -> str:
    """Validate the ``variance`` criterion ("total" or "adjusted")."""
    if variance not in VARIANCES:
        raise ValueError(
            f"variance must be one of {VARIANCES} (total variance tr(XᵀAX), or the "
            f"adjusted variance of Zou, Hastie & Tibshirani); got {variance!r}"
        )
    return variance


def captured_variance(x, ax, variance="total"):
    r"""The variance captured by loadings X and its Euclidean gradient.

    Parameters
    ----------
    x, ax : array, shape (n, r)
        Loadings X (orthonormal columns) and the product A X.
    variance : {"total", "adjusted"}
        ``"total"``: tr(XᵀAX), gradient 2AX. ``"adjusted"``: av(X) = Σ_j R_jj²
        with XᵀAX = RᵀR, gradient 2AX·R^{-1}diag(R)²R^{-ᵀ} (module docstring).

    Returns
    -------
    value : float
    gradient : array, shape (n, r)
        ∂value/∂X, in the namespace and on the device of ``x``.

    Notes
    -----
    The r × r algebra of the adjusted variance runs on the host. A ridge of
    10·eps·tr(G) is added to G = XᵀAX before its Cholesky factorization, so
    that the value and the gradient stay defined (and continuous) when a
    score has no variance left after the previous ones (A singular on the
    span of X); it changes the value by at most ~r·10·eps·tr(G).
    """
    xp = get_namespace(x)
    if variance == "total":
        return to_float(xp.sum(x * ax)), 2 * ax
    check_variance(variance)
    gram = to_numpy(x.T @ ax)
    gram = (gram + gram.T) / 2
    r = gram.shape[0]
    ridge = 10 * np.finfo(np.float64).eps * max(float(np.trace(gram)), np.finfo(np.float64).tiny)
    upper = np.linalg.cholesky(gram + ridge * np.eye(r)).T  # G = RᵀR, R upper triangular
    diag = np.diag(upper)
    # W = R^{-1} diag(R): unit upper triangular; M = W Wᵀ
    w = _solve_upper(upper, np.diag(diag))
    m = w @ w.T
    return float(np.sum(diag**2)), 2 * (ax @ asarray_like(m, like=x))


def _solve_upper(upper, rhs):
    """Solve R Y = rhs for upper-triangular R (back substitution, r × r)."""
    import scipy.linalg

    return scipy.linalg.solve_triangular(upper, rhs, lower=False)


def objective(x, ax, alpha: float, weights=None, variance="total") -> float:
    """F(X) = −v(X) + α‖X‖₁ given X and the product A X.

    Parameters
    ----------
    x, ax : array, shape (n, r)
    alpha : float
    weights : array, shape (n, r), optional
        Entrywise weights W ≥ 0: the penalty becomes α Σ_ij W_ij |X_ij|.
    variance : {"total", "adjusted"}, default "total"
        v(X) = tr(XᵀAX) or the adjusted variance (see :func:`captured_variance`).

    Returns
    -------
    float
    """
    xp = get_namespace(x)
    absx = xp.abs(x) if weights is None else weights * xp.abs(x)
    if variance == "total":
        return to_float(-xp.sum(x * ax) + alpha * xp.sum(absx))
    return -captured_variance(x, ax, variance)[0] + alpha * to_float(xp.sum(absx))


def soft_threshold(b, tau: float):
    r"""Proximal map of τ‖·‖₁: entrywise sign(b)·max(|b| − τ, 0).

    prox_{τ‖·‖₁}(B) = argmin_Z ½‖Z − B‖² + τ‖Z‖₁, solved entry by entry.
    """
    xp = get_namespace(b)
    return xp.sign(b) * xp.maximum(xp.abs(b) - tau, xp.zeros_like(b))


def pca_loadings(op: CovarianceOperator, r: int, like=None, rng=0, iterations=300, tol=1e-12):
    """The r leading eigenvectors of A (columns, orthonormal), largest first.

    Dense A: a full symmetric eigendecomposition (``xp.linalg.eigh``).
    Operator A: block subspace iteration with Rayleigh–Ritz, A only through
    products A·V.

    Returns
    -------
    v : array, shape (n, r)
    eigenvalues : array, shape (r,)
    """
    if op.dense is not None:
        xp = get_namespace(op.dense)
        w, v = xp.linalg.eigh(op.dense)
        order = xp.flip(xp.argsort(w))[:r]
        v = xp.take(v, order, axis=1)
        return _fix_signs(v), xp.take(w, order)
    gen = default_rng(rng)
    k = min(op.n, r + 5)  # a few extra vectors speed up convergence of the top r
    v = asarray_like(gen.standard_normal((op.n, k)), like=like)
    xp = get_namespace(v)
    v, _ = xp.linalg.qr(v)
    previous = None
    for _ in range(iterations):
        av = op(v)
        small = v.T @ av
        w, s = xp.linalg.eigh((small + small.T) / 2)
        order = xp.flip(xp.argsort(w))
        s = xp.take(s, order, axis=1)
        w = xp.take(w, order)
        v, _ = xp.linalg.qr(av @ s)
        top = to_numpy(w[:r])
        if previous is not None and np.max(np.abs(top - previous)) <= tol * max(1.0, abs(top[0])):
            break
        previous = top
    av = op(v)
    small = v.T @ av
    w, s = xp.linalg.eigh((small + small.T) / 2)
    order = xp.flip(xp.argsort(w))[:r]
    v = v @ xp.take(s, order, axis=1)
    return _fix_signs(v), xp.take(w, order)


def _fix_signs(v):
    """Flip columns so that each one's largest-magnitude entry is positive."""
    xp = get_namespace(v)
    idx = xp.argmax(xp.abs(v), axis=0)
    picked = xp.take_along_axis(v, idx[None, :], axis=0)[0, :]
    signs = xp.where(picked < 0, -xp.ones_like(picked), xp.ones_like(picked))
    return v * signs[None, :]


def initial_point(op: CovarianceOperator, r: int, init="pca", rng=None, like=None, dtype=None):
    """Starting loadings X₀ ∈ St(n, r).

    Parameters
    ----------
    init : {"pca", "random"} or array (n, r)
        ``"pca"``: the r leading eigenvectors of A (deterministic; with α = 0
        they are already optimal). ``"random"``: the Q factor of a Gaussian
        matrix, as in ManPG's experiments. An array is used as given after a
        check that its columns are orthonormal.
    """
    if isinstance(init, str):
        if init == "pca":
            x, w = pca_loadings(op, r, like=like, rng=rng if rng is not None else 0)
            if op.dense is None and op._norm2 is None:
                # the leading Ritz value is λ_max(A): no separate power method needed
                op._norm2 = 1.01 * float(to_numpy(w)[0])
            return x
        if init == "random":
            gen = default_rng(rng)
            q, _ = np.linalg.qr(gen.standard_normal((op.n, r)))
            ref = like if like is not None else op.dense
            return asarray_like(q, like=ref, dtype=dtype)
        raise ValueError(f"init must be 'pca', 'random' or an (n, r) array; got {init!r}")
    x = init
    xp = get_namespace(x)
    if tuple(x.shape) != (op.n, r):
        raise ValueError(f"init has shape {tuple(x.shape)}; expected ({op.n}, {r})")
    err = to_float(xp.linalg.matrix_norm(x.T @ x - eye_like(x, r)))
    if err > 1e-6:
        raise ValueError(
            f"init is not on St({op.n}, {r}): ||XᵀX − I|| = {err:.1e}; "
            "orthonormalize it first (e.g. orthopt.linalg.polar(init))"
        )
    return x


#: What a sparse-PCA solver returns: the package's one result type,
#: :class:`orthopt.optim.OptimizeResult` (a dict with attribute access), with the
#: sparse-PCA fields ``x`` (n, r) orthonormal loadings, ``fun`` (the objective at
#: ``x``), ``nit``, ``stationarity`` (the solver's own stopping measure at ``x``;
#: ManPG: ‖V‖/t), ``success``, ``message``, ``time``, ``history`` (per-iteration
#: values) and ``extra`` (solver-specific counters).
SparsePCAResult = OptimizeResult
