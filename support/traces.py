"""Trace estimators for FFJORD: the divergence of the vector field, exactly or estimated.

A continuous normalizing flow changes its log density by the integral of the trace of the
field's Jacobian. `tfb.FFJORD` takes a `trace_augmentation_fn` that computes it next to the
field. `TRACE_ESTIMATORS` names the two that `notebooks/02_ffjord_moons.ipynb` compares:
"exact" (one vector-Jacobian product per dimension, `trace_jacobian_exact_unrolled`) and
"hutchinson" (an unbiased one-probe estimate, `trace_jacobian_hutchinson`).
`augmentation_for` picks the one a bijector uses: for the exact trace of a
`support.ode.MLPODE` it is `trace_jacobian_exact_of`, which reads the diagonal off the
field's own forward pass. Both compile with XLA inside a fixed-step solver's differentiated
loop: neither uses a `tf.while_loop` over dimensions or TFP's `vectorized_map` over probes
(whose gradient has a shape XLA cannot fix), and the Hutchinson probe is drawn from a seed
tensor by a stateless integer op, which gives the same bits with and without XLA
(TensorFlow's stateless *float* samplers do not).
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

import functools

import tensorflow as tf

from support import _checks

__all__ = [
    "TRACE_ESTIMATORS",
    "augmentation_for",
    "check_trace",
    "trace_jacobian_exact_of",
    "trace_jacobian_exact_unrolled",
    "trace_jacobian_hutchinson",
]


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


def trace_jacobian_exact_of(field, *, final_time: float = 1.0):
    """Exact trace for `tfb.FFJORD(field, ...)` from the field's own Jacobian diagonal.

    For a field with `value_and_jacobian_diagonal` (a `support.ode.MLPODE` with a named
    activation), the diagonal comes from one forward pass, with no gradient tape, so a
    training step has no second derivatives to build: it traces, compiles and runs faster
    than `trace_jacobian_exact_unrolled`, with the same result. Returns a
    `trace_augmentation_fn` for a `tfb.FFJORD` whose state time derivative is `field` and
    whose final time is `final_time`: FFJORD calls it with `field` itself (forward) or with
    its reversed field `-field(final_time - t, z)` (inverse, its `inverse_state_time_derivative`);
    any other `ode_fn` gets `trace_jacobian_exact_unrolled`.

    Example:
      >>> from support.ode import MLPODE
      >>> field = MLPODE(hidden_sizes=(4,), output_size=2)
      >>> z = tf.ones([1, 2])
      >>> fast = trace_jacobian_exact_of(field)(field, z.shape, z.dtype)(0.3, (z, z))[1]
      >>> taped = trace_jacobian_exact_unrolled(field, z.shape, z.dtype)(0.3, (z, z))[1]
      >>> bool(tf.reduce_all(tf.abs(fast - taped) < 1e-6))
      True
    """

    def augmentation(ode_fn, state_shape, dtype):
        if ode_fn is field:

            def forward(time, state_and_log_det, **kwargs):
                del kwargs  # FFJORD's condition kwargs: a MLPODE takes none
                return field.value_and_jacobian_diagonal(time, state_and_log_det[0])

            return forward
        if getattr(ode_fn, "__name__", "") == "inverse_state_time_derivative":

            def inverse(time, state_and_log_det, **kwargs):
                del kwargs
                value, diagonal = field.value_and_jacobian_diagonal(
                    final_time - time, state_and_log_det[0]
                )
                return -value, -diagonal

            return inverse
        return trace_jacobian_exact_unrolled(ode_fn, state_shape, dtype)

    return augmentation


def trace_jacobian_hutchinson(ode_fn, state_shape, dtype, *, seed=None, generator=None):
    """Hutchinson's unbiased trace estimate for `tfb.FFJORD`, one Rademacher probe per solve.

    Computes `eps * (eps^T d ode_fn / d state)`, whose sum over the last axis is unbiased for
    the trace when `eps` has identity covariance, as TFP's `trace_jacobian_hutchinson` does
    with one probe drawn once per solve (as in FFJORD), with three differences: one
    vector-Jacobian product instead of a `vectorized_map` over probes, so a training step
    through a fixed-step solver compiles with XLA; Rademacher probes (entries +-1, the
    FFJORD paper's other choice), whose estimate has no variance from the Jacobian's
    diagonal; and the probe is drawn by a stateless integer op from a seed, so a seed gives
    the same probe, and the same gradients, with or without XLA.

    Args:
      ode_fn: `callable(time, state, **kwargs)`, the state time derivative.
      state_shape: shape of the state (static inside a compiled step).
      dtype: dtype of the state.
      seed: a shape-[2] integer seed (tensor or pair) for the probe. Takes precedence.
      generator: a `tf.random.Generator` that supplies the seed (one draw per solve), so
        successive training steps get fresh probes. Without `seed` or `generator` the
        seed comes from TensorFlow's global stateful random stream.

    Returns:
      `callable(time, (state, log_det_jacobian), **kwargs)` returning
      `(state_time_derivative, trace_estimate)`, both shaped like `state`; the estimate
      summed over the last axis is unbiased for the trace.

    Example:
      >>> field = lambda t, z: 3.0 * z  # trace 6
      >>> z = tf.ones([20000, 2])
      >>> fn = trace_jacobian_hutchinson(field, z.shape, z.dtype, seed=(1, 2))
      >>> bool(abs(tf.reduce_mean(tf.reduce_sum(fn(0.0, (z, z))[1], -1)) - 6.0) < 0.3)
      True
    """
    if seed is None:
        if generator is not None:
            seed = generator.uniform_full_int([2], dtype=tf.int32)
        else:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
    # Non-negative 31-bit seeds: XLA and the CPU kernel map a negative seed differently.
    seed = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)
    bits = tf.random.stateless_uniform(state_shape, seed=seed, minval=0, maxval=2, dtype=tf.int32)
    probe = tf.cast(2 * bits - 1, dtype)

    def augmented_ode_fn(time, state_and_log_det, **kwargs):
        state, _ = state_and_log_det
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(state)
            derivative = ode_fn(time, state, **kwargs)
        # eps^T J: one vector-Jacobian product whatever the dimension.
        probe_jacobian = tape.gradient(
            derivative, state, output_gradients=probe, unconnected_gradients="zero"
        )
        return derivative, probe * probe_jacobian

    return augmented_ode_fn


#: Trace estimator name -> a `trace_augmentation_fn`. Both compile with XLA: "exact" computes
#: what TFP's `trace_jacobian_exact` does without its `tf.while_loop`, "hutchinson" what TFP's
#: one-probe `trace_jacobian_hutchinson` does without its `vectorized_map`.
TRACE_ESTIMATORS = {
    "exact": trace_jacobian_exact_unrolled,
    "hutchinson": trace_jacobian_hutchinson,
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


def augmentation_for(trace: str, field, generator=None):
    """The `trace_augmentation_fn` a `tfb.FFJORD` integrating `field` uses for `trace`.

    "exact": the field's own one-pass diagonal (`trace_jacobian_exact_of`) when it has one
    (`field.has_jacobian_diagonal`), else `trace_jacobian_exact_unrolled`. "hutchinson":
    `trace_jacobian_hutchinson`, seeded from `generator` when one is given.

    Example:
      >>> augmentation_for("exact", lambda t, z: z) is trace_jacobian_exact_unrolled
      True
    """
    trace = check_trace(trace)
    if trace == "exact":
        if getattr(field, "has_jacobian_diagonal", False):
            return trace_jacobian_exact_of(field)
        return trace_jacobian_exact_unrolled
    if generator is None:
        return trace_jacobian_hutchinson
    return functools.partial(trace_jacobian_hutchinson, generator=generator)
