"""Sparse PCA with orthonormal loadings.

``SparsePCA`` is a drop-in for ``sklearn.decomposition.SparsePCA`` whose
components are exactly orthonormal; the solvers behind it (ManPG, Givens
coordinate descent, smoothed Riemannian gradient) are also usable directly on
a covariance matrix or an operator X ↦ A X.
"""

from .datasets import load_pitprops
from .givens_spca import givens_spca
from .manpg import manpg
from .metrics import (
    adjusted_variance,
    cumulative_explained_variance,
    orthogonality_error,
    sparsity,
    subspace_distance,
)
from .problem import CovarianceOperator, SparsePCAResult, objective
from .sparse_pca import SparsePCA, solve_sparse_pca

__all__ = [
    "SparsePCA",
    "solve_sparse_pca",
    "manpg",
    "givens_spca",
    "smoothed_spca",
    "load_pitprops",
    "adjusted_variance",
    "cumulative_explained_variance",
    "sparsity",
    "orthogonality_error",
    "subspace_distance",
    "CovarianceOperator",
    "SparsePCAResult",
    "objective",
]


def __getattr__(name):
    # the smoothed solver builds on orthopt.optim; import it only when asked for
    if name == "smoothed_spca":
        from .smoothed import smoothed_spca

        return smoothed_spca
    raise AttributeError(f"module 'orthopt.decomposition' has no attribute {name!r}")
