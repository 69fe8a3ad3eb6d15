r"""Training methods for the recurrent weight W: one ``method=`` switch.

Every method owns W and turns the BPTT gradient G = ∂L/∂W into an update:

=========  ===============================================================
exprnn     W = exp(A), RMSprop/Adam on skew A, ∂L/∂A via the Fréchet adjoint
dtriv      W = B exp(A), same, and B ← W, A ← 0 every K steps
scornn     W = (I + A)⁻¹(I − A)D, RMSprop/Adam on A (Helfrich et al. 2018)
vfield     W = exp(S + diag(d)), d = d_max tanh θ (inspired by Azencot et al.
           2021; W is *not* orthogonal unless d = 0)
rgd        W on SO(n)/U(n): the optimizer preconditions G (RMSprop or Adam),
           the Lie-algebra direction Ω = skew(Wᴴ P) is followed by a
           retraction W ← R_W(−lr·WΩ) ("qr", "cayley" or "exp")
projunn-d  W ← polar(W + abᴴ), abᴴ a rank-k approximation of the
           preconditioned step −lr·P (Kiani et al. 2022), O(kn²) through
           :class:`orthopt.optim.projunn.ProjUNN`
projunn-t  W ← W exp(skew(Wᴴ abᴴ)), same
givens     W ← G_ij(−lr Ω_ij) W, Ω = skew(P Wᴴ), for the coordinate(s) picked by
           rule "random", "gauss-southwell" or "block" (top-k disjoint pairs),
           through :class:`orthopt.optim.coordinate.GivensCoordinateDescent` —
           Massart & Abrol 2022, Shalit & Chechik 2014
none       W free (plain RMSprop/Adam): the unconstrained baseline
=========  ===============================================================

A method exposes ``weight`` (the current W), ``update(G, lr, rng)`` and
``state_dict()`` / ``load_state_dict()`` (arrays and numbers only, for
checkpoints).
"""

from __future__ import annotations

import numpy as np

from ..backend import conj_transpose, eye_like, get_namespace, to_numpy
from ..linalg import apply_givens, expm, givens_coefficients, polar, qr_positive, skew
from . import parametrizations as P
from .optimizers import make_optimizer

__all__ = ["METHODS", "make_method", "orthogonality_error"]

METHODS = ("exprnn", "dtriv", "scornn", "vfield", "rgd", "projunn-d", "projunn-t", "givens", "none")


def _to(a, dtype, like):
    """Host array → dtype, in the namespace and on the device of ``like`` (NumPy if None)."""
    a = np.asarray(a, dtype=dtype)
    if like is None:
        return a
    xp = get_namespace(like)
    return xp.asarray(a, device=like.device)


class _Method:
    """Shared bookkeeping: named parameters, one optimizer, a step counter."""

    orthogonal = True

    def __init__(self, optimizer, lr):
        self.optimizer = make_optimizer(optimizer, lr)
        self.params = {}
        self.count = 0
        self._weight = None

    @property
    def weight(self):
        """The current recurrent matrix W, shape (n, n)."""
        if self._weight is None:
            self._weight = self._compute_weight()
        return self._weight

    def _compute_weight(self):
        return self.params["W"]

    def update(self, grad_w, lr, rng):
        """One training step from G = ∂L/∂W with learning rate ``lr``."""
        self._update(grad_w, lr, rng)
        self.count += 1
        self._weight = None

    def state_dict(self):
        state = {"param/" + k: v for k, v in self.params.items()}
        state.update({"opt/" + k: v for k, v in self.optimizer.state_dict().items()})
        state["count"] = self.count
        return state

    def load_state_dict(self, state):
        self.params = {k[6:]: v for k, v in state.items() if k.startswith("param/")}
        self.optimizer.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("opt/")})
        self.count = int(state["count"])
        self._weight = None


