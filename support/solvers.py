"""A fixed-step ODE solver that XLA compiles: the fast path for FFJORD training.

`tfb.FFJORD` integrates its ODE with `tfp.math.ode.DormandPrince` by default: an adaptive
solver whose step count depends on the data, with gradients from the adjoint method (a
second, backward ODE solve). On two CPU cores that costs about a minute of tracing before
the first training step, steps slow down as the learned field stiffens, and XLA refuses to
compile the adjoint ("XLA compilation requires a fixed tensor list size").

`FixedStepSolver` takes a fixed number of explicit Runge-Kutta steps instead (classic RK4 by
default) in a `tf.while_loop` with a fixed trip count (or unrolled in Python). Every step has
the same cost, the whole training step compiles with XLA (`jit_compile=True`, together with
`support.traces.trace_jacobian_exact_unrolled`), and gradients come from backpropagating
through the steps ("discretise, then optimise"), so they are the exact gradients of the
computed solution.
It implements the `tfp.math.ode.Solver` interface, so `tfb.FFJORD` takes its `solve` method
as `ode_solve_fn`. Whether a step count is accurate enough is checked, not assumed:
`tests/test_solvers.py` compares it with DormandPrince at tight tolerances, and both
`benchmarks/bench_ffjord.py` and the notebook (`support.flow_eval.compare_with_adaptive`)
score the trained model with an adaptive solver too.

Serves `notebooks/02_ffjord_moons.ipynb` (through `support.ffjord`, which registers it as
the solver "rk4") and `benchmarks/bench_ffjord.py`.

#### References

[1]: Will Grathwohl, Ricky T. Q. Chen, Jesse Bettencourt, Ilya Sutskever and David
     Duvenaud. FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative
     Models. In International Conference on Learning Representations, 2019.
     https://arxiv.org/abs/1810.01367
[2]: Ernst Hairer, Syvert P. Norsett and Gerhard Wanner. Solving Ordinary Differential
     Equations I: Nonstiff Problems. Springer, 1993. (Explicit Runge-Kutta tableaux.)
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks

__all__ = [
    "METHODS",
    "FixedStepDiagnostics",
    "FixedStepSolver",
]

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


class FixedStepDiagnostics(tfp.math.ode.Diagnostics):
    """What a `FixedStepSolver.solve` call did: known before it runs, so plain Python ints."""

    def __init__(self, num_ode_fn_evaluations: int):
        self._num_ode_fn_evaluations = num_ode_fn_evaluations

    @property
    def num_ode_fn_evaluations(self) -> int:
        return self._num_ode_fn_evaluations

    @property
    def num_jacobian_evaluations(self) -> int:
        return 0

    @property
    def num_matrix_factorizations(self) -> int:
        return 0

    @property
    def status(self) -> int:
        return 0


class FixedStepSolver(tfp.math.ode.Solver):
    """Explicit Runge-Kutta with a fixed number of steps, in a loop XLA can compile.

    Gradients flow by ordinary backpropagation through the steps (to the initial state, to
    `constants` and to any variables `ode_fn` reads), not by the adjoint method.

    Args:
      num_steps: steps between consecutive output times, a positive integer. Each step costs
        one `ode_fn` call per stage (4 for RK4).
      method: `"rk4"` (classic fourth order, the default), `"midpoint"` (second order) or
        `"euler"` (first order, for tests and teaching).
      unroll: if True, write every step into the graph as Python-unrolled ops; if False
        (the default), run the steps in a `tf.while_loop` with a fixed trip count, which XLA
        compiles too and which traces several times faster (one step body per solve).
      name: name scope of the ops.

    Raises:
      TypeError: if `num_steps` is not an integer.
      ValueError: if `num_steps` is not positive or `method` is unknown.
    """

    def __init__(
        self,
        num_steps: int = 8,
        method: str = "rk4",
        *,
        unroll: bool = False,
        name: str = "fixed_step",
    ):
        num_steps = _checks.positive_int("num_steps", num_steps)
        method = _checks.choice("method", method, METHODS)
        super().__init__(make_adjoint_solver_fn=None, validate_args=False, name=name)
        self._num_steps = int(num_steps)
        self._method = method
        self._unroll = bool(unroll)

    @property
    def num_steps(self) -> int:
        return self._num_steps

    @property
    def method(self) -> str:
        return self._method

    @property
    def stages(self) -> int:
        """`ode_fn` calls per step."""
        return len(METHODS[self._method][1])

    def __repr__(self) -> str:
        return (
            f"FixedStepSolver(num_steps={self._num_steps}, method={self._method!r}, "
            f"unroll={self._unroll})"
        )

    def solve(
        self,
        ode_fn,
        initial_time,
        initial_state,
        solution_times,
        jacobian_fn=None,
        jacobian_sparsity=None,
        batch_ndims=None,
        previous_solver_internal_state=None,
        constants=None,
    ):
        """Integrates `dy/dt = ode_fn(t, y, **constants)` from `initial_time`.

        Same contract as `tfp.math.ode.Solver.solve`, restricted to what a fixed-step
        method can honour: `solution_times` is a sequence (or 1-D tensor of static length)
        of increasing times, each reached after `num_steps` steps from the previous one.
        `initial_state` may be a nested structure of tensors (FFJORD passes
        `(state, log_det_jacobian)`). The Jacobian and warm-start arguments are accepted
        for compatibility and ignored.

        Returns:
          `tfp.math.ode.Results` whose `states` hold a leading time axis (one entry per
          solution time) and whose `diagnostics.num_ode_fn_evaluations` is a Python int.

        Raises:
          ValueError: if `solution_times` is `tfp.math.ode.ChosenBySolver`, or has no
            entries or no static length.
        """
        del jacobian_fn, jacobian_sparsity, batch_ndims, previous_solver_internal_state
        if isinstance(solution_times, tfp.math.ode.ChosenBySolver):
            raise ValueError(
                "solution_times=ChosenBySolver(...) needs an adaptive solver; a fixed-step "
                "solver needs explicit output times"
            )
        constants = {} if constants is None else dict(constants)
        with tf.name_scope(self._name):
            leaves = [tf.convert_to_tensor(x) for x in tf.nest.flatten(initial_state)]
            if not leaves:
                raise ValueError("initial_state must hold at least one tensor")
            state = tf.nest.pack_sequence_as(initial_state, leaves)
            dtype = leaves[0].dtype
            times = _static_times(solution_times, dtype)
            time = tf.cast(initial_time, dtype)

            def field(t, y):
                return ode_fn(t, y, **constants)

            outputs = []
            for target in times:
                state = self._integrate(field, time, target, state)
                time = target
                outputs.append(state)
            states = tf.nest.map_structure(lambda *ys: tf.stack(ys, axis=0), *outputs)
            evaluations = self.stages * self._num_steps * len(times)
            return tfp.math.ode.Results(
                times=tf.stack(times, axis=0),
                states=states,
                diagnostics=FixedStepDiagnostics(evaluations),
                solver_internal_state=None,
            )

    def _integrate(self, field, start, end, state):
        tableau = METHODS[self._method]
        step = (end - start) / self._num_steps
        if self._unroll:
            for k in range(self._num_steps):
                state = _rk_step(field, start + k * step, state, step, tableau)
            return state

        def body(k, y):
            t = start + tf.cast(k, start.dtype) * step
            return k + 1, _rk_step(field, t, y, step, tableau)

        _, state = tf.while_loop(
            lambda k, y: k < self._num_steps,
            body,
            (tf.constant(0), state),
            maximum_iterations=self._num_steps,
        )
        return state

    # The abstract hooks of `tfp.math.ode.Solver`: `solve` above replaces the adjoint-based
    # base implementation, so these are never reached through it.
    def _solve(self, ode_fn, initial_time, initial_state, solution_times, **unused):
        return self.solve(ode_fn, initial_time, initial_state, solution_times)

    def _initialize_solver_internal_state(self, ode_fn, initial_time, initial_state):
        return None


def _static_times(solution_times, dtype) -> list[tf.Tensor]:
    if isinstance(solution_times, tf.Tensor):
        length = solution_times.shape.num_elements() if solution_times.shape.rank == 1 else None
        if length is None:
            raise ValueError(
                "solution_times must have a static length for a fixed-step solver, got shape "
                f"{solution_times.shape}"
            )
        times = tf.unstack(tf.cast(solution_times, dtype))
    else:
        times = [tf.cast(t, dtype) for t in tf.nest.flatten(solution_times)]
    if not times:
        raise ValueError("solution_times must hold at least one time")
    return times


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
