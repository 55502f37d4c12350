"""FFJORD continuous normalizing flows: the plumbing around a stack of `tfb.FFJORD`.

Notebook 02 defines `ffjord_chain` (a `tfb.Chain` of one `tfb.FFJORD` per field) and
`make_train_step` (a `tf.GradientTape` step of maximum likelihood) on its page, in a cell tagged
`lesson:support.flows.ffjord`; this module holds the same definitions. The page hands its chain to
`FFJORDFlow`
(`FFJORDFlow.of`), which evaluation (`support.flows.flow_eval`) and the fused training loss
(`FFJORDFlow.loss`, `support.flows.single_solve`) take. `build_ffjord` builds the same chain from
plain arguments (`benchmarks/bench_ffjord.py`, the tests): one `tfb.FFJORD` per
`support.flows.ode.MLPODE` field, `ode_solve_fn=solver.solve`, `trace_augmentation_fn` from
`support.flows.traces.augmentation_for`. The solver is named in `SOLVERS` (extend it with
`register_solver`) or passed as a `tfp.math.ode.Solver`. `xla_trainable` says whether a
training step compiles with XLA. `DEMO` is the TFP demo's set-up (notebook 02's
`-p RECIPE demo`, the benchmark's baseline); `recipe_parameters` gives the parameters a
`RECIPE` sets, and `apply_recipe` sets them on the page and says which values it replaced.

The layers import one way: `ode` -> `traces` -> `runge_kutta` -> `solvers` -> `single_solve`
-> `ffjord` -> `flow_eval` (measuring a trained flow); `kinetic` is the training penalty.

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.flows import single_solve
from support.flows.kinetic import with_kinetic_penalty
from support.flows.ode import MLPODE
from support.flows.solvers import SOLVERS, FixedStepSolver, make_solver, register_solver
from support.flows.traces import TRACE_ESTIMATORS, augmentation_for, check_trace, trace_name

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "DEMO",
    "RECIPE_EPOCHS",
    "SOLVERS",
    "TRACE_ESTIMATORS",
    "FFJORDFlow",
    "apply_recipe",
    "build_ffjord",
    "ffjord_chain",
    "make_train_step",
    "recipe_parameters",
    "make_solver",
    "register_solver",
    "stack_ffjord",
    "xla_trainable",
]

#: The TFP FFJORD demo's set-up in notebook 02's names: 4 `ode.DemoMLPODE` of [8, 8], adjoint
#: `DormandPrince(atol=1e-5)`, `tfb.ffjord.trace_jacobian_exact`, Adam at 1e-2 (no schedule,
#: average or penalty), 40 epochs (its loop runs half of the 80 it sets).
DEMO = {
    "NUM_FLOWS": 4,
    "HIDDEN_SIZES": [8, 8],
    "SOLVER": "dormand_prince",
    "ATOL": 1e-5,
    "RTOL": 1e-3,
    "TRACE": "exact",
    "LEARNING_RATE": 1e-2,
    "AVERAGE": 0.0,
    "KINETIC": 0.0,
    "BATCH_SIZE": 256,
    "EPOCHS": 40,
}
#: Notebook 02's epochs for each `RECIPE` when `EPOCHS` is 0 (its default).
RECIPE_EPOCHS = {"fast": 150, "demo": DEMO["EPOCHS"]}

#: The parameters `RECIPE = "demo"` replaces by the demo's: model, solver, trace, optimizer.
_DEMO_REPLACES = (
    "NUM_FLOWS",
    "HIDDEN_SIZES",
    "SOLVER",
    "ATOL",
    "RTOL",
    "TRACE",
    "LEARNING_RATE",
    "AVERAGE",
    "KINETIC",
)


def recipe_parameters(recipe: str, epochs: int) -> dict:
    """The notebook 02 parameters a `RECIPE` sets, by name.

    Always `EPOCHS`: `epochs`, or the recipe's (`RECIPE_EPOCHS`) when `epochs` is 0. For
    `"demo"` also the demo's model, solver, trace and optimizer parameters from `DEMO`
    (`BATCH_SIZE` stays the notebook's: the demo's is its default). `"fast"` sets nothing else.

    Raises:
      ValueError: if `recipe` is not a key of `RECIPE_EPOCHS` or `epochs` is negative.

    Example:
      >>> recipe_parameters("fast", 0)
      {'EPOCHS': 150}
      >>> recipe_parameters("demo", 3)["NUM_FLOWS"], recipe_parameters("demo", 3)["EPOCHS"]
      (4, 3)
    """
    if recipe not in RECIPE_EPOCHS:
        raise ValueError(f"recipe must be one of {sorted(RECIPE_EPOCHS)}, got {recipe!r}")
    epochs = _checks.non_negative_int("epochs", epochs)
    # copies: a page that changes its HIDDEN_SIZES in place must not change DEMO
    chosen = (
        {name: copy.deepcopy(DEMO[name]) for name in _DEMO_REPLACES} if recipe == "demo" else {}
    )
    return {**chosen, "EPOCHS": epochs or RECIPE_EPOCHS[recipe]}


def apply_recipe(namespace: dict, recipe: str, epochs: int) -> str:
    """Sets the parameters `recipe_parameters(recipe, epochs)` gives in `namespace` (a page's
    `globals()`), and returns a sentence naming each value that changed: `"NAME new (was old)"`.

    Under `"demo"` a value the learner set for one of the demo's parameters is replaced too, and
    the sentence shows it, so no setting is dropped silently.

    Raises:
      ValueError: as `recipe_parameters`, before `namespace` changes.

    Example:
      >>> page = {"EPOCHS": 0, "NUM_FLOWS": 2}
      >>> apply_recipe(page, "fast", 0), page["EPOCHS"]
      ("RECIPE 'fast' sets EPOCHS 150 (was 0)", 150)
    """
    chosen = recipe_parameters(recipe, epochs)
    changed = [
        f"{name} {value!r} (was {namespace.get(name)!r})"
        for name, value in chosen.items()
        if namespace.get(name) != value
    ]
    namespace.update(chosen)
    if not changed:
        return f"RECIPE {recipe!r} changes no parameter"
    return f"RECIPE {recipe!r} sets " + ", ".join(changed)


@dataclass(eq=False)
class FFJORDFlow:
    """A stack of FFJORD bijectors on a Gaussian base, and the pieces it is made of.

    Attributes:
      distribution: the trainable `tfd.TransformedDistribution`, using `trace`.
      base_distribution: the Gaussian it warps.
      state_derivatives: one `MLPODE` per FFJORD bijector (they hold the variables).
      solver: the `tfp.math.ode.Solver` every bijector integrates with.
      trace: "exact" or "hutchinson", the estimator `distribution` uses.
      generator: the `tf.random.Generator` seeding Hutchinson's probes (fresh ones every
        solve), None for the global stream; checkpoint it (`checkpoint_objects=
        {"probes": flow.generator}` in `support.fit`) for exact resumes.
    """

    distribution: tfd.TransformedDistribution
    base_distribution: tfd.Distribution
    state_derivatives: list[MLPODE]
    solver: tfp.math.ode.Solver
    trace: str
    generator: tf.random.Generator | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, distribution, generator=None):
        """Wraps a `TransformedDistribution` over a hand-built `tfb.Chain` of `tfb.FFJORD` (or
        one `tfb.FFJORD`), reading its pieces from the bijectors: the fields in the order they
        warp the base (the chain's last bijector first), the `Solver` whose `solve` they
        integrate with and the name of their trace estimator (`traces.trace_name`).
        `generator` seeds Hutchinson's probes in the estimators this flow builds.

        Raises:
          ValueError: unless every bijector is a `tfb.FFJORD` over the unit time interval
            (`initial_time` 0, `final_time` 1, the defaults), all with one solver's `solve` and
            one known trace estimator.
        """
        bijector = distribution.bijector
        # `tfb.Chain(...)` of FFJORDs is a `_Chain`, the base of `tfb.Chain`, not an instance of it.
        chained = isinstance(bijector, tfb.Composition) and "Chain" in type(bijector).__name__
        chain = bijector.bijectors[::-1] if chained else [bijector]
        if not all(isinstance(b, tfb.FFJORD) for b in chain):
            raise ValueError(
                "distribution must be a TransformedDistribution over a tfb.FFJORD or a tfb.Chain "
                f"of them, got a bijector {bijector.name!r}"
            )
        for b in chain:  # the fused loss and the rebuilt stacks integrate from 0 to 1
            times = (float(b._initial_time), float(b._final_time))
            if times != (0.0, 1.0):
                raise ValueError(
                    f"every tfb.FFJORD must integrate from initial_time 0 to final_time 1 (the "
                    f"defaults), got initial_time {times[0]:g}, final_time {times[1]:g}: to "
                    "change how far points flow, scale the field instead"
                )
        solve_fns = [b._ode_solve_fn for b in chain]
        solver = getattr(solve_fns[0], "__self__", None)
        if not isinstance(solver, tfp.math.ode.Solver) or any(f != solver.solve for f in solve_fns):
            raise ValueError(
                "every tfb.FFJORD's ode_solve_fn must be the solve method of one "
                "tfp.math.ode.Solver (ode_solve_fn=solver.solve)"
            )
        augmentations = [b._trace_augmentation_fn for b in chain]
        traces = {trace_name(fn) for fn in augmentations}
        if len(traces) != 1:
            raise ValueError("every tfb.FFJORD's trace_augmentation_fn must be the same estimator")
        fields = [b._state_time_derivative_fn for b in chain]
        return cls(distribution, distribution.distribution, fields, solver, traces.pop(), generator)

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        return self.distribution.trainable_variables

    @property
    def dtype(self) -> tf.DType:
        return self.base_distribution.dtype

    def with_trace(self, trace: str, kinetic: float = 0.0) -> tfd.TransformedDistribution:
        """The same flow (shared variables) with another trace estimator; with `kinetic` > 0,
        the training objective `support.flows.kinetic.with_kinetic_penalty` makes of it."""
        trace, kinetic = check_trace(trace), _checks.real("kinetic", kinetic, min=0)
        if trace == self.trace and not kinetic:
            return self.distribution
        key, fields = ("distribution", trace, kinetic), self.state_derivatives
        if key not in self._cache:
            bijector = _stack(fields, self.solver, trace, self.dtype, self.generator, kinetic)
            self._cache[key] = tfd.TransformedDistribution(self.base_distribution, bijector)
        return self._cache[key]

    def training_distribution(self, kinetic=0.0) -> tfd.TransformedDistribution:
        """`distribution`, its log_prob lowered by `kinetic` times the kinetic energy."""
        return self.with_trace(self.trace, kinetic)

    @tf.autograph.experimental.do_not_convert
    def loss(self, batch, kinetic: float = 0.0) -> tf.Tensor:
        """Mean of `-training_distribution(kinetic).log_prob(batch)` (the NLL at `kinetic` 0),
        in one solver loop over all flows when `support.flows.single_solve` supports the stack."""
        return -tf.reduce_mean(single_solve.flow_log_prob(self, batch, kinetic))

    def compiled(self, what: str, trace: str = "exact") -> Callable:
        """A cached `tf.function` of `log_prob` or `forward` with the given trace."""
        key = (what, trace)
        if key not in self._cache:
            distribution = self.with_trace(trace)
            fn = {"log_prob": distribution.log_prob, "forward": distribution.bijector.forward}
            # Fixed-size chunks (`support.flows.flow_eval`): one trace per size, static shapes.
            self._cache[key] = tf.function(fn[what])
        return self._cache[key]


def _checked_chain(build):
    """Wraps `ffjord_chain` with its argument checks (the page's copy has none).

    Raises (from the wrapped function): ValueError for no fields; TypeError for a field, an
    `ode_solve_fn` or a `trace_augmentation_fn` that is not callable."""

    @functools.wraps(build)
    def checked(fields, ode_solve_fn, trace_augmentation_fn):
        fields = list(fields)
        if not fields:
            raise ValueError("fields must hold at least one velocity field")
        for position, field_ in enumerate(fields):
            _checks.callable_(f"fields[{position}]", field_)
        _checks.callable_("ode_solve_fn", ode_solve_fn)
        _checks.callable_("trace_augmentation_fn", trace_augmentation_fn)
        return build(fields, ode_solve_fn, trace_augmentation_fn)

    return checked


def _checked_train_step(make):
    """Wraps `make_train_step` with its argument checks (the page's copy has none).

    Raises (from the wrapped function): TypeError for a distribution without trainable
    variables or an optimizer without `apply_gradients` and `build`."""

    @functools.wraps(make)
    def checked(distribution, optimizer):
        if not getattr(distribution, "trainable_variables", ()):
            raise TypeError("distribution must be a distribution with trainable variables")
        _checks.callable_("optimizer.apply_gradients", getattr(optimizer, "apply_gradients", None))
        _checks.callable_("optimizer.build", getattr(optimizer, "build", None))
        return make(distribution, optimizer)

    return checked


@_checked_chain
def ffjord_chain(fields, ode_solve_fn, trace_augmentation_fn):
    """One tfb.FFJORD per velocity field, chained so that the first field moves the base first."""
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=ode_solve_fn,
            trace_augmentation_fn=trace_augmentation_fn,
        )
        for field in fields
    ]
    return tfb.Chain(bijectors[::-1])  # a Chain applies its last bijector first


@_checked_train_step
def make_train_step(distribution, optimizer):
    """A compiled training step: the batch's mean negative log-likelihood, its gradients, and
    one update of the optimizer. Returns the loss."""
    variables = distribution.trainable_variables
    optimizer.build(variables)  # Adam's slots now: the first call then traces the step once

    @tf.function
    def train_step(batch):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(batch))
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    return train_step


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


def _stack(state_derivatives, solver, trace, dtype, generator=None, kinetic=0.0) -> tfb.Chain:
    augmentation = with_kinetic_penalty(augmentation_for(trace, generator), kinetic)
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field_,
            ode_solve_fn=solver.solve,
            trace_augmentation_fn=augmentation,
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
      activation: the fields' activation (see `support.flows.ode.ACTIVATIONS`).
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
      TypeError: for a count, size, width, tolerance or scale of the wrong type, or a
        solver that is neither a name nor a `Solver`.
      ValueError: for no flows, empty hidden sizes, an unknown trace or solver name, a
        non-positive size, tolerance or scale, or a non-float dtype.
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
    # The variables now: `trainable_variables` complete before the first step.
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

    True for a `FixedStepSolver` with either trace (both compile); the adaptive solvers'
    adjoint needs a tensor list whose size XLA cannot fix at compile time.

    Example:
      >>> rk4 = make_solver("rk4")
      >>> xla_trainable(rk4, "exact"), xla_trainable(rk4, "hutchinson")
      (True, True)
      >>> xla_trainable(make_solver("dormand_prince"), "exact")
      False
    """
    check_trace(trace)
    return isinstance(solver, FixedStepSolver)
