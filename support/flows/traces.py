"""Trace estimators for FFJORD: the divergence of the vector field, exactly or estimated.

A continuous normalizing flow changes its log density by the integral of the trace of the
field's Jacobian. `tfb.FFJORD` takes a `trace_augmentation_fn` that computes it next to the
field: the functions here are such extension points, for any field, so a learner can pass
them to their own `tfb.FFJORD`. `TRACE_ESTIMATORS` names the two that
`notebooks/02_ffjord_moons.ipynb` compares: "exact" (`trace_jacobian_exact_fast`: the
field's own one-pass diagonal for a `support.flows.ode.MLPODE`, read off its forward pass with no
gradient tape; for any other field `trace_jacobian_exact_unrolled`, one vector-Jacobian
product per dimension) and "hutchinson" (an unbiased one-probe estimate,
`trace_jacobian_hutchinson`); `augmentation_for` picks one by name. All compile with XLA
inside a fixed-step solver's differentiated loop: none uses a `tf.while_loop` over
dimensions or TFP's `vectorized_map` over probes (whose gradient has a shape XLA cannot
fix), and the Hutchinson probe is drawn from a seed tensor by a stateless integer op, which
gives the same bits with and without XLA (TensorFlow's stateless *float* samplers do not).
`check_trace` is the argument check every FFJORD module uses for a trace name.

Serves `support.flows.ffjord` and `support.flows.flow_eval` (notebook 02).

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
import tensorflow_probability as tfp

from support import _checks
from support.flows import ode

__all__ = [
    "TRACE_ESTIMATORS",
    "augmentation_for",
    "check_trace",
    "rademacher_probe",
    "trace_jacobian_exact_fast",
    "trace_jacobian_exact_unrolled",
    "trace_jacobian_hutchinson",
    "trace_name",
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


def trace_jacobian_exact_fast(ode_fn, state_shape, dtype):
    """Exact Jacobian trace for any `tfb.FFJORD`: one pass for an MLP field, a tape otherwise.

    A drop-in `trace_augmentation_fn` (TFP's signature, the semantics of
    `tfb.ffjord.trace_jacobian_exact`: the diagonal of `d ode_fn / d state`, which FFJORD
    sums), reusable with any field::

        tfb.FFJORD(state_time_derivative_fn=field, ode_solve_fn=solver.solve,
                   trace_augmentation_fn=trace_jacobian_exact_fast)

    * When the field carries its own diagonal (`support.flows.ode.has_jacobian_diagonal`: a
      `support.flows.ode.MLPODE`, the package's or the page's, with a named activation), the
      diagonal comes out of the field's forward pass (`ode.value_and_jacobian_diagonal`),
      with no gradient tape, so a training step
      has no second derivatives to build. That holds in both directions: FFJORD calls this
      function with the field itself (forward) or with its reversal
      `-field(final_time - t, z)` (inverse, the `inverse_state_time_derivative` FFJORD makes),
      which is recognised and reversed here too.
    * Any other field falls back to a gradient tape: `trace_jacobian_exact_unrolled` (one
      vector-Jacobian product per state dimension, XLA-compilable) when the state's last
      dimension is static, else TFP's own `tfb.ffjord.trace_jacobian_exact`.

    The fallback never changes the result, only its cost.

    Args:
      ode_fn: `callable(time, state, **kwargs)`, the state time derivative.
      state_shape: shape of the state.
      dtype: dtype of the state.

    Returns:
      `callable(time, (state, log_det_jacobian), **kwargs)` returning
      `(state_time_derivative, diagonal_of_jacobian)`, both shaped like `state`.

    Example:
      >>> from support.flows.ode import MLPODE
      >>> field = MLPODE(hidden_sizes=(4,), output_size=2)
      >>> z = tf.ones([1, 2])
      >>> fast = trace_jacobian_exact_fast(field, z.shape, z.dtype)(0.3, (z, z))[1]
      >>> taped = trace_jacobian_exact_unrolled(field, z.shape, z.dtype)(0.3, (z, z))[1]
      >>> bool(tf.reduce_all(tf.abs(fast - taped) < 1e-6))
      True
    """
    field, final_time = _field_with_diagonal(ode_fn)
    if field is not None and final_time is None:

        def one_pass(time, state_and_log_det, **kwargs):
            del kwargs  # FFJORD's condition kwargs: a MLPODE takes none
            return ode.value_and_jacobian_diagonal(field, time, state_and_log_det[0])

        return one_pass
    if field is not None:

        def one_pass_reversed(time, state_and_log_det, **kwargs):
            del kwargs
            value, diagonal = ode.value_and_jacobian_diagonal(
                field, final_time - time, state_and_log_det[0]
            )
            return -value, -diagonal

        return one_pass_reversed
    unrolled = trace_jacobian_exact_unrolled(ode_fn, state_shape, dtype)
    looped = tfp.bijectors.ffjord.trace_jacobian_exact(ode_fn, state_shape, dtype)

    def taped(time, state_and_log_det, **kwargs):
        static = state_and_log_det[0].shape[-1] is not None
        return (unrolled if static else looped)(time, state_and_log_det, **kwargs)

    return taped


def _field_with_diagonal(ode_fn):
    """`(field, None)` if `ode_fn` carries its own Jacobian diagonal; `(field, final_time)` if
    it is `tfb.FFJORD`'s reversal of such a field; `(None, None)` otherwise."""
    if ode.has_jacobian_diagonal(ode_fn):
        return ode_fn, None
    # `tfb.FFJORD.__init__` defines `inverse_state_time_derivative(time, state)` as
    # `-state_time_derivative_fn(self._final_time - time, state)`: read both off its closure.
    if getattr(ode_fn, "__name__", "") != "inverse_state_time_derivative":
        return None, None
    try:
        names, cells = ode_fn.__code__.co_freevars, ode_fn.__closure__ or ()
        captured = {name: cell.cell_contents for name, cell in zip(names, cells, strict=True)}
    except (AttributeError, ValueError):  # not a closure of that shape: use the tape
        return None, None
    field = captured.get("state_time_derivative_fn")
    final_time = getattr(captured.get("self"), "_final_time", None)
    if final_time is None or not ode.has_jacobian_diagonal(field):
        return None, None
    return field, final_time