class Trivialization(_Method):
    """W = φ(params); a flat optimizer trains the parameters (exprnn, dtriv, scornn, vfield)."""

    def __init__(self, name, a0, *, optimizer, lr, dtype, like, rebase_every=100, rho=None,
                 d_max=0.1):
        super().__init__(optimizer, lr)
        self.name = name
        n = a0.shape[0]
        self.rebase_every = int(rebase_every)
        self.d_max = float(d_max)
        if name == "scornn":
            rho = n // 2 if rho is None else rho
            d = P.scornn_diagonal(n, rho)
            # scoRNN initializes A itself (its "cayley" init was designed for this map)
            self.params["A"] = _to(a0, dtype, like)
            self.diagonal = _to(d, dtype, like)
        elif name == "dtriv":
            self.params["A"] = _to(np.zeros_like(a0), dtype, like)
            self.params["base"] = _to(P.exprnn_weight(a0), dtype, like)
        elif name == "vfield":
            self.params["A"] = _to(a0, dtype, like)
            self.params["theta"] = _to(np.zeros(n), np.zeros(1, dtype).real.dtype, like)
        else:
            self.params["A"] = _to(a0, dtype, like)
        self.orthogonal = name != "vfield"

    def _compute_weight(self):
        p = self.params
        if self.name == "exprnn":
            return P.exprnn_weight(p["A"])
        if self.name == "dtriv":
            return P.dtriv_weight(p["base"], p["A"])
        if self.name == "scornn":
            return P.scornn_weight(p["A"], self.diagonal)
        return P.vfield_weight(p["A"], p["theta"], self.d_max)

    def gradients(self, grad_w):
        """∂L/∂(parameters) from G = ∂L/∂W, as a dict."""
        p = self.params
        if self.name == "exprnn":
            return {"A": P.exprnn_gradient(p["A"], grad_w)}
        if self.name == "dtriv":
            return {"A": P.dtriv_gradient(p["base"], p["A"], grad_w)}
        if self.name == "scornn":
            return {"A": P.scornn_gradient(p["A"], self.diagonal, grad_w, w=self.weight)}
        gs, gt = P.vfield_gradient(p["A"], p["theta"], self.d_max, grad_w)
        return {"A": gs, "theta": gt}

    def _update(self, grad_w, lr, rng):
        grads = self.gradients(grad_w)
        self.params.update(self.optimizer.step(self.params, grads, lr))
        # RMSprop/Adam keep A skew in exact arithmetic; re-skew to stop rounding drift
        self.params["A"] = skew(self.params["A"])
        if self.name == "dtriv" and (self.count + 1) % self.rebase_every == 0:
            self.params["base"], self.params["A"] = P.dtriv_rebase(self.params["base"],
                                                                  self.params["A"])

    def state_dict(self):
        state = super().state_dict()
        if self.name == "scornn":
            state["diagonal"] = self.diagonal
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.name == "scornn":
            self.diagonal = state["diagonal"]


def _retract(w, step, retraction):
    """R_W(W·ξ) for ξ = ``step`` in the Lie algebra (skew)."""
    xp = get_namespace(w)
    if retraction == "qr":
        return qr_positive(w + w @ step)[0]
    if retraction == "cayley":
        ident = eye_like(w)
        return w @ xp.linalg.solve(ident - step / 2, ident + step / 2)
    if retraction == "exp":
        return w @ expm(step)
    raise ValueError(f"unknown retraction {retraction!r}; use 'qr', 'cayley' or 'exp'")


class RiemannianStep(_Method):
    """W lives on SO(n)/U(n): preconditioned gradient, Lie-algebra direction, retraction.

    The optimizer (RMSprop by default) turns G into P = G/(√v + ε) as the
    RNN papers do ("preconditioned Euclidean step, then projected"); the
    Riemannian direction is WΩ with Ω = skew(WᴴP), and W ← R_W(−lr·WΩ).
    """

    def __init__(self, w0, *, optimizer, lr, dtype, like, retraction="qr"):
        super().__init__(optimizer, lr)
        self.name = "rgd"
        self.retraction = retraction
        _retract(np.eye(2), np.zeros((2, 2)), retraction)  # validate the name early
        self.params["W"] = _to(w0, dtype, like)

    def _update(self, grad_w, lr, rng):
        w = self.params["W"]
        direction = self.optimizer.direction("W", grad_w)
        omega = skew(conj_transpose(w) @ direction)
        self.params["W"] = _retract(w, -lr * omega, self.retraction)


def _projunn_solver():
    """orthopt.optim.projunn.ProjUNN, or None when that module is absent."""
    try:
        from ..optim.projunn import ProjUNN
    except ImportError:  # pragma: no cover - only in partial installs
        return None
    return ProjUNN


