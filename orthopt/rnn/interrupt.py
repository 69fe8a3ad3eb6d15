"""Ctrl-C during training: the first stops after the iteration, the second aborts at once.

An iteration has two parts. Computing the gradient changes nothing but the
random generator, and may take long: a second Ctrl-C there aborts at once
(the run keeps its last periodic checkpoint, since the generator has already
moved). Committing — updating the weights, counting the iteration, writing
its log row and a due checkpoint — is short and must happen whole: a second
Ctrl-C there is deferred to the end of the commit, which then stops like the
first one (checkpoint written, nothing lost). Without the deferral a Ctrl-C
between the update and its log row lost the row while reporting a clean stop.
"""

from __future__ import annotations

import signal

__all__ = ["SigintFlag"]


class SigintFlag:
    """SIGINT handler for the training loop (a context manager; main thread only).

    Attributes
    ----------
    requested : bool
        A Ctrl-C was pressed: stop after the current iteration.
    shielded : bool
        Set while the final checkpoint is written: Ctrl-C is only noted.
    committing : bool
        Set from the weight update to the end of the iteration's log row and
        checkpoint: a second Ctrl-C is only noted, and acted on once the
        commit is complete.
    """

    def __init__(self):
        self.requested = False
        self.shielded = False
        self.committing = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: keep the default behaviour
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested and not (self.shielded or self.committing):
            raise KeyboardInterrupt
        self.requested = True

    def begin_commit(self):
        """From here to :meth:`end_commit` the iteration is applied whole."""
        self.committing = True

    def end_commit(self):
        """The iteration is applied and logged; a Ctrl-C noted meanwhile stops the run now."""
        self.committing = False
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
