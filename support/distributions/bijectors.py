"""`PadEye`, a bijector that holds a mixture component's scale at I (no single TFP bijector does).

Notebook 01 defines `PadEye` in a code cell tagged `lesson:support.distributions.bijectors`, and
this module holds the same class (`python -m tools lessons` checks that they match). Here it is
wrapped by `_checked_tril`, which refuses a `tril` that is not a TFP bijector, naming the argument.

Serves notebook 01 (distribution zoo) through `support.distributions.zoo`.
"""

from __future__ import annotations

import functools

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["PadEye"]


def _checked_tril(cls):
    """`cls` with an `__init__` that raises TypeError, naming `tril`, for a non-bijector."""
    init = cls.__init__

    @functools.wraps(init)
    def checked_init(self, tril):
        if not isinstance(tril, tfb.Bijector):
            raise TypeError(f"tril must be a tfp Bijector, got {type(tril).__name__}")
        init(self, tril)

    cls.__init__ = checked_init
    return cls


# The notebook's lesson cell: edit it there and copy with `python -m tools lessons --write`.


@_checked_tril
class PadEye(tfb.Bijector):
    """Prepends, along axis -2, the row of free entries that `tril` maps to the identity.

    Chained before `tril` (e.g. `tfb.FillScaleTriL()`), it holds the first component's scale
    at I while the others stay free. Sizes are read at run time, so they may be unknown.
    Its log-determinants are 0 by convention (the forward adds dimensions): it is meant for a
    `tfp.util.TransformedVariable`, which never uses them, not for a `TransformedDistribution`.
    """

    def __init__(self, tril):
        self.tril = tril
        super().__init__(
            forward_min_event_ndims=2,
            inverse_min_event_ndims=2,
            is_constant_jacobian=True,
            name="PadEye",
        )

    def _forward(self, x):
        shape = tf.shape(x)
        entries = tf.cast(shape[-1], tf.float32)  # d(d+1)/2 of them: solve for d
        d = tf.cast(tf.round(tf.sqrt(0.25 + 2.0 * entries) - 0.5), tf.int32)
        row = self.tril.inverse(tf.eye(d, dtype=x.dtype))
        rows = tf.broadcast_to(row, tf.concat([shape[:-2], [1], shape[-1:]], axis=0))
        return tf.concat([rows, x], axis=-2)

    def _inverse(self, y):
        return y[..., 1:, :]

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], x.dtype)  # by convention: no true log-det, the dimension changes

    def _inverse_log_det_jacobian(self, y):
        return tf.zeros([], y.dtype)

    # Event shapes: one more row forward, one fewer inverse (static, then at run time).
    def _forward_event_shape(self, shape):
        return shape[:-2] + [None if shape[-2] is None else shape[-2] + 1] + shape[-1:]

    def _inverse_event_shape(self, shape):
        return shape[:-2] + [None if shape[-2] is None else shape[-2] - 1] + shape[-1:]

    def _forward_event_shape_tensor(self, shape):
        return tf.concat([shape[:-2], shape[-2:-1] + 1, shape[-1:]], axis=0)

    def _inverse_event_shape_tensor(self, shape):
        return tf.concat([shape[:-2], shape[-2:-1] - 1, shape[-1:]], axis=0)
