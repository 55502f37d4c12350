"""Bijectors that TFP does not ship: `PadEye`, which holds a mixture component's scale at I.

Serves notebook 01 (distribution zoo) through `support.distributions.zoo`.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ["PadEye"]


def _bijector_or_none(name: str, value):
    """`value` if it is a TFP bijector or None; TypeError naming the argument otherwise."""
    if value is not None and not isinstance(value, tfb.Bijector):
        raise TypeError(f"{name} must be a tfp Bijector, got {type(value).__name__}")
    return value


class PadEye(tfb.Bijector):
    """Prepends, along axis -2, the unconstrained row that `tril_bijector` maps to `I`.

    With `tril_bijector = tfb.FillScaleTriL()`, a `[..., k, d(d+1)/2]` tensor of unconstrained
    lower-triangular entries becomes `[..., k + 1, d(d+1)/2]` whose first row is the identity
    scale: chained before the tril bijector, the first mixture component's covariance is held
    at `I` while the others stay free. The inverse drops that row. Both directions have a zero
    log-det-Jacobian (the new row is a constant). Works with unknown batch and event sizes:
    `d` is computed from the last dimension at run time.

    Args:
      tril_bijector: the bijector that maps unconstrained entries to a scale matrix
        (default: `FillScaleTriL` with a softplus diagonal, in the input's dtype); its
        inverse gives the row to prepend.
      validate_args: passed to `tfb.Bijector`.
      name: the bijector's name.
    """

    def __init__(self, tril_bijector=None, validate_args: bool = False, name: str = "pad_eye"):
        parameters = dict(locals())
        self._tril_bijector = _bijector_or_none("tril_bijector", tril_bijector)
        super().__init__(
            forward_min_event_ndims=2,
            inverse_min_event_ndims=2,
            is_constant_jacobian=True,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @property
    def tril_bijector(self):
        return self._tril_bijector

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    def _identity_row(self, x):
        shape = tf.shape(x)
        # d(d+1)/2 entries in a row -> d, from the run-time shape (no static size needed)
        entries = tf.cast(shape[-1], tf.float64)
        d = tf.cast(tf.round(tf.sqrt(0.25 + 2.0 * entries) - 0.5), tf.int32)
        tril = self._tril_bijector or tfb.FillScaleTriL(diag_shift=tf.constant(1e-5, x.dtype))
        row = tf.reshape(tril.inverse(tf.eye(d, dtype=x.dtype)), [1, -1])
        return tf.broadcast_to(row, tf.concat([shape[:-2], [1], shape[-1:]], axis=0))

    def _forward(self, x):
        return tf.concat([self._identity_row(x), x], axis=-2)

    def _inverse(self, y):
        return y[..., 1:, :]

    # The prepended row is a constant, so it adds no volume: log|det J| is 0 both ways.
    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], dtype=x.dtype)

    def _inverse_log_det_jacobian(self, y):
        return tf.zeros([], dtype=y.dtype)

    # Event shapes: one more row forward, one fewer inverse (static shapes, then tensors).
    @staticmethod
    def _shift_rows(shape: tf.TensorShape, delta: int) -> tf.TensorShape:
        if shape.rank is None:
            return shape
        dims = shape.as_list()
        if dims[-2] is not None:
            dims[-2] += delta
        return tf.TensorShape(dims)

    def _forward_event_shape(self, input_shape):
        return self._shift_rows(tf.TensorShape(input_shape), +1)

    def _inverse_event_shape(self, output_shape):
        return self._shift_rows(tf.TensorShape(output_shape), -1)

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-2], input_shape[-2:-1] + 1, input_shape[-1:]], axis=0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-2], output_shape[-2:-1] - 1, output_shape[-1:]], axis=0)
