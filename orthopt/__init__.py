"""orthopt: optimization under orthogonality constraints, min f(B) s.t. BᴴB = I.

The public names:

* manifolds — :class:`Stiefel`, :class:`SpecialOrthogonal`, :class:`Unitary`;
* problems and solvers — :class:`Problem`, :func:`minimize`,
  :class:`OptimizeResult`, :class:`RiemannianGradientDescent`,
  :class:`RiemannianConjugateGradient`, :class:`RiemannianLBFGS`,
  :class:`RiemannianTrustRegions`, :class:`GivensCoordinateDescent`,
  :class:`ProjUNN`; stochastic steppers for training loops
  :class:`RiemannianSGD`, :class:`RiemannianRMSprop`;
* diagnostics — :func:`check_gradient`, :func:`check_hessian`, :func:`check_retraction`,
  :func:`check_manifold`.
"""
from .diagnostics import check_gradient, check_hessian, check_manifold, check_retraction
from .manifolds import SpecialOrthogonal, Stiefel, Unitary
from .optim import (
    GivensCoordinateDescent,
    OptimizeResult,
    Problem,
    ProjUNN,
    RiemannianConjugateGradient,
    RiemannianGradientDescent,
    RiemannianLBFGS,
    RiemannianRMSprop,
    RiemannianSGD,
    RiemannianTrustRegions,
    minimize,
)

__version__ = "0.1.0"

__all__ = [
    "Stiefel",
    "SpecialOrthogonal",
    "Unitary",
    "Problem",
    "RiemannianGradientDescent",
    "RiemannianConjugateGradient",
    "RiemannianLBFGS",
    "RiemannianTrustRegions",
    "GivensCoordinateDescent",
    "ProjUNN",
    "RiemannianSGD",
    "RiemannianRMSprop",
    "OptimizeResult",
    "minimize",
    "check_gradient",
    "check_hessian",
    "check_retraction",
    "check_manifold",
]
