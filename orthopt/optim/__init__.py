"""Problems and solvers on manifolds with orthonormal columns.

Deterministic solvers (``.run(problem, x0)``): :class:`RiemannianGradientDescent`,
:class:`RiemannianConjugateGradient`, :class:`GivensCoordinateDescent`,
:class:`ProjUNN`. Stochastic steppers for training loops (``.step(x, egrad,
state)``, which every solver also has): :class:`RiemannianSGD`,
:class:`RiemannianRMSprop`. SciPy-shaped entry point: :func:`minimize`.
"""
from .cg import RiemannianConjugateGradient
from .coordinate import GivensCoordinateDescent
from .line_search import backtracking, strong_wolfe
from .minimize import METHODS, infer_manifold, minimize
from .problem import Problem
from .projunn import ProjUNN
from .result import OptimizeResult
from .rgd import RiemannianGradientDescent
from .solver import Solver, Step, inner_float
from .stochastic import RiemannianRMSprop, RiemannianSGD

__all__ = [
    "Problem",
    "OptimizeResult",
    "Solver",
    "Step",
    "RiemannianGradientDescent",
    "RiemannianConjugateGradient",
    "GivensCoordinateDescent",
    "ProjUNN",
    "RiemannianSGD",
    "RiemannianRMSprop",
    "backtracking",
    "strong_wolfe",
    "inner_float",
    "minimize",
    "infer_manifold",
    "METHODS",
]
