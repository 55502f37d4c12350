"""Evaluating a function over many points in fixed-size chunks, with bounded memory.

Grid densities, `log_prob` over millions of points and Monte Carlo estimators all reduce to
"apply `fn` to rows of a large array". `map_in_chunks` pads the last chunk to the same
shape as the others, so a `tf.function` traces once, and only one chunk's intermediate
tensors are alive at a time.

Used by the FFJORD, MDN and estimator notebooks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from support import _checks

__all__ = ["map_in_chunks"]


def map_in_chunks(
    fn: Callable,
    inputs,
    *,
    chunk_size: int = 4096,
    dtype=None,
) -> np.ndarray:
    """Applies `fn` to `inputs` chunk by chunk along the first axis and concatenates.

    Args:
      fn: maps a `[chunk_size, ...]` tensor to a tensor whose first axis has the same length
        (e.g. `distribution.log_prob`, or a `tf.function` of it).
      inputs: array-like with at least one axis.
      chunk_size: rows per call, a positive integer. The last chunk is padded (by repeating
        its last row) so every call sees the same shape; the padding is dropped.
      dtype: optional NumPy dtype to cast `inputs` to first.

    Returns:
      A NumPy array: `fn`'s outputs for all rows, in order.

    Memory: besides `inputs`, the result array and one chunk's worth of `fn`'s intermediate
    tensors are alive at a time (`tests/test_batching.py` bounds a `log_prob` over 10 million
    points this way).

    Raises:
      TypeError: if `fn` is not callable or `chunk_size` is not an integer.
      ValueError: if `chunk_size` is not positive, `inputs` has no rows, or `fn` does not
        return one row per input row.
    """
    _checks.callable_("fn", fn)
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    array = np.asarray(inputs, dtype=dtype)
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"inputs must have at least one row, got shape {array.shape}")
    total = array.shape[0]
    output = None
    for start in range(0, total, chunk_size):
        chunk = array[start : start + chunk_size]
        rows = chunk.shape[0]
        if rows < chunk_size and total > chunk_size:
            pad = np.repeat(chunk[-1:], chunk_size - rows, axis=0)
            chunk = np.concatenate([chunk, pad], axis=0)
        result = fn(chunk)
        result = result.numpy() if hasattr(result, "numpy") else np.asarray(result)
        if result.ndim == 0 or result.shape[0] != chunk.shape[0]:
            raise ValueError(
                f"fn must return one row per input row: got shape {result.shape} for a chunk "
                f"of {chunk.shape[0]} rows"
            )
        if output is None:  # filled in place: the result is held once, never concatenated
            output = np.empty((total, *result.shape[1:]), dtype=result.dtype)
        output[start : start + rows] = result[:rows]
    return output
