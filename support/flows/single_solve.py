"""The log-density of a stack of FFJORD flows in one fixed-step solve: the fast training loss.

A `tfb.Chain` of `tfb.FFJORD` bijectors computes a log-density flow by flow: every bijector
solves its own ODE, from the data back towards the base. With `support.flows.solvers`'
fixed-step solver that is one loop forward and one loop backward per flow, and TensorFlow
traces, and XLA compiles, every one of them separately: the training step's first call
has a pair of loops to trace and compile for every flow.

When every flow integrates a `support.flows.ode.MLPODE` of the same shape with a
`FixedStepSolver` and the exact trace, the same arithmetic fits in one solve of
`num_flows` segments (`support.flows.runge_kutta.integrate`'s `segments`): the flows' weights are
stacked, one row per flow, and segment `j` runs the reversed field of flow
`num_flows - 1 - j` with that flow's row, picked once per segment, so within a segment the
weights are loop-invariant as in a flow's own solve. There is one step loop to trace and
compile, inside a short loop over the flows. Each field's trace is
`support.flows.mlp_diagonal.mlp_value_and_trace`'s (for two hidden layers one small matrix product
of the layers' slopes, not the diagonal), so the solve carries one log-det column.
`log_prob` gives the numbers `FFJORDFlow.distribution.log_prob` gives, and their gradients
(`tests/flows/test_single_solve.py` compares them, with and without XLA); the training step's
first call has one pair of loops to trace and compile however many flows there are, and
`benchmarks/README.md` measures it against flow by flow.
`support.flows.ffjord.FFJORDFlow.loss` uses it whenever `supports` says it can (`flow_log_prob`);
sampling and every evaluation still go through the bijectors.

Serves `support.flows.ffjord` (notebook 02 and `benchmarks/bench_ffjord.py`).

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from support import _checks
from support.flows import ode
from support.flows.mlp_diagonal import mlp_value_and_trace
from support.flows.ode import MLPODE
from support.flows.runge_kutta import integrate
from support.flows.solvers import FixedStepSolver

__all__ = ["flow_log_prob", "log_prob", "supports"]


def supports(fields: Sequence, solver, trace: str) -> bool:
    """Whether `log_prob` can compute this stack's log-density in one solve.

    True when `solver` is a `FixedStepSolver` backpropagating by recomputing (its default;
    with "autodiff", XLA fails to compile TensorFlow's gradient of two or more segments),
    `trace` is "exact" and `fields` are built `MLPODE`s with the same layer sizes and the same
    named activation (as `build_ffjord` makes them). Other stacks train through the bijectors.

    Example:
      >>> fields = [MLPODE(hidden_sizes=(4,), output_size=2) for _ in range(2)]
      >>> _ = [field(0.0, tf.zeros([1, 2])) for field in fields]  # makes the weights
      >>> solver = FixedStepSolver()
      >>> supports(fields, solver, "exact"), supports(fields, solver, "hutchinson")
      (True, False)
    """
    fields = list(fields)
    if trace != "exact" or not isinstance(solver, FixedStepSolver) or not fields:
        return False
    if solver.backprop != "recompute":
        return False
    if not all(ode.has_jacobian_diagonal(field) for field in fields):
        return False
    first = fields[0]
    same_shape = all(
        ode.hidden_sizes(field) == ode.hidden_sizes(first)
        and ode.output_size(field) == ode.output_size(first)
        and field.activation is first.activation
        for field in fields
    )
    return same_shape and all(ode.has_weights(field) for field in fields)


@tf.autograph.experimental.do_not_convert  # branches on Python values: nothing to convert
def flow_log_prob(flow, points, kinetic: float = 0.0) -> tf.Tensor:
    """`flow.training_distribution(kinetic).log_prob(points)` for a
    `support.flows.ffjord.FFJORDFlow` (its `distribution`'s when `kinetic` is 0), by `log_prob` in
    one solve when `supports` holds for its fields, solver and trace."""
    if supports(flow.state_derivatives, flow.solver, flow.trace):
        fields, base = flow.state_derivatives, flow.base_distribution
        return log_prob(fields, base, flow.solver, points, kinetic=kinetic)
    return flow.training_distribution(kinetic).log_prob(points)


def _parameters(field: MLPODE) -> list[tf.Variable]:
    weights, biases = ode.weights_and_biases(field)
    return [*weights, *biases]


@tf.autograph.experimental.do_not_convert  # its branches are on Python values
def log_prob(
    fields: Sequence[MLPODE], base_distribution, solver: FixedStepSolver, points, kinetic=0.0
):
    """Log-density of `points` under the FFJORD stack `fields` on `base_distribution`.

    The flows apply in the order of `fields` (the first warps the base first), each over
    [0, 1], as in `support.flows.ffjord.build_ffjord`.

    Args:
      fields: `MLPODE`s for which `supports(fields, solver, "exact")` holds.
      base_distribution: the Gaussian the flows warp, with event shape `[size]`.
      solver: the `FixedStepSolver` (its step count, method and backward pass are used).
      points: `[..., size]` float tensor.
      kinetic: a number >= 0: subtract `kinetic` times each point's kinetic energy along
        its path, `int |f|^2 dt` over all flows, as `support.flows.kinetic.with_kinetic_penalty`
        does in `tfb.FFJORD` (0: the plain log-density).

    Returns:
      The log-density of every point, shaped like `points` without its last axis.

    Raises:
      ValueError: if `supports` does not hold, `points`' last axis is not the fields'
        size, or `kinetic` is negative.
    """
    fields = list(fields)
    if not supports(fields, solver, "exact"):
        raise ValueError(
            "log_prob needs built MLPODE fields of one shape with a named activation and a "
            f"FixedStepSolver with backprop='recompute'; got {fields!r} and {solver!r}"
        )
    size, kinetic = ode.output_size(fields[0]), _checks.real("kinetic", kinetic, min=0)
    points = tf.convert_to_tensor(points, base_distribution.dtype)
    if points.shape.rank is not None and points.shape[-1] not in (None, size):
        raise ValueError(f"points must have last axis {size}, got shape {points.shape}")
    num_flows, num_steps = len(fields), solver.num_steps
    activation = ode.activation_name(fields[0])
    # Every flow's weights and biases as one row of a matrix: one gather per segment picks a
    # flow's row (and one scatter per segment adds up its gradient), whatever the layers.
    shapes = [v.shape for v in _parameters(fields[0])]
    sizes = [shape.num_elements() for shape in shapes]
    rows = tf.stack(
        [tf.concat([tf.reshape(v, [-1]) for v in _parameters(field)], 0) for field in fields]
    )
    num_layers = len(shapes) // 2

    def flow_of_segment(segment, *, rows):
        # From the data back to the base: the last flow first, each one's field reversed in
        # time, as `tfb.FFJORD`'s inverse integrates it.
        row = tf.gather(rows, num_flows - 1 - segment)
        parameters = [
            tf.reshape(part, shape)
            for part, shape in zip(tf.split(row, sizes), shapes, strict=True)
        ]
        return {
            "weights": parameters[:num_layers],
            "biases": parameters[num_layers:],
            "offset": tf.cast(segment, rows.dtype),  # the segment's start time
        }

    def reversed_field(time, state, *, weights, biases, offset):
        # Only the trace enters the log-density: one column of log-det, not one per
        # coordinate, and no tangents to carry (`mlp_value_and_trace`).
        value, trace = mlp_value_and_trace(
            weights, biases, 1.0 - (time - offset), state[0], activation
        )
        integrand = -trace  # the reversed field's trace
        if kinetic:  # `support.flows.kinetic.penalised_trace`, summed over the coordinates
            integrand -= tf.cast(kinetic, value.dtype) * tf.reduce_sum(tf.square(value), -1)
        return -value, integrand[:, None]

    flat = tf.reshape(points, [-1, size])
    start = tf.constant(0.0, flat.dtype)
    base_points, log_det = integrate(
        reversed_field,
        start,
        start + num_flows,
        (flat, tf.zeros_like(flat[:, :1])),
        num_steps=num_flows * num_steps,
        method=solver.method,
        backprop=solver.backprop,
        unroll=solver.unroll,
        constants={"rows": rows},
        segments=num_flows,
        per_segment=flow_of_segment,
    )
    result = base_distribution.log_prob(base_points) + tf.reduce_sum(log_det, axis=-1)
    return tf.reshape(result, tf.shape(points)[:-1])
