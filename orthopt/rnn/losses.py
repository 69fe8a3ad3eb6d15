"""Losses of the RNN tasks with their gradients with respect to the outputs.

Each returns ``(loss, grad)``: the mean loss as a 0-d array and ∂loss/∂y with
the shape of ``y``, so :func:`orthopt.rnn.cell.backward` can take it directly.
"""

from __future__ import annotations

from ..backend import device_of, get_namespace

__all__ = ["cross_entropy", "mean_squared_error", "accuracy"]


def _log_softmax(xp, logits):
    shifted = logits - xp.max(logits, axis=-1, keepdims=True)  # avoid overflow in exp
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def _one_hot(xp, labels, classes, like):
    k = xp.arange(classes, device=device_of(like))
    return xp.astype(labels[..., None] == k, like.dtype)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy −log p(label), averaged over all leading axes.

    Parameters
    ----------
    logits : array, shape (..., C), real
    labels : array of int, shape (...), values in {0, …, C − 1}

    Returns
    -------
    loss : 0-d array
    grad : array, shape (..., C): (softmax(logits) − onehot(labels)) / count
    """
    xp = get_namespace(logits)
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(f"labels of shape {tuple(labels.shape)} do not match logits of shape "
                         f"{tuple(logits.shape)}; expected {tuple(logits.shape[:-1])}")
    count = 1
    for s in labels.shape:
        count *= s
    logp = _log_softmax(xp, logits)
    onehot = _one_hot(xp, labels, logits.shape[-1], logits)
    loss = -xp.sum(logp * onehot) / count
    grad = (xp.exp(logp) - onehot) / count
    return loss, grad


def mean_squared_error(pred, target):
    """Mean of (pred − target)² over all entries.

    Parameters
    ----------
    pred : array, shape (B, 1) or (B,)
    target : array, shape (B,)

    Returns
    -------
    loss : 0-d array
    grad : array, shape of ``pred``
    """
    xp = get_namespace(pred)
    t = xp.reshape(target, pred.shape)
    diff = pred - t
    count = 1
    for s in pred.shape:
        count *= s
    return xp.sum(diff * diff) / count, 2 * diff / count


def accuracy(logits, labels):
    """Fraction of positions where argmax(logits) equals the label, as a 0-d array."""
    xp = get_namespace(logits)
    pred = xp.argmax(logits, axis=-1)
    return xp.mean(xp.astype(pred == labels, logits.dtype))