class ProjUNNStep(_Method):
    """projUNN (Kiani et al. 2022): a rank-k step, then project (D) or exponentiate (T).

    The optimizer (RMSprop by default) first scales G into P; the step −lr·P
    is approximated by a rank-k matrix abᴴ (``"lsi"``: randomized subspace
    iteration; ``"column"``: k columns sampled ∝ their squared norm, unbiased;
    ``"exact"``: truncated SVD), as in the paper from the Euclidean gradient.
    Then projUNN-D sets W ← polar(W + abᴴ) and projUNN-T sets
    W ← W exp(skew(Wᴴabᴴ)), both in O(kn²) through
    :class:`orthopt.optim.projunn.ProjUNN` (a dense O(n³) fallback is used when
    that module is absent). ``lr_divider`` divides the learning rate of W. The
    random sketches draw from the training run's generator, so resume is exact.
    """

    def __init__(self, variant, w0, *, optimizer, lr, dtype, like, rank=1,
                 approximation="lsi", lr_divider=1.0):
        super().__init__(optimizer, lr)
        if variant not in ("d", "t"):
            raise ValueError(f"unknown projUNN variant {variant!r}; use 'd' or 't'")
        if approximation not in ("lsi", "column", "exact"):
            raise ValueError(f"unknown projUNN approximation {approximation!r}; "
                             "use 'lsi', 'column' or 'exact'")
        if int(rank) != rank or rank < 1:
            raise ValueError(f"projUNN rank must be a positive integer, got {rank!r}")
        if not lr_divider > 0:
            raise ValueError(f"lr_divider must be positive, got {lr_divider!r}")
        self.name = "projunn-" + variant
        self.variant, self.rank, self.approximation = variant, int(rank), approximation
        self.lr_divider = float(lr_divider)
        self.params["W"] = _to(w0, dtype, like)
        self.solver_class = _projunn_solver()
        self.manifold = None
        if self.solver_class is not None:
            from ..manifolds import SpecialOrthogonal, Unitary

            n = w0.shape[0]
            self.manifold = Unitary(n) if np.iscomplexobj(w0) else SpecialOrthogonal(n)

    def _update(self, grad_w, lr, rng):
        lr = lr / self.lr_divider
        direction = self.optimizer.direction("W", grad_w)
        if self.solver_class is None:
            self._dense_update(direction, lr, rng)
            return
        solver = self.solver_class(variant=self.variant.upper(), rank=self.rank,
                                   approximation=self.approximation, direction="euclidean",
                                   lr=lr, step_size="fixed", manifold=self.manifold)
        # the sketches draw from the training generator (checkpointed), and the step
        # counter (when the periodic re-orthonormalization falls due) is the method's
        state = solver.init_state(self.params["W"], rng=rng)
        state.step = self.count
        self.params["W"], _ = solver.step(self.params["W"], direction, state)

    def _dense_update(self, g, lr, rng):
        """Fallback without orthopt.optim.projunn: dense polar / expm, O(n³)."""
        xp = get_namespace(g)
        w = self.params["W"]
        n, k = g.shape[1], min(self.rank, g.shape[1])
        if self.approximation == "lsi":
            probe = xp.astype(_to(rng.standard_normal((n, k)), np.float64, g), g.dtype)
            q, _ = xp.linalg.qr(g @ probe)
            q, _ = xp.linalg.qr(g @ (conj_transpose(g) @ q))  # one subspace iteration
            g = q @ (conj_transpose(q) @ g)
        elif self.approximation == "column":
            weights = to_numpy(xp.sum(xp.abs(g) ** 2, axis=0))
            prob = weights / weights.sum()
            cols = rng.choice(n, size=k, replace=True, p=prob)
            scale = np.zeros(n)
            np.add.at(scale, cols, 1.0 / (k * prob[cols]))
            g = g * xp.astype(_to(scale, np.float64, g), g.dtype)[None, :]
        if self.variant == "d":
            self.params["W"] = polar(w - lr * g)
        else:
            self.params["W"] = w @ expm(-lr * skew(conj_transpose(w) @ g))


