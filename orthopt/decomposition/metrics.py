r"""Quality measures for (sparse) PCA loadings.

Notation: A is the n × n covariance matrix, X the n × r loadings (columns),
D_c the centred m × n data, so that A = D_cᵀD_c/(m − 1) and the scores are
S = D_c X.

Adjusted variance (Zou, Hastie & Tibshirani 2006, "Sparse principal component
analysis", J. Comput. Graph. Statist. 15(2), §3.4). Sparse loadings give
correlated scores, so Σ_j var(S_j) double counts shared variance. ZHT take
the QR decomposition S = QR and credit component j with R_jj²/(m − 1): the
variance of S_j left after regressing out S_1, …, S_{j−1}. Since
SᵀS/(m − 1) = XᵀAX = RᵀR/(m − 1), R is the Cholesky factor of XᵀAX and no
data are needed:

    adjusted_variance_j = (chol(XᵀAX))_jj²,   Σ_j ≤ tr(XᵀAX) ≤ Σ_{j≤r} λ_j(A),

with equality for the leading eigenvectors. The order of the columns
matters (it is a sequential decomposition).
"""

from __future__ import annotations

import math

from ..backend import eye_like, get_namespace, to_float
from .problem import as_operator

__all__ = [
    "adjusted_variance",
    "cumulative_explained_variance",
    "sparsity",
    "orthogonality_error",
    "subspace_distance",
]


def adjusted_variance(a, x):
    """Zou–Hastie–Tibshirani adjusted variance of each loading vector.

    Parameters
    ----------
    a : array (n, n) or operator
        Covariance matrix A (or X ↦ A X).
    x : array, shape (n, r)
        Loadings (columns), typically orthonormal.

    Returns
    -------
    array, shape (r,)
        diag(R)² with XᵀAX = RᵀR (R upper triangular), in the column order of x.

    Notes
    -----
    R is obtained as the R factor of S = Λ^{1/2}Qᵀ where XᵀAX = QΛQᵀ
    (SᵀS = XᵀAX), not by a Cholesky factorization: this also works when
    XᵀAX is singular (a component with no variance left gets 0, as in the
    QR of the scores), and it never fails silently on GPUs.
    """
    op = as_operator(a, n=x.shape[0])
    xp = get_namespace(x)
    gram = x.T @ op(x)
    gram = (gram + gram.T) / 2
    w, q = xp.linalg.eigh(gram)
    root = xp.sqrt(xp.maximum(w, xp.zeros_like(w)))
    _, r = xp.linalg.qr(root[:, None] * q.T)
    return xp.linalg.diagonal(r) ** 2


def cumulative_explained_variance(a, x, total=None):
    """Cumulative percentage of explained (adjusted) variance, 100·cumsum / tr(A).

    Parameters
    ----------
    a : array (n, n) or operator
    x : array, shape (n, r)
    total : float, optional
        tr(A), needed when ``a`` is an operator without a known trace.

    Returns
    -------
    array, shape (r,)
        Percentages in [0, 100].
    """
    op = as_operator(a, n=x.shape[0])
    xp = get_namespace(x)
    if total is None:
        total = op.trace
    if total is None:
        raise ValueError("tr(A) is unknown for an operator; pass total=<trace of A>")
    return 100.0 * xp.cumulative_sum(adjusted_variance(op, x)) / total


def sparsity(x, threshold=1e-5):
    """Fraction of entries with |x_ij| ≤ threshold (ManPG's convention, 1e-5)."""
    xp = get_namespace(x)
    count = to_float(xp.sum(xp.astype(xp.abs(x) <= threshold, xp.float64)))
    return count / math.prod(x.shape)


def orthogonality_error(x):
    """‖XᵀX − I‖_F for x of shape (n, r)."""
    xp = get_namespace(x)
    r = x.shape[1]
    return to_float(xp.linalg.matrix_norm(x.T @ x - eye_like(x, r)))


def subspace_distance(x, y):
    r"""‖XXᵀ − YYᵀ‖_F between the spans of two orthonormal n × r bases.

    Computed as √2 ‖Y − X(XᵀY)‖_F: both equal √(2 Σ_k sin²θ_k) over the
    principal angles θ_k, but this form has no cancellation, so distances
    near 1e-15 are resolved (the n × n projectors are never formed).

    Parameters
    ----------
    x, y : array, shape (n, r)
        Orthonormal columns (same r).

    Returns
    -------
    float
    """
    xp = get_namespace(x, y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape; got {x.shape} and {y.shape}")
    residual = y - x @ (x.T @ y)
    return math.sqrt(2.0) * to_float(xp.linalg.matrix_norm(residual))
