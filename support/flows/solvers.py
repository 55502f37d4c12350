"""A fixed-step ODE solver that XLA compiles: the fast path for FFJORD training.

`tfb.FFJORD` integrates its ODE with `tfp.math.ode.DormandPrince` by default: an adaptive
solver whose step count depends on the data, with gradients from the adjoint method (a
second, backward ODE solve). That is a large graph to trace before the first training step
(`benchmarks/README.md` times it), steps slow down as the learned field stiffens, and XLA
refuses to compile the adjoint ("XLA compilation requires a fixed tensor list size").

`FixedStepSolver` takes a fixed number of explicit Runge-Kutta steps instead (classic RK4 by
default, `support.flows.runge_kutta`) in a `tf.while_loop` with a fixed trip count. Every step has
the same cost, the whole training step compiles with XLA (`jit_compile=True`, with
`support.flows.traces`' estimators), and gradients come from backpropagating
through the steps ("discretise, then optimise"), so they are the exact gradients of the
computed solution. By default both loops go one RK stage per iteration and a second loop
backpropagates stage by stage from what the first stored (`backprop="recompute"`: each step's
start and the slopes entering its later stages, four copies of the state per RK4 step), so
the gradient graph holds one stage's ops rather than the differentiated loop's
(`backprop="autodiff"`); `benchmarks/README.md` measures the difference.
It implements the `tfp.math.ode.Solver` interface, so any `tfb.FFJORD`, for any field, takes
its `solve` method as `ode_solve_fn` (a reusable extension point). Whether a step count is
accurate enough is checked, not assumed: `tests/flows/test_solvers.py` compares it with
DormandPrince at tight tolerances, and both `benchmarks/bench_ffjord.py` and the notebook
(`support.flows.flow_eval.compare_with_adaptive`) score the trained model with an adaptive solver.

`SOLVERS` names it "rk4" beside TFP's adaptive solvers (`make_solver`, `register_solver`).
Serves `notebooks/02_ffjord_moons.ipynb` and `benchmarks/bench_ffjord.py`.

#### References

[1]: Will Grathwohl, Ricky T. Q. Chen, Jesse Bettencourt, Ilya Sutskever and David
     Duvenaud. FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative
     Models. In International Conference on Learning Representations, 2019.
     https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.flows.runge_kutta import BACKPROP, METHODS, integrate

__all__ = [
    "BACKPROP",
    "METHODS",
    "SOLVERS",
    "FixedStepDiagnostics",
    "FixedStepSolver",
    "make_solver",
    "register_solver",
]


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

    Example:
      >>> solver = FixedStepSolver(num_steps=8)
      >>> z0 = tf.constant([1.0])
      >>> with tf.GradientTape() as tape:
      ...     tape.watch(z0)
      ...     z1 = solver.solve(lambda t, z: -z, 0.0, z0, [1.0]).states[-1]
      >>> round(float(z1[0]), 5), round(float(tape.gradient(z1, z0)[0]), 5)  # exp(-1)
      (0.36788, 0.36788)

    Args:
      num_steps: steps between consecutive output times, a positive integer. Each step costs
        one `ode_fn` call per stage (4 for RK4).
      method: `"rk4"` (classic fourth order, the default), `"midpoint"` (second order) or
        `"euler"` (first order, for tests and teaching).
      backprop: how gradients pass through the steps (`support.flows.runge_kutta`):
        `"recompute"` (the default) backpropagates one stage at a time in a second loop from
        the stored start of each stage; `"autodiff"` lets TensorFlow differentiate the loop
        (needed only if gradients must reach tensors the field captures other than
        variables and `constants`).
      unroll: with `backprop="autodiff"`, write every step into the graph as Python-unrolled
        ops instead of a `tf.while_loop` (whose graph holds one step's ops, however many
        steps there are).
      name: name scope of the ops.

    Raises:
      TypeError: if `num_steps` is not an integer.
      ValueError: if `num_steps` is not positive, `method` or `backprop` is unknown, or
        `unroll` is asked for with `backprop="recompute"`.
    """

    def __init__(
        self,
        num_steps: int = 8,
        method: str = "rk4",
        *,
        backprop: str = "recompute",
        unroll: bool = False,
        name: str = "fixed_step",
    ):
        num_steps = _checks.positive_int("num_steps", num_steps)
        method = _checks.choice("method", method, METHODS)
        backprop = _checks.choice("backprop", backprop, BACKPROP)
        if unroll and backprop != "autodiff":
            raise ValueError(
                "unroll=True needs backprop='autodiff' (the 'recompute' backward pass is a loop)"
            )
        super().__init__(make_adjoint_solver_fn=None, validate_args=False, name=name)
        self._num_steps = int(num_steps)
        self._method = method
        self._backprop = backprop
        self._unroll = bool(unroll)

    @property
    def num_steps(self) -> int:
        return self._num_steps

    @property
    def method(self) -> str:
        return self._method

    @property
    def backprop(self) -> str:
        return self._backprop

    @property
    def unroll(self) -> bool:
        return self._unroll

    @property
    def stages(self) -> int:
        """`ode_fn` calls per step."""
        return len(METHODS[self._method][1])

    def __repr__(self) -> str:
        return (
            f"FixedStepSolver(num_steps={self._num_steps}, method={self._method!r}, "
            f"backprop={self._backprop!r}, unroll={self._unroll})"
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

            outputs = []
            for target in times:
                state = integrate(
                    ode_fn,
                    time,
                    target,
                    state,
                    num_steps=self._num_steps,
                    method=self._method,
                    backprop=self._backprop,
                    unroll=self._unroll,
                    constants=constants,
                )
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


SolverFactory = Callable[[float, float], tfp.math.ode.Solver]

#: Solver name -> `factory(atol, rtol)` returning a `tfp.math.ode.Solver`. "rk4" is the
#: fixed-step fast path (`FixedStepSolver`: 12 RK4 steps per flow, XLA-compilable with the
#: exact trace; tolerances do not apply to it).
SOLVERS: dict[str, SolverFactory] = {
    "rk4": lambda atol, rtol: FixedStepSolver(num_steps=12, method="rk4"),
    "dormand_prince": lambda atol, rtol: tfp.math.ode.DormandPrince(atol=atol, rtol=rtol),
    "bdf": lambda atol, rtol: tfp.math.ode.BDF(atol=atol, rtol=rtol),
}


def register_solver(name: str, factory: SolverFactory) -> None:
    """Adds (or replaces) a named solver: `factory(atol, rtol)` returns a `Solver`.

    Raises:
      TypeError: if `name` is not a string or `factory` is not callable.
      ValueError: if `name` is empty.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if not name:
        raise ValueError("name must be a non-empty string, got ''")
    SOLVERS[name] = _checks.callable_("factory", factory)


def make_solver(solver="dormand_prince", *, atol: float = 1e-5, rtol: float = 1e-3):
    """A `tfp.math.ode.Solver` from a name in `SOLVERS`, or the given instance unchanged.

    Raises:
      ValueError: for an unknown name or non-positive tolerances.
      TypeError: if `solver` is neither a name nor a `Solver`.
    """
    atol, rtol = _checks.positive_float("atol", atol), _checks.positive_float("rtol", rtol)
    if isinstance(solver, tfp.math.ode.Solver):
        return solver
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a name or a tfp.math.ode.Solver, got {solver!r}")
    return SOLVERS[_checks.choice("solver", solver, SOLVERS)](atol, rtol)
