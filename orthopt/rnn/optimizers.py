"""RMSprop and Adam over a dictionary of arrays, with state that can be checkpointed.

Both follow PyTorch's definitions (the orthogonal-RNN papers trained with
them), so learning rates carry over:

* RMSprop: v ← αv + (1 − α)|g|², p ← p − lr·g/(√v + ε)
* Adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)|g|²,
  p ← p − lr·m̂/(√v̂ + ε) with bias-corrected m̂, v̂.

Complex parameters use |g|², so a skew-Hermitian parameter receives a
skew-Hermitian update (v is symmetric, g skew).
"""

from __future__ import annotations

from ..backend import get_namespace

__all__ = ["OPTIMIZERS", "RMSprop", "Adam", "make_optimizer"]

OPTIMIZERS = ("rmsprop", "adam")


class RMSprop:
    """RMSprop (Tieleman & Hinton 2012) with PyTorch's defaults α = 0.99, ε = 1e-8."""

    def __init__(self, lr, alpha=0.99, eps=1e-8):
        self.lr, self.alpha, self.eps = float(lr), float(alpha), float(eps)
        self.state = {}

    def direction(self, name, grad):
        """The preconditioned gradient g/(√v + ε) after updating the running average v."""
        xp = get_namespace(grad)
        sq = xp.abs(grad) ** 2 if xp.isdtype(grad.dtype, "complex floating") else grad * grad
        v = self.state.get("v/" + name)
        v = (1 - self.alpha) * sq if v is None else self.alpha * v + (1 - self.alpha) * sq
        self.state["v/" + name] = v
        return grad / xp.astype(xp.sqrt(v) + self.eps, grad.dtype)

    def step(self, params, grads, lr=None):
        """New values of ``params[k]`` for every k in ``grads`` (a new dict)."""
        lr = self.lr if lr is None else lr
        return {k: params[k] - lr * self.direction(k, g) for k, g in grads.items()}

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = dict(state)


class Adam:
    """Adam (Kingma & Ba 2015) with β = (0.9, 0.999), ε = 1e-8."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, self.betas, self.eps = float(lr), tuple(betas), float(eps)
        self.state = {}

    def direction(self, name, grad):
        xp = get_namespace(grad)
        b1, b2 = self.betas
        sq = xp.abs(grad) ** 2 if xp.isdtype(grad.dtype, "complex floating") else grad * grad
        m, v = self.state.get("m/" + name), self.state.get("v/" + name)
        t = int(self.state.get("t/" + name, 0)) + 1
        m = (1 - b1) * grad if m is None else b1 * m + (1 - b1) * grad
        v = (1 - b2) * sq if v is None else b2 * v + (1 - b2) * sq
        self.state["m/" + name], self.state["v/" + name], self.state["t/" + name] = m, v, t
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        return m_hat / xp.astype(xp.sqrt(v_hat) + self.eps, grad.dtype)

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        return {k: params[k] - lr * self.direction(k, g) for k, g in grads.items()}

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = {k: (int(v) if k.startswith("t/") else v) for k, v in state.items()}


def make_optimizer(name, lr):
    """``"rmsprop"`` or ``"adam"`` with learning rate ``lr``."""
    if name == "rmsprop":
        return RMSprop(lr)
    if name == "adam":
        return Adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; use one of {OPTIMIZERS}")