def _coordinate_solver():
    """orthopt.optim.coordinate.GivensCoordinateDescent, or None when that module is absent."""
    try:
        from ..optim.coordinate import GivensCoordinateDescent
    except ImportError:  # pragma: no cover - only in partial installs
        return None
    return GivensCoordinateDescent


class GivensStep(_Method):
    """Coordinate descent on SO(n) (U(n)): rotate the coordinates with the largest |Ω_ij|.

    The step is :meth:`orthopt.optim.coordinate.GivensCoordinateDescent.step`
    with fixed angles ω = −lr·Ω_ij, Ω = skew(G Wᴴ): the left action
    W ← G_ij(ω) W touches two rows of W, O(n) work per rotation (the directional
    derivative along coordinate (i, j) is 2Ω_ij, so this is a descent step).
    Rules: ``"gauss-southwell"`` (largest |Ω_ij|), ``"block"`` (the ``block``
    largest, made disjoint), ``"random"`` (a uniformly random pair, drawn from
    the training run's generator so that resume stays exact). With
    ``precondition=True`` (default) G is first scaled by the optimizer
    (RMSprop/Adam), as for rgd; with False the plain gradient is used
    (Massart & Abrol's setting). When :mod:`orthopt.optim.coordinate` is not
    available a local real-only kernel (right action on columns) is used.
    """

    def __init__(self, w0, *, optimizer, lr, dtype, like, rule="gauss-southwell", block=8,
                 precondition=True):
        super().__init__(optimizer, lr)
        self.precondition = bool(precondition)
        if rule not in ("random", "gauss-southwell", "block"):
            raise ValueError(f"unknown Givens rule {rule!r}; use 'random', 'gauss-southwell' "
                             "or 'block'")
        self.solver_class = _coordinate_solver()
        if np.iscomplexobj(w0) and self.solver_class is None:
            raise ValueError("method='givens' with complex W needs orthopt.optim.coordinate")
        self.name = "givens"
        self.rule, self.block = rule, int(block)
        self.params["W"] = _to(w0, dtype, like)
        self.manifold = None
        if self.solver_class is not None:
            from ..manifolds import SpecialOrthogonal, Unitary

            n = w0.shape[0]
            self.manifold = Unitary(n) if np.iscomplexobj(w0) else SpecialOrthogonal(n)

    def _update(self, grad_w, lr, rng):
        if self.precondition:  # as rgd: RMSprop/Adam-scaled G, so the same lr range works
            grad_w = self.optimizer.direction("W", grad_w)
        if self.solver_class is None:
            self._local_update(grad_w, lr, rng)
            return
        rule = "random" if self.rule == "random" else "gauss-southwell"
        block = self.block if self.rule == "block" else 1
        # the left action of the papers (W ← G W); side="both" would change the trained model
        solver = self.solver_class(rule=rule, block=block, side="left", lr=lr,
                                   manifold=self.manifold)
        # the random rule draws from the training generator (checkpointed), not a fresh one
        state = solver.init_state(self.params["W"], rng=rng)
        self.params["W"], _ = solver.step(self.params["W"], grad_w, state)

    def _local_update(self, grad_w, lr, rng):
        """Fallback: W ← W exp(−lr Ω_ij (e_i e_jᵀ − e_j e_iᵀ)), Ω = skew(WᵀG), on columns."""
        xp = get_namespace(grad_w)
        w = self.params["W"]
        omega = skew(conj_transpose(w) @ grad_w)
        n = omega.shape[0]
        if self.rule == "random":
            pair = sorted(rng.choice(n, size=2, replace=False))
            i, j = np.array(pair[:1]), np.array(pair[1:])
        else:
            mag = np.abs(np.triu(to_numpy(omega), 1)).ravel()
            count = 1 if self.rule == "gauss-southwell" else min(self.block, n // 2)
            used, pi, pj = set(), [], []
            for flat in np.argsort(mag)[::-1]:
                a, b = divmod(int(flat), n)
                if a < b and a not in used and b not in used:
                    pi.append(a), pj.append(b)
                    used.update((a, b))
                    if len(pi) == count:
                        break
            i, j = np.array(pi, dtype=np.int64), np.array(pj, dtype=np.int64)
        angles = lr * xp.take(xp.reshape(omega, (-1,)), xp.asarray(i * n + j, device=w.device))
        # apply_givens(axis=-1) computes W Rᴴ; Rᴴ = exp(−lr Ω_ij E) when R is built from +lr Ω_ij
        c, s = givens_coefficients(angles)
        self.params["W"] = apply_givens(w, i, j, c, s, axis=-1)


class Unconstrained(_Method):
    """The baseline: W is a free matrix trained by RMSprop/Adam at the learning rate ``lr``.

    Nothing keeps ρ(W) ≤ 1: with the unbounded modReLU a spectral radius above 1 makes the
    hidden state grow like ρ(W)^t and the BPTT gradient explode. RMSprop's first step is
    10·lr·sign(G) entry-wise (no bias correction, as PyTorch), so on copying (L = 200,
    n = 128, Henaff init) at lr = 1e-3 this happens by iteration 3; the vanilla-RNN
    remedy is gradient-norm clipping (``TrainConfig.clip``), which keeps RMSprop's running
    average of G² from being poisoned by the exploded gradients.
    """

    orthogonal = False

    def __init__(self, w0, *, optimizer, lr, dtype, like):
        super().__init__(optimizer, lr)
        self.name = "none"
        self.params["W"] = _to(w0, dtype, like)

    def _update(self, grad_w, lr, rng):
        self.params.update(self.optimizer.step(self.params, {"W": grad_w}, lr))


def make_method(name, n, *, field="real", init="henaff", rng=None, dtype=np.float64, like=None,
                optimizer="rmsprop", lr=1e-4, **options):
    """Build a training method for an n×n recurrent matrix.

    Parameters
    ----------
    name : str
        One of :data:`METHODS`.
    n : int
        Hidden size.
    field : {"real", "complex"}
    init : {"henaff", "cayley", "orthogonal", "identity"}
        Initial W = exp(A₀) (scornn: the Cayley transform of A₀).
    rng : None, int or numpy.random.Generator
    dtype : real dtype of the weights (complex weights get the matching complex dtype)
    like : array, optional
        Put the weights in this array's namespace and on its device.
    optimizer : {"rmsprop", "adam"}
    lr : float
        Learning rate of the orthogonal parameter.
    **options
        ``rebase_every`` (dtriv, default 100), ``rho`` (scornn, default n // 2),
        ``d_max`` (vfield, default 0.1), ``retraction`` (rgd), ``rank``,
        ``approximation``, ``lr_divider`` (projunn-*), ``rule``, ``block``, ``precondition``
        (givens).
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; use one of {', '.join(METHODS)}")
    if field not in ("real", "complex"):
        raise ValueError(f"unknown field {field!r}; use 'real' or 'complex'")
    a0 = P.initial_skew(n, init, rng=rng, field=field)
    cdtype = np.result_type(np.dtype(dtype), np.complex64) if field == "complex" else np.dtype(dtype)

    def pick(*keys):
        return {k: options[k] for k in keys if k in options}

    unused = set(options) - {"rebase_every", "rho", "d_max", "retraction", "rank",
                             "approximation", "lr_divider", "rule", "block", "precondition"}
    if unused:
        raise ValueError(f"unknown method options {sorted(unused)}")
    common = dict(dtype=cdtype, like=like)
    if name in ("exprnn", "dtriv", "scornn", "vfield"):
        return Trivialization(name, a0, optimizer=optimizer, lr=lr, **common,
                              **pick("rebase_every", "rho", "d_max"))
    w0 = P.exprnn_weight(a0)
    if name == "rgd":
        return RiemannianStep(w0, optimizer=optimizer, lr=lr, **common, **pick("retraction"))
    if name.startswith("projunn"):
        return ProjUNNStep(name[-1], w0, optimizer=optimizer, lr=lr, **common,
                           **pick("rank", "approximation", "lr_divider"))
    if name == "givens":
        return GivensStep(w0, optimizer=optimizer, lr=lr, **common,
                          **pick("rule", "block", "precondition"))
    return Unconstrained(w0, optimizer=optimizer, lr=lr, **common)


def orthogonality_error(w):
    """‖WᴴW − I‖_F as a float."""
    xp = get_namespace(w)
    return float(xp.linalg.matrix_norm(conj_transpose(w) @ w - eye_like(w)))

