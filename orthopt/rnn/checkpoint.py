"""Atomic checkpoints: a ``.npz`` of named arrays plus a JSON header.

A checkpoint is written to a temporary file in the same directory, flushed to
disk, and moved over the old one with :func:`os.replace`, which is atomic on
POSIX and Windows: an interrupted or crashed write leaves the previous
checkpoint intact, never a truncated file. A file that is damaged anyway
(copied half, edited by hand) raises
:class:`~orthopt.rnn.rundir.DamagedFileError` naming it and what is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from ..backend import to_numpy
from .rundir import DamagedFileError, fsync_directory

__all__ = ["save_checkpoint", "load_checkpoint"]

_META = "__meta__"


def save_checkpoint(path, arrays, meta):
    """Write ``arrays`` (name → array or number) and ``meta`` (JSON-able dict) to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, conventionally ``checkpoint.npz``.
    arrays : dict of str -> array or number
        Arrays of any supported library (copied to the host) or Python numbers.
    meta : dict
        Anything :func:`json.dumps` accepts (config, iteration, RNG state, ...).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    host = {name: to_numpy(value) for name, value in arrays.items()}
    if _META in host:
        raise ValueError(f"array name {_META!r} is reserved for the checkpoint header")
    host[_META] = np.asarray(json.dumps(meta))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **host)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_directory(directory)  # the rename itself survives a crash


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint`.

    Returns
    -------
    arrays : dict of str -> numpy.ndarray
    meta : dict

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    orthopt.rnn.rundir.DamagedFileError
        The file is empty, truncated, not an ``.npz`` archive, or has no valid header.
    """
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}; run without --resume first")
    if os.path.isdir(path):
        raise DamagedFileError(path, "is a directory, not a checkpoint file; remove it")
    if os.path.getsize(path) == 0:
        raise DamagedFileError(path, "is empty (0 bytes)")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except Exception as err:  # zipfile, zlib, numpy format and OS errors alike
        raise DamagedFileError(path, f"cannot be read as an .npz archive, it is truncated or "
                                     f"corrupt ({type(err).__name__}: {err})") from None
    if _META not in arrays:
        raise DamagedFileError(path, f"is not an orthopt checkpoint (no {_META!r} entry)")
    try:
        meta = json.loads(str(arrays.pop(_META)))
    except json.JSONDecodeError as err:
        raise DamagedFileError(path, f"its header is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise DamagedFileError(path, f"its header is {type(meta).__name__}, not a JSON object")
    return arrays, meta
