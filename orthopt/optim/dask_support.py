r"""Batches beyond one machine: a dask array of starting points, solved chunk by chunk.

When ``x0`` of ``minimize(..., batched=True)`` is a dask array of shape
(k, n, p) chunked along the batch axis (and the arrays in ``args`` are dask
or NumPy arrays with the same leading axis), every chunk of problems is an
independent batched run: :func:`minimize_dask` maps it over the chunks with
``dask.array.map_blocks``, so it runs on whatever scheduler is active — the
threaded default, or a ``dask.distributed`` cluster::

    from dask.distributed import Client, LocalCluster
    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    x0 = da.from_array(M.random_point(shape=(10**6,), rng=0), chunks=(50_000, 3, 3))
    res = orthopt.minimize(cost, x0, method="cg", batched=True, args=(a, b))
    x, fun, status = dask.compute(res.x, res.fun, res.status)

The result's arrays (``x``, ``fun``, ``grad_norm``, ``nit``, ``nfev``,
``status``, ``success``) are lazy dask arrays chunked like ``x0``. They come
from one packed array per chunk: compute them together (``dask.compute``) so
that every chunk is solved once. Each problem's run is the in-memory run of
that problem: the results equal those of ``minimize`` on the NumPy arrays.

dask is optional (``pip install orthopt[dask]``); it is imported only here.
"""

from __future__ import annotations

import numpy as np

from .result import STATUS_MESSAGES, OptimizeResult

__all__ = ["is_dask_array", "minimize_dask"]

#: status strings by their code in the packed chunk results
STATUS_NAMES = tuple(sorted(STATUS_MESSAGES))

#: packed per-problem fields after the flattened x
_FIELDS = ("fun", "grad_norm", "nit", "nfev", "status", "success")


def is_dask_array(x):
    """True for a dask array (without importing dask when it is not loaded)."""
    return type(x).__module__.startswith("dask.") and hasattr(x, "chunks")


def minimize_dask(cost, x0, method, jac=None, manifold=None, options=None, rng=None, args=(),
                  hess=None):
    """``minimize(cost, x0, batched=True)`` for a dask x0: one batched run per chunk.

    Parameters
    ----------
    cost, method, jac, manifold, options, args, hess
        As for :func:`orthopt.minimize` with ``batched=True``; ``cost`` and
        ``jac`` are shipped to the workers (they must be picklable for a
        distributed scheduler: module-level functions, not lambdas in a
        notebook cell that captures large data).
    x0 : dask.array.Array, shape (k, n, p)
        Chunked along the batch axis only.
    rng : None or int
        Seed of the runs' feasibility probes (the same for every chunk, so that
        the results equal the in-memory run with this seed).

    Returns
    -------
    OptimizeResult
        With dask arrays ``x`` (k, n, p) and ``fun``, ``grad_norm``, ``nit``,
        ``nfev``, ``status`` (str), ``success`` (bool), shape (k,).
    """
    import dask.array as da

    if x0.ndim != 3:
        raise ValueError(f"with batched=True x0 must have shape (k, n, p), got {x0.shape}")
    k, n, p = x0.shape
    if len(x0.chunks[1]) > 1 or len(x0.chunks[2]) > 1:
        raise ValueError(
            f"x0 is chunked along the matrix axes (chunks {x0.chunks[1]} × {x0.chunks[2]}): a "
            f"problem's point must sit in one chunk. Chunk along the batch axis only: "
            f"x0 = x0.rechunk({{1: -1, 2: -1}})")
    batch_chunks = x0.chunks[0]
    data = [_aligned(arg, i, k, batch_chunks, da) for i, arg in enumerate(args)]
    seed = 0 if rng is None else int(rng)
    width = n * p + len(_FIELDS)

    def solve(block, *blocks):
        from .minimize import minimize

        res = minimize(cost, block, method=method, jac=jac, manifold=manifold,
                       options=options, rng=seed, args=tuple(blocks), batched=True, hess=hess)
        codes = np.searchsorted(STATUS_NAMES, res.status)
        fields = np.stack([res.fun, res.grad_norm, res.nit, res.nfev, codes, res.success],
                          axis=-1)
        flat = np.reshape(res.x, (block.shape[0], n * p))
        return np.concatenate([flat, fields.astype(flat.dtype)], axis=-1)

    # blockwise with explicit indices: axis 0 of every array is the batch axis "i" (map_blocks
    # would align arrays of different ndim on their trailing axes)
    pairs = [x0, "iab"]
    for arg in data:
        pairs += [arg, "i" + "cdefgh"[: arg.ndim - 1]]
    packed = da.blockwise(solve, "ij", *pairs, new_axes={"j": width}, concatenate=True,
                          dtype=x0.dtype, meta=np.empty((0, 0), dtype=x0.dtype))
    fields = {name: packed[:, n * p + i].real for i, name in enumerate(_FIELDS)}
    names = np.array(STATUS_NAMES)
    return OptimizeResult(
        x=packed[:, : n * p].reshape((k, n, p)),
        fun=fields["fun"].astype(np.float64),
        grad_norm=fields["grad_norm"].astype(np.float64),
        nit=fields["nit"].astype(np.int64),
        nfev=fields["nfev"].astype(np.int64),
        status=fields["status"].map_blocks(lambda c: names[c.astype(np.int64)],
                                           dtype=names.dtype),
        success=fields["success"].astype(bool),
    )


def _aligned(arg, i, k, batch_chunks, da):
    """A per-problem argument as a dask array chunked like x0 along the batch axis."""
    shape = getattr(arg, "shape", None)
    if shape is None or len(shape) == 0 or shape[0] != k:
        raise ValueError(
            f"args[{i}] has shape {shape}, but with a dask x0 every argument must be an array "
            f"of per-problem data with the leading axis {k}; shared data go into the cost")
    chunks = (batch_chunks,) + tuple((s,) for s in shape[1:])
    if is_dask_array(arg):
        return arg.rechunk(chunks)
    return da.from_array(np.asarray(arg), chunks=chunks)
