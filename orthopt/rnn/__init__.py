"""Orthogonal and unitary RNNs with hand-written BPTT (see :mod:`orthopt.rnn.cell`)."""
