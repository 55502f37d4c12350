"""Explicit Runge-Kutta steps over a fixed grid, and two ways to differentiate them.

`integrate` takes `num_steps` steps of an explicit Runge-Kutta method (`METHODS`) from
`start` to `end`. How gradients flow back through the steps is a choice (`BACKPROP`):

* `"recompute"` (the default): the forward loop keeps only the state at the start of every
  step; a second loop walks the steps backwards, recomputes each one and backpropagates
  through it alone (one vector-Jacobian product of one step). This is ordinary
  backpropagation through the discrete solution ("discretise, then optimise"), so the
  gradients are exact for the computed solution, but TensorFlow never differentiates the
  loop itself: it does not record every stage's intermediate values, and the gradient graph
  is one step's worth of ops. For FFJORD training that roughly halves the tracing and XLA
  compile time of the first step and speeds up every step (`benchmarks/README.md`).
* `"autodiff"`: TensorFlow differentiates the `tf.while_loop` (or the Python-unrolled steps)
  as it would any other ops. Needed when the field captures tensors (other than variables
  and `constants`) that gradients must reach.

Serves `support.solvers.FixedStepSolver` (the fast path of `notebooks/02_ffjord_moons.ipynb`).

#### References

[1]: Ernst Hairer, Syvert P. Norsett and Gerhard Wanner. Solving Ordinary Differential
     Equations I: Nonstiff Problems. Springer, 1993. (Explicit Runge-Kutta tableaux.)
[2]: Andreas Griewank and Andrea Walther. Evaluating Derivatives. SIAM, 2008.
     (Reverse mode with checkpoints: store some states, recompute the rest.)
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

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

    Returns:
      The final state, in the structure of `state`.
    """
    constants = dict(constants or {})
    tableau = METHODS[method]
    step = (end - start) / num_steps

    def advance(k, y, extra):
        time = start + tf.cast(k, start.dtype) * step
        return _rk_step(lambda t, s: field(t, s, **extra), time, y, step, tableau)

    if backprop == "autodiff":
        if unroll:
            for k in range(num_steps):
                state = advance(k, state, constants)
            return state
        _, state = tf.while_loop(
            lambda k, y: k < num_steps,
            lambda k, y: (k + 1, advance(k, y, constants)),
            (tf.constant(0), state),
            maximum_iterations=num_steps,
        )
        return state
    return _integrate_recomputing(advance, state, constants, num_steps)


def _integrate_recomputing(advance, state, constants, num_steps):
    state_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(state)]
    constant_leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(constants)]
    num_states = len(state_leaves)

    def step_leaves(k, leaves, extra):
        y = tf.nest.pack_sequence_as(state, list(leaves))
        c = tf.nest.pack_sequence_as(constants, list(extra))
        return tf.nest.flatten(advance(k, y, c))

    @tf.custom_gradient
    def solve(*inputs):
        ys, extra = list(inputs[:num_states]), list(inputs[num_states:])
        stored = [tf.TensorArray(y.dtype, size=num_steps, element_shape=y.shape) for y in ys]

        def forward(k, ys, stored):
            stored = [array.write(k, y) for array, y in zip(stored, ys, strict=True)]
            return k + 1, step_leaves(k, ys, extra), stored

        _, final, stored = tf.while_loop(
            lambda k, *_: k < num_steps,
            forward,
            (tf.constant(0), ys, stored),
            maximum_iterations=num_steps,
        )
        starts = [array.stack() for array in stored]  # the state at the start of each step

        def gradient(*upstream, variables=None):
            variables = list(variables or [])
            upstream = [
                tf.zeros_like(y) if g is None else g for g, y in zip(upstream, final, strict=True)
            ]
            sums = [tf.zeros_like(x) for x in extra + variables]

            def backward(k, adjoint, sums):
                ys = [s[k] for s in starts]
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(ys + extra + variables)
                    out = step_leaves(k, ys, extra)
                grads = tape.gradient(
                    out,
                    ys + extra + variables,
                    output_gradients=adjoint,
                    unconnected_gradients="zero",
                )
                summed = [a + b for a, b in zip(sums, grads[num_states:], strict=True)]
                return k - 1, grads[:num_states], summed

            _, adjoint, sums = tf.while_loop(
                lambda k, *_: k >= 0,
                backward,
                (tf.constant(num_steps - 1), upstream, sums),
                maximum_iterations=num_steps,
            )
            return adjoint + sums[: len(extra)], sums[len(extra) :]

        return final, gradient

    final = solve(*state_leaves, *constant_leaves)
    return tf.nest.pack_sequence_as(state, list(final))


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
