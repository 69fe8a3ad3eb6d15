"""Sparse PCA with orthonormal loadings.

``SparsePCA`` is a drop-in for ``sklearn.decomposition.SparsePCA`` whose
components are exactly orthonormal; the solvers behind it (ManPG, Givens
coordinate descent, smoothed Riemannian gradient) are also usable directly on
a covariance matrix or an operator X ↦ A X. ManPG is a solver of the core loop
(:class:`ManPG` over a :class:`CompositeProblem`, f + α‖X‖₁), and the refit
on the support runs the core's L-BFGS on :class:`SupportStiefel`; every
solver returns :class:`orthopt.optim.OptimizeResult`.
"""

from .composite import CompositeEvaluation, CompositeProblem
from .datasets import load_pitprops
from .givens_spca import givens_spca
from .manpg import ManPG, manpg, sparse_pca_problem
from .metrics import (
    adjusted_variance,
    cumulative_explained_variance,
    orthogonality_error,
    sparsity,
    subspace_distance,
)
from .problem import CovarianceOperator, SparsePCAResult, objective
from .refit import SupportStiefel, refit_on_support
from .sparse_pca import SparsePCA, solve_sparse_pca

__all__ = [
    "SparsePCA",
    "solve_sparse_pca",
    "manpg",
    "ManPG",
    "sparse_pca_problem",
    "CompositeProblem",
    "CompositeEvaluation",
    "SupportStiefel",
    "refit_on_support",
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
