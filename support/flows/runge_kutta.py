"""Explicit Runge-Kutta steps over a fixed grid, and two ways to differentiate them.

`integrate` takes `num_steps` steps of an explicit Runge-Kutta method (`METHODS`) from
`start` to `end`. How gradients flow back through the steps is a choice (`BACKPROP`):

* `"recompute"` (the default): the forward loop keeps only the state at the start of every
  step; a second loop walks the steps backwards, recomputes each one and backpropagates
  through it alone (one vector-Jacobian product of one step). This is ordinary
  backpropagation through the discrete solution ("discretise, then optimise"), so the
  gradients are exact for the computed solution, but TensorFlow never differentiates the
  loop itself: it does not record every stage's intermediate values, and the gradient graph
  is one step's worth of ops. When each stage reads only the slope of the stage before it
  (all of `METHODS`), both loops go one stage per iteration: one field evaluation per loop
  body (`support.flows.rk_stages`), and the forward loop keeps one state per stage (the step's
  start, then the slopes entering the later stages: four states per RK4 step, so a solve
  holds `4 * num_steps` copies of the state until its gradient is taken). For FFJORD
  training this takes the first step's tracing and XLA compiling to well under half of
  TensorFlow's differentiating the loop (`benchmarks/README.md`).
* `"autodiff"`: TensorFlow differentiates the `tf.while_loop` (or the Python-unrolled steps)
  as it would any other ops. Needed when the field captures tensors (other than variables
  and `constants`) that gradients must reach.

A solve may also run in `segments`, each with its own arguments for the field, chosen once
per segment (`per_segment`): `support.flows.single_solve` runs a stack of FFJORD flows that way,
one flow per segment, in one loop that TensorFlow traces and XLA compiles once.

Serves `support.flows.solvers.FixedStepSolver` (the fast path of `notebooks/02_ffjord_moons.ipynb`)
and `support.flows.single_solve`.

#### References

[1]: Ernst Hairer, Syvert P. Norsett and Gerhard Wanner. Solving Ordinary Differential
     Equations I: Nonstiff Problems. Springer, 1993. (Explicit Runge-Kutta tableaux.)
[2]: Andreas Griewank and Andrea Walther. Evaluating Derivatives. SIAM, 2008.
     (Reverse mode with checkpoints: store some states, recompute the rest.)
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from support import _checks
from support.flows.rk_stages import chained_stages, stage_advance, stage_store

__all__ = ["BACKPROP", "METHODS", "integrate"]

# Butcher tableaux of explicit Runge-Kutta methods: (a, b, c) with stage i evaluated at
# t + c[i] h on y + h * sum_j a[i][j] k_j, and the step y + h * sum_i b[i] k_i.
METHODS = {
    "euler": ((), (1.0,), (0.0,)),
    "midpoint": (((0.5,),), (0.0, 1.0), (0.0, 0.5)),
    "rk4": (
        ((0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
        (1 / 6, 1 / 3, 1 / 3, 1 / 6),
        (0.0, 0.5, 0.5, 1.0),
    ),
}

#: How `integrate` is differentiated (see the module docstring).
BACKPROP = ("recompute", "autodiff")


@tf.autograph.experimental.do_not_convert  # its branches are on Python values
def integrate(
    field: Callable,
    start: tf.Tensor,
    end: tf.Tensor,
    state,
    *,
    num_steps: int,
    method: str = "rk4",
    backprop: str = "recompute",
    unroll: bool = False,
    constants: dict | None = None,
    segments: int = 1,
    per_segment: Callable | None = None,
):
    """The state after `num_steps` equal steps of `method` from `start` to `end`.

    Args:
      field: `field(t, state, **constants)`, the time derivative; `state` may be a nested
        structure of tensors (FFJORD's `(state, log_det_jacobian)`).
      start: scalar float tensor, the initial time.
      end: scalar float tensor of the same dtype, the final time.
      state: the initial state.
      num_steps: a positive Python int.
      method: a key of `METHODS`.
      backprop: a value of `BACKPROP`. With `"recompute"`, gradients reach the initial
        state, the tensors in `constants` and the variables `field` reads, not other tensors
        it captures, nor the times.
      unroll: write the steps into the graph one by one instead of a `tf.while_loop`
        (only with `backprop="autodiff"`).
      constants: keyword arguments passed to every `field` call.
      segments: split the steps into this many runs of `num_steps // segments` steps (a
        divisor of `num_steps`), each with its own `field` arguments from `per_segment`.
      per_segment: `per_segment(j, **constants)`, called once per segment with its index
        `j` (a scalar int32 tensor), returns the keyword arguments (float tensors) of the
        `field` calls in segment `j` instead of `constants`: one loop then runs fields that
        change from segment to segment (`support.flows.single_solve` runs several flows' fields
        one after another, each loop-invariant within its segment).

    Returns:
      The final state, in the structure of `state`.
    """
    constants = dict(constants or {})
    tableau = METHODS[method]
    step = (end - start) / num_steps
    segments = _checks.positive_int("segments", segments)
    per = num_steps // segments
    if per * segments != num_steps:
        raise ValueError(f"segments={segments} must divide num_steps={num_steps}")

    def select(j, extra):
        if per_segment is None:
            return extra
        return per_segment(tf.convert_to_tensor(j, tf.int32), **extra)

    def advance(k, y, extra):
        time = start + tf.cast(k, start.dtype) * step
        return _rk_step(lambda t, s: field(t, s, **extra), time, y, step, tableau)

    if backprop == "recompute":
        chained = chained_stages(tableau)
        if chained is None:
            return _integrate_recomputing(advance, select, state, constants, per, segments)
        stage, stages = stage_advance(field, start, step, tableau, chained), len(tableau[2])
        carry = (state, *[tf.nest.map_structure(tf.zeros_like, state)] * 2)
        store = stage_store(step, tableau, len(tf.nest.flatten(state)))
        return _integrate_recomputing(
            stage, select, carry, constants, per * stages, segments, store
        )[0]
    for j in range(segments):
        extra = select(j, constants)
        if unroll:
            for k in range(j * per, (j + 1) * per):
                state = advance(k, state, extra)
            continue
        _, state = tf.while_loop(
            lambda k, y, last=(j + 1) * per: k < last,
            lambda k, y, extra=extra: (k + 1, advance(k, y, extra)),
            (tf.constant(j * per), state),
            maximum_iterations=per,
        )
    return state


def _integrate_recomputing(advance, select, state, constants, per, segments, store=None):
    # `store`: `(keep, restore)`, what iteration k stores of its flat input state and how
    # the backward loop rebuilds that state from `read(i)`, iteration i's stored leaves.
    keep_leaves, restore = store or (lambda k, ys: ys, lambda k, read: read(k))
    state_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(state)]
    constant_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(constants)]
    num_states = len(state_leaves)

    def arguments(j, extra):  # segment j's field arguments: a structure and its leaves
        chosen = select(j, tf.nest.pack_sequence_as(constants, list(extra)))
        return chosen, [tf.convert_to_tensor(x) for x in tf.nest.flatten(chosen)]

    def step_leaves(k, leaves, chosen, chosen_leaves):
        y = tf.nest.pack_sequence_as(state, list(leaves))
        return tf.nest.flatten(advance(k, y, tf.nest.pack_sequence_as(chosen, chosen_leaves)))

    def over_segments(body, first, last, loop_state):
        # One segment: no outer loop, so the plain solve compiles as it always did.
        if segments == 1:
            return body(tf.constant(0), *loop_state)[1:]
        return tf.while_loop(
            lambda j, *_: j != last + (1 if last > first else -1),
            body,
            (tf.constant(first), *loop_state),
            maximum_iterations=segments,
        )[1:]

    @tf.custom_gradient
    def solve(*inputs):
        ys, extra = list(inputs[:num_states]), list(inputs[num_states:])
        size = per * segments
        kept = keep_leaves(tf.constant(0), ys)
        # Leaves of one shape and dtype are kept stacked: one write per step, not one each.
        stacked = all(y.shape == kept[0].shape and y.dtype == kept[0].dtype for y in kept)
        pack = (lambda ys: [tf.stack(ys)]) if stacked else (lambda ys: ys)
        stored = [tf.TensorArray(y.dtype, size=size, element_shape=y.shape) for y in pack(kept)]

        def forward_segment(j, ys, stored):
            chosen, chosen_leaves = arguments(j, extra)

            def forward(k, ys, stored):
                i = j * per + k
                written = pack(keep_leaves(i, ys))
                stored = [a.write(i, y) for a, y in zip(stored, written, strict=True)]
                return k + 1, step_leaves(i, ys, chosen, chosen_leaves), stored

            _, ys, stored = tf.while_loop(
                lambda k, *_: k < per, forward, (tf.constant(0), ys, stored), maximum_iterations=per
            )
            return j + 1, ys, stored

        final, stored = over_segments(forward_segment, 0, segments - 1, (ys, stored))
        starts = [array.stack() for array in stored]  # what each iteration kept of its input

        def read(i):
            leaves = [s[i] for s in starts]
            return tf.unstack(leaves[0], len(kept)) if stacked else leaves

        def gradient(*upstream, variables=None):
            variables = list(variables or [])
            upstream = [
                tf.zeros_like(y) if g is None else g for g, y in zip(upstream, final, strict=True)
            ]

            def backward_segment(j, adjoint, sums):
                with tf.GradientTape(watch_accessed_variables=False) as choice:
                    choice.watch(extra)
                    chosen, chosen_leaves = arguments(j, extra)
                parameters = chosen_leaves + variables
                inner, add, unpack = _running_sum(parameters)

                def backward(k, adjoint, inner):
                    ys = restore(j * per + k, read)
                    with tf.GradientTape(watch_accessed_variables=False) as tape:
                        tape.watch(ys + parameters)
                        out = step_leaves(j * per + k, ys, chosen, chosen_leaves)
                    grads = tape.gradient(
                        out, ys + parameters, output_gradients=adjoint, unconnected_gradients="zero"
                    )
                    return k - 1, grads[:num_states], add(inner, grads[num_states:])

                _, adjoint, inner = tf.while_loop(
                    lambda k, *_: k >= 0,
                    backward,
                    (tf.constant(per - 1), adjoint, inner),
                    maximum_iterations=per,
                )
                inner = unpack(inner)
                # Back from segment j's arguments to `constants` (a gather's gradient, say).
                through = choice.gradient(
                    chosen_leaves,
                    extra,
                    output_gradients=inner[: len(chosen_leaves)],
                    unconnected_gradients="zero",
                )
                through = [tf.convert_to_tensor(g) for g in through]
                added = through + inner[len(chosen_leaves) :]
                return j - 1, adjoint, [a + b for a, b in zip(sums, added, strict=True)]

            sums = [tf.zeros_like(x) for x in extra + variables]
            adjoint, sums = over_segments(backward_segment, segments - 1, 0, (upstream, sums))
            return adjoint + sums[: len(extra)], sums[len(extra) :]

        return final, gradient

    final = solve(*state_leaves, *constant_leaves)
    return tf.nest.pack_sequence_as(state, list(final))


def _running_sum(tensors):
    """`(zeros, add, unpack)`: the backward loop's running sum of the gradients of `tensors`
    (the field's arguments and variables), one flat vector when they share a dtype and have
    known shapes (one add per step, not one per tensor: each a kernel for XLA to compile and
    launch); `add(total, gradients)` adds a step's list, `unpack(total)` returns the list."""
    shapes = [x.shape for x in tensors]
    dtypes = {x.dtype for x in tensors}
    if len(dtypes) != 1 or not all(shape.is_fully_defined() for shape in shapes):
        zeros = [tf.zeros_like(x) for x in tensors]
        return zeros, lambda total, xs: [a + b for a, b in zip(total, xs, strict=True)], list
    sizes = [shape.num_elements() for shape in shapes]

    def add(total, xs):
        return total + tf.concat([tf.reshape(x, [-1]) for x in xs], 0)

    def unpack(total):
        return [
            tf.reshape(x, shape) for x, shape in zip(tf.split(total, sizes), shapes, strict=True)
        ]

    return tf.zeros([sum(sizes)], dtypes.pop()), add, unpack


def _rk_step(field, time, state, step, tableau):
    a, b, c = tableau
    slopes = []
    for i, c_i in enumerate(c):
        stage_state = state
        if i > 0:
            stage_state = tf.nest.map_structure(
                lambda y, *ks, row=a[i - 1]: (
                    y + step * sum(w * k for w, k in zip(row, ks, strict=True) if w)
                ),
                state,
                *slopes,
            )
        slopes.append(field(time + c_i * step, stage_state))
    return tf.nest.map_structure(
        lambda y, *ks: y + step * sum(w * k for w, k in zip(b, ks, strict=True) if w),
        state,
        *slopes,
    )
