"""Problems and solvers on manifolds with orthonormal columns.

Deterministic solvers (``.run(problem, x0)``): :class:`RiemannianGradientDescent`,
:class:`RiemannianConjugateGradient`, :class:`RiemannianLBFGS`,
:class:`RiemannianTrustRegions`, :class:`GivensCoordinateDescent`,
:class:`ProjUNN`. Stochastic steppers for training loops (``.init_state(x)``,
``.step(x, egrad, state)``): :class:`RiemannianSGD`, :class:`RiemannianRMSprop`.
Stopping criteria (:mod:`~orthopt.optim.stopping`) and step-size rules
(:mod:`~orthopt.optim.step_size`) are objects handed to the solvers.
SciPy-shaped entry point: :func:`minimize`.
"""
from .cg import RiemannianConjugateGradient
from .coordinate import GivensCoordinateDescent
from .lbfgs import RiemannianLBFGS
from .minimize import METHODS, infer_manifold, minimize
from .evaluation import Evaluation
from .problem import Problem
from .projunn import ProjUNN
from .result import OptimizeResult
from .rgd import RiemannianGradientDescent
from .solver import Solver, SolverState, Step, inner_float
from .step_size import Armijo, Fixed, NonmonotoneBB, StepSizeRule, StrongWolfe
from .stochastic import RiemannianRMSprop, RiemannianSGD
from .stopping import (
    CostChange,
    GradientNorm,
    MaxEvaluations,
    MaxIterations,
    MaxTime,
    StepSize,
    StoppingCriterion,
)
from .trust_regions import RiemannianTrustRegions

__all__ = [
    "Problem",
    "Evaluation",
    "OptimizeResult",
    "Solver",
    "SolverState",
    "Step",
    "RiemannianGradientDescent",
    "RiemannianConjugateGradient",
    "RiemannianLBFGS",
    "RiemannianTrustRegions",
    "GivensCoordinateDescent",
    "ProjUNN",
    "RiemannianSGD",
    "RiemannianRMSprop",
    "StoppingCriterion",
    "MaxIterations",
    "MaxTime",
    "MaxEvaluations",
    "GradientNorm",
    "StepSize",
    "CostChange",
    "StepSizeRule",
    "Fixed",
    "Armijo",
    "NonmonotoneBB",
    "StrongWolfe",
    "inner_float",
    "minimize",
    "infer_manifold",
    "METHODS",
]
