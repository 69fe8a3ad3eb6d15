"""Problems and solvers on manifolds with orthonormal columns."""
from .line_search import backtracking
from .minimize import METHODS, infer_manifold, minimize
from .problem import Problem
from .result import OptimizeResult
from .rgd import RiemannianGradientDescent
from .solver import Solver, Step

__all__ = [
    "Problem",
    "OptimizeResult",
    "Solver",
    "Step",
    "RiemannianGradientDescent",
    "backtracking",
    "minimize",
    "infer_manifold",
    "METHODS",
]
