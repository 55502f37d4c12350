"""Trace estimators for FFJORD: the divergence of the vector field, exactly or estimated.

A continuous normalizing flow changes its log density by the integral of the trace of the
field's Jacobian. `tfb.FFJORD` takes a `trace_augmentation_fn` that computes it next to the
field. `TRACE_ESTIMATORS` names the two that `notebooks/02_ffjord_moons.ipynb` compares:
"exact" (one vector-Jacobian product per dimension, `trace_jacobian_exact_unrolled`) and
"hutchinson" (an unbiased one-probe estimate, TFP's `trace_jacobian_hutchinson`).
`check_trace` is the argument check every FFJORD module uses for a trace name.

Serves `support.ffjord` and `support.flow_eval` (notebook 02).

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
[2]: Hutchinson, M. F. A stochastic estimator of the trace of the influence matrix for
     Laplacian smoothing splines. Communications in Statistics - Simulation and
     Computation, 18(3), 1989.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks

__all__ = ["TRACE_ESTIMATORS", "check_trace", "trace_jacobian_exact_unrolled"]


def trace_jacobian_exact_unrolled(ode_fn, state_shape, dtype):
    """Exact Jacobian trace for `tfb.FFJORD`, one gradient per state dimension, unrolled.

    A drop-in `trace_augmentation_fn` with the same output as `tfb.ffjord.trace_jacobian_exact`
    (the per-dimension diagonal of `d ode_fn / d state`, which FFJORD sums), but without a
    `tf.while_loop` over dimensions, so a training step built on it can be compiled with
    XLA and differentiated twice. Needs a static last dimension (2 for the moons); it costs
    one vector-Jacobian product per dimension, fine for low-dimensional flows.

    Args:
      ode_fn: `callable(time, state, **kwargs)`, the state time derivative.
      state_shape: shape of the state (unused beyond FFJORD's calling convention).
      dtype: dtype of the state (unused).

    Returns:
      `callable(time, (state, log_det_jacobian), **kwargs)` returning
      `(state_time_derivative, diagonal_of_jacobian)`, both shaped like `state`.

    Example:
      >>> field = lambda t, z: 3.0 * z  # Jacobian 3 I: diagonal (3, 3)
      >>> z = tf.ones([1, 2])
      >>> fn = trace_jacobian_exact_unrolled(field, z.shape, z.dtype)
      >>> fn(0.0, (z, tf.zeros_like(z)))[1].numpy().tolist()
      [[3.0, 3.0]]
    """
    del state_shape, dtype

    def augmented_ode_fn(time, state_and_log_det, **kwargs):
        state, _ = state_and_log_det
        size = state.shape[-1]
        if size is None:
            raise ValueError("trace_jacobian_exact_unrolled needs a static last dimension")
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(state)
            derivative = ode_fn(time, state, **kwargs)
            components = [derivative[..., i] for i in range(size)]
        zero = tf.UnconnectedGradients.ZERO  # a field that ignores the state has trace 0
        diagonal = [
            tape.gradient(components[i], state, unconnected_gradients=zero)[..., i]
            for i in range(size)
        ]
        del tape
        return derivative, tf.stack(diagonal, axis=-1)

    return augmented_ode_fn


#: Trace estimator name -> a `trace_augmentation_fn`. "exact" computes what TFP's
#: `trace_jacobian_exact` does without its `tf.while_loop`, so XLA can compile training.
TRACE_ESTIMATORS = {
    "exact": trace_jacobian_exact_unrolled,
    "hutchinson": tfp.bijectors.ffjord.trace_jacobian_hutchinson,
}


def check_trace(trace) -> str:
    """Returns `trace` if it names an estimator in `TRACE_ESTIMATORS`.

    Raises:
      ValueError: naming `trace` and the known names otherwise (whatever its type: a trace
        is chosen by name).

    Example:
      >>> check_trace("exact")
      'exact'
    """
    return _checks.choice("trace", trace, TRACE_ESTIMATORS)
