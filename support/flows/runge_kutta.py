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
  holds `4 * num_steps` copies of the state until its gradient is taken). What that saves
  in FFJORD training's tracing and compiling is measured in `benchmarks/README.md`.
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

import functools
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
            return _RecomputingSolve(advance, select, state, constants, per, segments).run()
        stage, stages = stage_advance(field, start, step, tableau, chained), len(tableau[2])
        carry = (state, *[tf.nest.map_structure(tf.zeros_like, state)] * 2)
        store = stage_store(step, tableau, len(tf.nest.flatten(state)))
        solve = _RecomputingSolve(stage, select, carry, constants, per * stages, segments, store)
        return solve.run()[0]
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


class _RecomputingSolve:
    """One solve whose gradient recomputes the loop's iterations one at a time, backwards.

    The solve is a loop of `per * segments` iterations on a state,

        y[i + 1] = advance(i, y[i], p[j]),    p[j] = select(j, constants),

    with iterations `j * per` to `(j + 1) * per - 1` in segment `j`. An iteration is one
    Runge-Kutta step (`_rk_step`) or, with a `store` from `support.flows.rk_stages`, one stage
    of a step (`stage_advance`).

    Forward, iteration `i` writes `keep(i, y[i])` to TensorArrays, then advances: one field
    evaluation per loop body. Without a `store` it keeps its whole input. When the kept
    leaves share one shape and dtype they go into one array, stacked (one write per
    iteration, not one per leaf).

    Backward is reverse mode through the same iterations [2]. From the upstream gradients
    `a[n]` of the final state, the backward loop walks the iterations last first: it rebuilds
    iteration `i`'s input, `y[i] = restore(i, read)` from what `keep` stored, recomputes the
    iteration under a gradient tape and takes one vector-Jacobian product of it alone,

        a[i] = (d y[i + 1] / d y[i])^T a[i + 1],
        g[j] += (d y[i + 1] / d (p[j], v))^T a[i + 1],

    where `v` are the variables the field reads and `g[j]` is a running sum over segment `j`
    (`_running_sum`). At the segment's start, the sum's part for `p[j]` goes back through
    `select` to `constants` (a second tape around `select`), and the segments' sums add up to
    the gradients of `constants` and `v`. `a[0]` is the initial state's gradient. The
    gradient graph holds one iteration's ops; TensorFlow never differentiates a loop.

    With one segment there is no loop over segments: `j` is 0 and the solve is that
    segment's loop alone, one `tf.while_loop` forward and one backward.

    One object is one solve. `run` calls `_solve` once, which keeps what `_gradient` reads:
    the constants' leaves, the final state and the stored leaves.
    """

    def __init__(self, advance, select, state, constants, per, segments, store=None):
        """A solve of `per * segments` iterations of `advance` from `state`.

        Args:
          advance: `advance(i, y, arguments)`, iteration `i` (a scalar int32 tensor) from
            `y`, in the structure of `state`, with a segment's arguments; returns the next
            state in that structure.
          select: `select(j, constants)`, the arguments of segment `j` (a scalar int32
            tensor) from `constants`.
          state: the initial state, a nested structure of tensors.
          constants: a dict of tensors, `select`'s input; gradients reach them.
          per: iterations per segment, a Python int.
          segments: the number of segments, a Python int.
          store: `(keep, restore)`: `keep(i, leaves)`, what iteration `i` stores of its
            flat input, and `restore(i, read)`, that input rebuilt from `read(m)`, the
            leaves iteration `m` stored (`support.flows.rk_stages.stage_store`). None keeps
            every iteration's whole input.
        """
        self._advance = advance
        self._select = select
        self._state = state
        self._constants = constants
        self._per = per
        self._segments = segments
        # Without a `store`, an iteration keeps its whole input and reads it back as it is.
        self._keep, self._restore = store or (lambda i, ys: ys, lambda i, read: read(i))
        self._num_states = len(tf.nest.flatten(state))

    def run(self):
        """The final state, in the structure of `state`, with the recomputing gradient."""
        state_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(self._state)]
        constant_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(self._constants)]
        final = tf.custom_gradient(self._solve)(*state_leaves, *constant_leaves)
        return tf.nest.pack_sequence_as(self._state, list(final))

    def _solve(self, *inputs):
        """`tf.custom_gradient`'s function of the state's and the constants' leaves: the
        forward loops, and `_gradient` for their backward pass."""
        ys = list(inputs[: self._num_states])
        self._extra = list(inputs[self._num_states :])
        kept = self._keep(tf.constant(0), ys)
        self._num_kept = len(kept)
        self._stacked = all(y.shape == kept[0].shape and y.dtype == kept[0].dtype for y in kept)
        size = self._per * self._segments
        stored = [
            tf.TensorArray(y.dtype, size=size, element_shape=y.shape) for y in self._pack(kept)
        ]
        last = self._segments - 1
        self._final, stored = self._over_segments(self._forward_segment, 0, last, (ys, stored))
        self._stored = [array.stack() for array in stored]
        return self._final, self._gradient

    def _over_segments(self, body, first, last, loop_state):
        """`loop_state` after `body(j, *loop_state)` for segments `j = first` to `last`."""
        # One segment: no outer loop, so a plain solve is its segment's loop alone.
        if self._segments == 1:
            return body(tf.constant(0), *loop_state)[1:]
        return tf.while_loop(
            lambda j, *_: j != last + (1 if last > first else -1),
            body,
            (tf.constant(first), *loop_state),
            maximum_iterations=self._segments,
        )[1:]

    def _arguments(self, j):
        """Segment `j`'s `advance` arguments: their structure, and its leaves as tensors."""
        constants = tf.nest.pack_sequence_as(self._constants, list(self._extra))
        chosen = self._select(j, constants)
        return chosen, [tf.convert_to_tensor(x) for x in tf.nest.flatten(chosen)]

    def _step(self, i, leaves, arguments):
        """The state's leaves after iteration `i` from `leaves`, with a segment's arguments."""
        chosen, chosen_leaves = arguments
        y = tf.nest.pack_sequence_as(self._state, list(leaves))
        extra = tf.nest.pack_sequence_as(chosen, chosen_leaves)
        return tf.nest.flatten(self._advance(i, y, extra))

    def _pack(self, leaves):
        """What the forward loop writes of kept `leaves`: one stacked tensor, or the leaves."""
        return [tf.stack(leaves)] if self._stacked else leaves

    def _read(self, i):
        """The leaves iteration `i` kept of its input."""
        leaves = [stored[i] for stored in self._stored]
        return tf.unstack(leaves[0], self._num_kept) if self._stacked else leaves

    def _forward_segment(self, j, ys, stored):
        """Segment `j`'s iterations from the leaves `ys`, each storing what it keeps."""
        arguments = self._arguments(j)
        _, ys, stored = tf.while_loop(
            lambda k, *_: k < self._per,
            functools.partial(self._forward_step, j, arguments),
            (tf.constant(0), ys, stored),
            maximum_iterations=self._per,
        )
        return j + 1, ys, stored

    def _forward_step(self, j, arguments, k, ys, stored):
        """Iteration `k` of segment `j`: stores what it keeps of `ys`, then advances them."""
        i = j * self._per + k
        written = self._pack(self._keep(i, ys))
        stored = [array.write(i, y) for array, y in zip(stored, written, strict=True)]
        return k + 1, self._step(i, ys, arguments), stored

    def _gradient(self, *upstream, variables=None):
        """`tf.custom_gradient`'s gradient function: the gradients of `_solve`'s inputs and
        of `variables`, from the final state's `upstream` gradients."""
        variables = list(variables or [])
        adjoint = [
            tf.zeros_like(y) if g is None else g for g, y in zip(upstream, self._final, strict=True)
        ]
        sums = [tf.zeros_like(x) for x in self._extra + variables]
        body = functools.partial(self._backward_segment, variables)
        adjoint, sums = self._over_segments(body, self._segments - 1, 0, (adjoint, sums))
        num_extra = len(self._extra)
        return adjoint + sums[:num_extra], sums[num_extra:]

    def _backward_segment(self, variables, j, adjoint, sums):
        """Segment `j`'s iterations, last first: the adjoint at the segment's start, and
        `sums` plus the segment's gradients of the constants and `variables`."""
        with tf.GradientTape(watch_accessed_variables=False) as choice:
            choice.watch(self._extra)
            arguments = self._arguments(j)
        chosen_leaves = arguments[1]
        parameters = chosen_leaves + variables
        inner, add, unpack = _running_sum(parameters)
        _, adjoint, inner = tf.while_loop(
            lambda k, *_: k >= 0,
            functools.partial(self._backward_step, j, arguments, parameters, add),
            (tf.constant(self._per - 1), adjoint, inner),
            maximum_iterations=self._per,
        )
        inner = unpack(inner)
        through = self._through_select(choice, chosen_leaves, inner[: len(chosen_leaves)])
        added = through + inner[len(chosen_leaves) :]
        return j - 1, adjoint, [a + b for a, b in zip(sums, added, strict=True)]

    def _through_select(self, choice, chosen_leaves, gradients):
        """The constants' gradients from the `gradients` of a segment's arguments, back
        through `select`, which the tape `choice` recorded (a gather's gradient, say)."""
        through = choice.gradient(
            chosen_leaves,
            self._extra,
            output_gradients=gradients,
            unconnected_gradients="zero",
        )
        return [tf.convert_to_tensor(g) for g in through]

    def _backward_step(self, j, arguments, parameters, add, k, adjoint, inner):
        """Iteration `k` of segment `j`, rebuilt and recomputed: the adjoint at its input,
        and the running sum `inner` plus its gradients of `parameters`."""
        i = j * self._per + k
        ys = self._restore(i, self._read)
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(ys + parameters)
            out = self._step(i, ys, arguments)
        grads = tape.gradient(
            out, ys + parameters, output_gradients=adjoint, unconnected_gradients="zero"
        )
        return k - 1, grads[: self._num_states], add(inner, grads[self._num_states :])


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
