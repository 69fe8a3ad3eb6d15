"""Small data sets shipped with orthopt for sparse PCA."""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

__all__ = ["load_pitprops"]


def load_pitprops():
    """The pitprops correlation matrix (Jeffers 1967), the classic sparse-PCA benchmark.

    13 physical properties measured on 180 Corsican pine pit props; the data
    set is only published as its 13 × 13 correlation matrix. Jolliffe et al.
    (2003, SCoTLASS) and Zou, Hastie & Tibshirani (2006, SPCA) compare sparse
    PCA methods on it with 6 components, whose ordinary PCA explains 87.0 % of
    the total variance (13, the trace of a correlation matrix).

    Returns
    -------
    corr : numpy.ndarray, shape (13, 13), float64
        Symmetric, unit diagonal.
    feature_names : list of str, length 13
        ``topdiam``, ``length``, ``moist``, ``testsg``, ``ovensg``, ``ringtop``,
        ``ringbut``, ``bowmax``, ``bowdist``, ``whorls``, ``clear``, ``knots``,
        ``diaknot``.

    Examples
    --------
    >>> from orthopt.decomposition import load_pitprops, SparsePCA
    >>> corr, names = load_pitprops()
    >>> spca = SparsePCA(n_components=6, alpha=0.5).fit(corr, covariance=True)
    """
    text = resources.files("orthopt").joinpath("data/pitprops.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, body = rows[0], rows[1:]
    names = [h.strip() for h in header[1:]]
    corr = np.array([[float(v) for v in row[1:]] for row in body], dtype=np.float64)
    if corr.shape != (len(names), len(names)):
        raise ValueError(
            f"pitprops.csv is malformed: matrix shape {corr.shape}, {len(names)} names"
        )
    return corr, names
