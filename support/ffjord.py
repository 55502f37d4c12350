"""FFJORD continuous normalizing flows from plain arguments.

Used by `notebooks/02_ffjord_moons.ipynb` and `benchmarks/bench_ffjord.py`. `build_ffjord`
stacks FFJORD bijectors, each integrating its own `support.ode.MLPODE` vector field, on top of
a Gaussian base. The ODE solver is chosen by name from `SOLVERS` (extend it with
`register_solver`) or passed as a `tfp.math.ode.Solver`; the trace of the Jacobian is computed
exactly or estimated with Hutchinson's trick (`support.traces`). `xla_trainable` says whether
a configuration's training step compiles with XLA (the notebook trains with
`support.optimizers.decaying_adam`).

The layers import one way: `ode` -> `traces` -> `runge_kutta` -> `solvers` -> `single_solve`
-> `ffjord` -> `flow_eval`.
Measuring a trained flow (held-out NLL, densities, samples, snapshots, exact against
Hutchinson, fixed-step against adaptive) lives in `support.flow_eval`.

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks, single_solve
from support.ode import MLPODE
from support.solvers import FixedStepSolver
from support.traces import TRACE_ESTIMATORS, augmentation_for, check_trace

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "SOLVERS",
    "TRACE_ESTIMATORS",
    "FFJORDFlow",
    "build_ffjord",
    "make_solver",
    "register_solver",
    "stack_ffjord",
    "xla_trainable",
]

SolverFactory = Callable[[float, float], tfp.math.ode.Solver]

#: Solver name -> `factory(atol, rtol)` returning a `tfp.math.ode.Solver`. "rk4" is the
#: fixed-step fast path (`support.solvers`: 12 RK4 steps per flow, XLA-compilable with the
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


@dataclass(eq=False)
class FFJORDFlow:
    """A stack of FFJORD bijectors on a Gaussian base, and the pieces it is made of.

    Attributes:
      distribution: the trainable `tfd.TransformedDistribution`, using `trace`.
      base_distribution: the Gaussian it warps.
      state_derivatives: one `MLPODE` per FFJORD bijector (they hold the variables).
      solver: the `tfp.math.ode.Solver` every bijector integrates with.
      trace: "exact" or "hutchinson", the estimator `distribution` uses.
      generator: the `tf.random.Generator` that seeds Hutchinson's probes (one seed per
        solve, so every training step draws fresh ones), None for the global stream. Pass
        it to `support.fit` in `checkpoint_objects` (`{"probes": flow.generator}`) so a
        resumed run draws the probes one uninterrupted run would.
    """

    distribution: tfd.TransformedDistribution
    base_distribution: tfd.Distribution
    state_derivatives: list[MLPODE]
    solver: tfp.math.ode.Solver
    trace: str
    generator: tf.random.Generator | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        return self.distribution.trainable_variables

    @property
    def dtype(self) -> tf.DType:
        return self.base_distribution.dtype

    def with_trace(self, trace: str) -> tfd.TransformedDistribution:
        """The same flow (shared variables) with another trace estimator."""
        trace = check_trace(trace)
        if trace == self.trace:
            return self.distribution
        if ("distribution", trace) not in self._cache:
            bijector = _stack(
                self.state_derivatives, self.solver, trace, self.dtype, self.generator
            )
            self._cache["distribution", trace] = tfd.TransformedDistribution(
                self.base_distribution, bijector
            )
        return self._cache["distribution", trace]

    @tf.autograph.experimental.do_not_convert
    def loss(self, batch) -> tf.Tensor:
        """Mean negative log-likelihood of `batch` under `distribution` (the training loss):
        in one solver loop over all flows when `support.single_solve` supports the stack."""
        return -tf.reduce_mean(single_solve.flow_log_prob(self, batch))

    def compiled(self, what: str, trace: str = "exact") -> Callable:
        """A cached `tf.function` of `log_prob` or `forward` with the given trace."""
        key = (what, trace)
        if key not in self._cache:
            distribution = self.with_trace(trace)
            fn = {"log_prob": distribution.log_prob, "forward": distribution.bijector.forward}
            # Callers pass fixed-size chunks (see `support.flow_eval`), so this traces once per
            # chunk size and every shape is static, as BDF and XLA need.
            self._cache[key] = tf.function(fn[what])
        return self._cache[key]


def stack_ffjord(
    state_derivatives: Sequence[Callable],
    *,
    solver="dormand_prince",
    atol: float = 1e-5,
    rtol: float = 1e-3,
    trace: str = "exact",
    dtype=tf.float32,
) -> tfb.Chain:
    """Chains one `tfb.FFJORD` per state derivative `f(t, z)`, each integrated over [0, 1].

    Args:
      state_derivatives: callables `f(t, state) -> d state / dt`, at least one.
      solver: a name in `SOLVERS` or a `tfp.math.ode.Solver`.
      atol: absolute tolerance of a named solver, positive.
      rtol: relative tolerance of a named solver, positive.
      trace: "exact" or "hutchinson".
      dtype: float dtype of the states the bijectors act on.

    Returns:
      A `tfb.Chain` applying the first bijector first in the forward direction.

    Raises:
      ValueError: for no state derivatives, an unknown solver or trace, bad tolerances.
      TypeError: if a state derivative is not callable.
    """
    state_derivatives = list(state_derivatives)
    if not state_derivatives:
        raise ValueError("state_derivatives must hold at least one callable")
    if not all(callable(field_) for field_ in state_derivatives):
        raise TypeError(f"state_derivatives must be callables, got {state_derivatives!r}")
    trace = check_trace(trace)
    dtype = _checks.floating_dtype("dtype", dtype)
    return _stack(state_derivatives, make_solver(solver, atol=atol, rtol=rtol), trace, dtype)


def _stack(state_derivatives, solver, trace, dtype, generator=None) -> tfb.Chain:
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field_,
            ode_solve_fn=solver.solve,
            trace_augmentation_fn=augmentation_for(trace, field_, generator),
            dtype=dtype,
            name=f"ffjord_{i}",
        )
        for i, field_ in enumerate(state_derivatives)
    ]
    return tfb.Chain(bijectors[::-1], name="stacked_ffjord")


def build_ffjord(
    num_flows: int = 4,
    hidden_sizes: Sequence[int] = (8, 8),
    *,
    event_size: int = 2,
    activation="tanh",
    solver="dormand_prince",
    atol: float = 1e-5,
    rtol: float = 1e-3,
    trace: str = "exact",
    base_scale: float = 0.8,
    zero_init: bool = False,
    dtype=tf.float32,
    seed: int | None = None,
) -> FFJORDFlow:
    """Builds a stack of `num_flows` FFJORD bijectors on `N(0, base_scale^2 I)`.

    Args:
      num_flows: number of FFJORD bijectors, a positive integer.
      hidden_sizes: hidden layer widths of each `MLPODE`, at least one.
      event_size: dimension of the data, a positive integer.
      activation: the fields' activation (see `support.ode.ACTIVATIONS`).
      solver: a name in `SOLVERS` ("dormand_prince", "bdf", ...) or a
        `tfp.math.ode.Solver` instance (then `atol` / `rtol` are its own business).
      atol: absolute tolerance of a named solver, positive.
      rtol: relative tolerance of a named solver, positive.
      trace: "exact" (the Jacobian's diagonal, one derivative per dimension) or
        "hutchinson" (unbiased stochastic estimate, one vector-Jacobian product).
      base_scale: standard deviation of the Gaussian base, positive.
      zero_init: start every field at zero, so the untrained flow is the identity.
      dtype: float dtype of the base distribution and the computation.
      seed: seed of the flow's `tf.random.Generator` for Hutchinson's probes; None draws
        it from TensorFlow's global seed (`support.setup(seed)` makes that reproducible).

    Returns:
      An `FFJORDFlow`.

    Raises:
      TypeError: for a count, size or width that is not an integer, a tolerance or scale
        that is not a number, or a solver that is neither a name nor a `Solver`.
      ValueError: for no flows, a non-positive `event_size`, empty hidden sizes, an unknown
        trace or solver name, non-positive tolerances or scale, or a non-float dtype.
    """
    num_flows = _checks.positive_int("num_flows", num_flows)
    event_size = _checks.positive_int("event_size", event_size)
    trace = check_trace(trace)
    base_scale = _checks.positive_float("base_scale", base_scale)
    dtype = _checks.floating_dtype("dtype", dtype)
    if seed is not None:
        seed = _checks.seed("seed", seed)
    solver = make_solver(solver, atol=atol, rtol=rtol)
    state_derivatives = [
        MLPODE(
            hidden_sizes=hidden_sizes,
            output_size=event_size,
            activation=activation,
            zero_init_output=zero_init,
            name=f"mlp_ode_{i}",
        )
        for i in range(num_flows)
    ]
    base = tfd.MultivariateNormalDiag(
        loc=tf.zeros([event_size], dtype),
        scale_diag=tf.fill([event_size], tf.cast(base_scale, dtype)),
    )
    # Build the variables now so `trainable_variables` is complete before the first step.
    for field_ in state_derivatives:
        field_(tf.constant(0.0, dtype), tf.zeros([1, event_size], dtype))
    if seed is None:  # drawn after the fields' weights, which are as without it
        seed = int(tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64))
    generator = tf.random.Generator.from_seed(seed)
    bijector = _stack(state_derivatives, solver, trace, dtype, generator)
    distribution = tfd.TransformedDistribution(base, bijector)
    return FFJORDFlow(distribution, base, state_derivatives, solver, trace, generator)


def xla_trainable(solver, trace: str) -> bool:
    """Whether a FFJORD training step with this solver and trace name compiles with XLA.

    True for a `FixedStepSolver` with either trace (`support.traces`' estimators both
    compile). The adaptive solvers' adjoint needs a tensor list whose size XLA cannot fix
    at compile time.

    Example:
      >>> rk4 = make_solver("rk4")
      >>> xla_trainable(rk4, "exact"), xla_trainable(rk4, "hutchinson")
      (True, True)
      >>> xla_trainable(make_solver("dormand_prince"), "exact")
      False
    """
    check_trace(trace)
    return isinstance(solver, FixedStepSolver)