def rademacher_probe(shape, dtype, seed):
    """Hutchinson's probe: entries +1 or -1 with equal probability, drawn from `seed`.

    The probe `trace_jacobian_hutchinson` draws; it also has the signature of the
    `sample_fn` argument of TFP's `tfb.ffjord.trace_jacobian_hutchinson`, so TFP's estimator
    can be given the very same probe. The bits depend on the seed and the number of entries,
    not on how they are arranged (shape `[1, n, d]` gives the entries of `[n, d]`).

    Args:
      shape: the probe's shape.
      dtype: its float dtype.
      seed: a shape-[2] integer seed (tensor or pair); only its low 31 bits are used.

    Returns:
      A tensor of `shape` and `dtype` holding +1 and -1.

    Example:
      >>> probe = rademacher_probe([2, 3], tf.float32, seed=(1, 2))
      >>> sorted(set(probe.numpy().ravel().tolist())) in ([-1.0, 1.0], [-1.0], [1.0])
      True
    """
    # Non-negative 31-bit seeds: XLA and the CPU kernel map a negative seed differently.
    seed = tf.cast(tf.bitwise.bitwise_and(tf.cast(seed, tf.int64), 2**31 - 1), tf.int32)
    bits = tf.random.stateless_uniform(shape, seed=seed, minval=0, maxval=2, dtype=tf.int32)
    return tf.cast(2 * bits - 1, dtype)


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
    probe = rademacher_probe(state_shape, dtype, seed)

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


#: Trace estimator name -> a `trace_augmentation_fn` for `tfb.FFJORD`, for any field. Both
#: compile with XLA: "exact" computes what TFP's `trace_jacobian_exact` does (in one pass for
#: a `support.flows.ode.MLPODE`, else without its `tf.while_loop`), "hutchinson" what TFP's
#: one-probe `trace_jacobian_hutchinson` does without its `vectorized_map`.
TRACE_ESTIMATORS = {
    "exact": trace_jacobian_exact_fast,
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


#: Every `trace_augmentation_fn` `trace_name` knows, TFP's and this module's, by trace name.
_KNOWN_ESTIMATORS = {
    "exact": (
        trace_jacobian_exact_fast,
        trace_jacobian_exact_unrolled,
        tfp.bijectors.ffjord.trace_jacobian_exact,
    ),
    "hutchinson": (trace_jacobian_hutchinson, tfp.bijectors.ffjord.trace_jacobian_hutchinson),
}


def trace_name(trace_augmentation_fn) -> str:
    """The name of the estimator a `trace_augmentation_fn` computes: "exact" for TFP's
    `trace_jacobian_exact` and this module's two, "hutchinson" for TFP's
    `trace_jacobian_hutchinson` and this module's (also with arguments bound by
    `functools.partial`).

    Raises:
      ValueError: naming `trace_augmentation_fn` for any other function.

    Example:
      >>> trace_name(tfp.bijectors.ffjord.trace_jacobian_exact)
      'exact'
      >>> trace_name(functools.partial(trace_jacobian_hutchinson, seed=(1, 2)))
      'hutchinson'
    """
    function = trace_augmentation_fn
    while isinstance(function, functools.partial):
        function = function.func
    for name, functions in _KNOWN_ESTIMATORS.items():
        if any(function is known for known in functions):
            return name
    raise ValueError(
        "trace_augmentation_fn must be one of TFP's tfb.ffjord.trace_jacobian_exact or "
        "trace_jacobian_hutchinson, or support.flows.traces' trace_jacobian_exact_fast or "
        f"trace_jacobian_hutchinson (possibly with functools.partial), got {function!r}"
    )


def augmentation_for(trace: str, generator=None):
    """The `trace_augmentation_fn` for `tfb.FFJORD` named `trace`, for any field.

    "exact": `trace_jacobian_exact_fast`. "hutchinson": `trace_jacobian_hutchinson`, its
    probes seeded from `generator` (one draw per solve) when one is given.

    Raises:
      ValueError: for an unknown trace name.

    Example:
      >>> augmentation_for("exact") is trace_jacobian_exact_fast
      True
    """
    trace = check_trace(trace)
    if trace == "hutchinson" and generator is not None:
        return functools.partial(trace_jacobian_hutchinson, generator=generator)
    return TRACE_ESTIMATORS[trace]
