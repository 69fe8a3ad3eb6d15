"""Orthogonal and unitary RNNs with hand-written BPTT.

* :mod:`~orthopt.rnn.cell` — h_t = σ(W h_{t−1} + V x_t + b), forward and BPTT;
* :mod:`~orthopt.rnn.parametrizations` — W = exp(A), B exp(A), Cayley, exp(S + diag d);
* :mod:`~orthopt.rnn.methods` — one ``method=`` switch: exprnn, dtriv, scornn, vfield,
  rgd, projunn-d, projunn-t, givens, none;
* :mod:`~orthopt.rnn.tasks` — copying, adding, sequential digits, pixel MNIST;
* :mod:`~orthopt.rnn.train` — the training loop (logs, checkpoints, exact resume).

Quick start::

    from orthopt.rnn import TrainConfig, Trainer
    result = Trainer(TrainConfig(task="copying", method="exprnn", hidden=128,
                                 iterations=3000), out="runs/copy").run()
"""

from .cell import backward, forward, init_params
from .methods import METHODS, make_method
from .tasks import TASKS, make_task
from .train import TrainConfig, Trainer, train

__all__ = ["forward", "backward", "init_params", "METHODS", "make_method", "TASKS",
           "make_task", "TrainConfig", "Trainer", "train"]
