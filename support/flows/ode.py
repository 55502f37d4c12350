"""Sonnet modules for the state time derivative `dz/dt = f(t, z)` of a continuous flow.

`MLPODE` is the velocity field notebook 02 (`notebooks/02_ffjord_moons.ipynb`) defines on its
page, in a cell tagged `lesson:support.flows.ode`, and this module holds the same definition (the
notebook is its source; `python -m tools lessons` compares them): `snt.Linear` layers with
an activation after each hidden one, whose input is the time, as one column, next to the
state, so the field may change along the flow. The package's copy is wrapped in an argument
check that the page does not show (`_checked_field`): sizes and the activation are checked
before anything is built, an activation may also be named (`ACTIVATIONS`), and
`zero_init_output=True` starts the last layer at zero (an untrained flow is the identity).

The functions below read any such field, the page's class or this one, without changing it:
`is_mlp_field` recognises one (the `__call__` written above, compiled to the same instructions),
`weights_and_biases`, `hidden_sizes`, `output_size` and `activation_name` read its layers,
and `value_and_jacobian_diagonal` computes the field and the diagonal of its Jacobian in one
forward pass (`support.flows.mlp_diagonal`), which `traces.trace_jacobian_exact_fast` turns
into FFJORD's exact trace and `support.flows.single_solve` into the fused training loss. A field
that is not recognised (a learner's edited class, a callable activation) is still integrated
by `tfb.FFJORD`; it only takes the gradient tape's slower route.

`DemoMLPODE` is the TFP FFJORD demo's own field, as published (notebook 02's `-p RECIPE demo`
and the baseline of `benchmarks/bench_ffjord.py` both use it): the time is broadcast to the
state's *static* shape and concatenated to it, so a new batch size retraces.

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

import dis
import functools
from collections.abc import Sequence

import sonnet as snt
import tensorflow as tf

from support import _checks
from support.flows.mlp_diagonal import (
    ACTIVATION_SLOPES,
    ACTIVATIONS,
    mlp_value_and_jacobian_diagonal,
)

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_SLOPES",
    "MLPODE",
    "DemoMLPODE",
    "activation_name",
    "has_jacobian_diagonal",
    "has_weights",
    "hidden_sizes",
    "is_mlp_field",
    "mlp_value_and_jacobian_diagonal",
    "output_size",
    "value_and_jacobian_diagonal",
    "weights_and_biases",
]


def _checked_field(cls):
    """Wraps `cls.__init__` (the page's `MLPODE` constructor) with its argument checks.

    The wrapped constructor takes the same arguments, checked before any layer is made:
    `hidden_sizes` (at least one positive integer), `output_size` (a positive integer),
    `activation` (a callable or a name in `ACTIVATIONS`), plus `zero_init_output`.

    Raises (from the wrapped constructor):
      ValueError: for empty or non-positive `hidden_sizes`, a non-positive `output_size` or
        an unknown activation name.
      TypeError: for sizes of the wrong type, or an activation that is neither a name nor a
        callable.
    """
    build = cls.__init__

    @functools.wraps(build)
    def __init__(
        self,
        hidden_sizes: Sequence[int] = (8, 8),
        output_size: int = 2,
        activation="tanh",
        name: str | None = "mlp_ode",
        *,
        zero_init_output: bool = False,
    ):
        sizes = _checks.integer_list("hidden_sizes", hidden_sizes, min=1, min_length=1)
        size = _checks.positive_int("output_size", output_size)
        if isinstance(activation, str):
            activation = ACTIVATIONS[_checks.choice("activation", activation, ACTIVATIONS)]
        elif not callable(activation):
            raise TypeError(f"activation must be a name or a callable, got {activation!r}")
        build(self, sizes, size, activation, name)
        if zero_init_output:  # the output layer's variables, made on the first call, start at 0
            zeros = snt.initializers.Zeros()
            self.output_layer.w_init, self.output_layer.b_init = zeros, zeros

    cls.__init__ = __init__
    return cls


@_checked_field
class MLPODE(snt.Module):
    """The velocity field f(t, z): a small MLP whose input is the time, as a column, and z."""

    def __init__(self, hidden_sizes, output_size, activation=tf.math.tanh, name="mlp_ode"):
        super().__init__(name=name)
        self.hidden_layers = [snt.Linear(size) for size in hidden_sizes]
        self.output_layer = snt.Linear(output_size)
        self.activation = activation

    def __call__(self, t, state):
        time = tf.fill(tf.shape(state[..., :1]), tf.cast(t, state.dtype))  # [batch, 1]
        hidden = tf.concat([time, state], axis=-1)
        for layer in self.hidden_layers:
            hidden = self.activation(layer(hidden))
        return self.output_layer(hidden)


_NO_OPERATION = frozenset({"PUSH_NULL", "NOP", "CACHE", "RESUME", "EXTENDED_ARG"})


def _instructions(function):
    """The instructions of a class's `__call__` as written, for comparing two definitions.

    Sonnet wraps every method of a module class in a name scope (the written function is held
    in the wrapper's closure). Jump offsets, the compiler's choice between `LOAD_METHOD` and
    `LOAD_ATTR`, and the instructions that carry no operation of the code (`PUSH_NULL`, `NOP`,
    `CACHE`, `RESUME`, `EXTENDED_ARG`, which Python 3.13 places differently in a module and in
    a notebook cell) are left out; the operations, the names and the constants, in order, are
    compared."""
    for _ in range(4):
        code = getattr(function, "__code__", None)
        if code is None:
            return None
        if code.co_name == "__call__":
            jumps = set(dis.hasjrel) | set(dis.hasjabs)
            return [
                (
                    "LOAD_ATTR" if op.opname == "LOAD_METHOD" else op.opname,
                    None if op.opcode in jumps else op.argval,
                )
                for op in dis.get_instructions(function)
                if op.opname not in _NO_OPERATION
            ]
        cells = [cell.cell_contents for cell in function.__closure__ or ()]
        written = [f for f in cells if getattr(f, "__name__", "") == "__call__"]
        if not written:
            return None
        function = written[0]
    return None


def is_mlp_field(field) -> bool:
    """Whether `field` is an `MLPODE`: this module's or the page's class of the same code.

    It must be a Sonnet module with `hidden_layers` (`snt.Linear`s with biases), an
    `output_layer` (an `snt.Linear` with a bias) and an `activation`, whose class's `__call__`
    compiles to the same instructions as `MLPODE.__call__` (the same operations on the same
    names). A field whose call was changed, or whose layers have no bias, is not one: the
    functions below would compute a different field from its weights, or find no bias.

    Example:
      >>> is_mlp_field(MLPODE(hidden_sizes=(4,))), is_mlp_field(lambda t, z: z)
      (True, False)
    """
    if not isinstance(field, snt.Module):
        return False
    layers = getattr(field, "hidden_layers", None)
    if not isinstance(layers, list | tuple) or not layers:
        return False
    output_layer = getattr(field, "output_layer", None)
    linear = [*layers, output_layer]
    if not all(isinstance(layer, snt.Linear) and layer.with_bias for layer in linear):
        return False
    call = type(field).__call__
    return callable(getattr(field, "activation", None)) and (
        call is MLPODE.__call__ or _instructions(call) == _instructions(MLPODE.__call__)
    )


def _mlp_field(field):
    if not is_mlp_field(field):
        raise TypeError(f"field must be an MLPODE, got {type(field).__name__}")
    return field


def hidden_sizes(field) -> list[int]:
    """The widths of an `MLPODE`'s hidden layers.

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
    """
    return [layer.output_size for layer in _mlp_field(field).hidden_layers]


def output_size(field) -> int:
    """The size of an `MLPODE`'s state (and of its derivative).

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
    """
    return _mlp_field(field).output_layer.output_size


def activation_name(field) -> str | None:
    """The name in `ACTIVATIONS` of an `MLPODE`'s activation, None for another callable.

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
    """
    activation = _mlp_field(field).activation
    return next((name for name, fn in ACTIVATIONS.items() if fn is activation), None)


def has_weights(field) -> bool:
    """Whether an `MLPODE`'s weights exist (they are made on the field's first call).

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
    """
    field = _mlp_field(field)
    return all(hasattr(layer, "w") for layer in [*field.hidden_layers, field.output_layer])


def has_jacobian_diagonal(field) -> bool:
    """Whether `value_and_jacobian_diagonal` can take `field`: an `MLPODE` (`is_mlp_field`)
    with an activation named in `ACTIVATIONS`. False for anything else."""
    return is_mlp_field(field) and activation_name(field) is not None


def weights_and_biases(field) -> tuple[list[tf.Variable], list[tf.Variable]]:
    """An `MLPODE`'s weight matrices and bias vectors, first hidden layer first.

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
      ValueError: before the field's first call, which makes them.
    """
    if not has_weights(field):
        raise ValueError(f"{field.name} has no weights yet: call it once first")
    layers = [*field.hidden_layers, field.output_layer]
    return [layer.w for layer in layers], [layer.b for layer in layers]


def value_and_jacobian_diagonal(field, t, state) -> tuple[tf.Tensor, tf.Tensor]:
    """An `MLPODE`'s `dz/dt` and the diagonal of its Jacobian `d(dz/dt)_i / dz_i`, in one pass.

    The derivative of every hidden unit with respect to each state coordinate is carried
    through the layers next to its value (forward-mode differentiation by hand: the chain
    rule, layer by layer, `support.flows.mlp_diagonal`), so no gradient tape is needed and the graph
    stays first order. Makes the field's weights if it has not been called yet.

    Args:
      field: an `MLPODE` whose activation is named in `ACTIVATIONS`.
      t: scalar time.
      state: `[..., size]` tensor.

    Returns:
      Two tensors shaped like `state`: the field's value and its Jacobian's diagonal.

    Raises:
      TypeError: if `field` is not an `MLPODE` (`is_mlp_field`).
      ValueError: if its activation is a callable not in `ACTIVATIONS` (its slope is unknown).

    Example:
      >>> field = MLPODE(hidden_sizes=(4,), output_size=2)
      >>> z = tf.random.normal([3, 2], seed=1)
      >>> value, diagonal = value_and_jacobian_diagonal(field, 0.5, z)
      >>> with tf.GradientTape() as tape:
      ...     _ = tape.watch(z)
      ...     first = field(0.5, z)[:, 0]
      >>> bool(tf.reduce_all(tf.abs(tape.gradient(first, z)[:, 0] - diagonal[:, 0]) < 1e-5))
      True
    """
    name = activation_name(field)
    if name is None:
        raise ValueError(
            "value_and_jacobian_diagonal needs a named activation "
            f"({', '.join(ACTIVATIONS)}); this field's is another callable"
        )
    state = tf.convert_to_tensor(state)
    if not has_weights(field):  # the layers' weights are made on a first call
        field(t, state)
    shape = tf.shape(state)
    flat = tf.reshape(state, [-1, output_size(field)])
    weights, biases = weights_and_biases(field)
    value, diagonal = mlp_value_and_jacobian_diagonal(weights, biases, t, flat, name)
    return tf.reshape(value, shape), tf.reshape(diagonal, shape)


class DemoMLPODE(snt.Module):
    """The TFP FFJORD demo's field `f(t, z)`: tanh layers on `[t, ..., t, z]`.

    As the demo's `MLP_ODE` does, the time is broadcast to the state's static shape (one time
    column per state coordinate, so 2 + 2 inputs for the moons) and concatenated in front of
    it. The static shape means a new batch size traces the solver again. It has no one-pass
    Jacobian diagonal: `support.flows.traces.trace_jacobian_exact_fast` falls back to a tape.

    Example:
      >>> field = DemoMLPODE(hidden_sizes=(8, 8), output_size=2)
      >>> field(0.5, tf.zeros([3, 2])).shape
      TensorShape([3, 2])
    """

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (8, 8),
        output_size: int = 2,
        name: str | None = "demo_mlp_ode",
    ):
        """Builds the layers (`snt.Sequential` of `Linear` and tanh, as the demo's).

        Args:
          hidden_sizes: widths of the hidden layers, at least one, each a positive integer.
          output_size: size of the state (and of the derivative), a positive integer.
          name: the module's name.

        Raises:
          ValueError: if `hidden_sizes` is empty or holds a non-positive size, or
            `output_size` is not a positive integer.
        """
        super().__init__(name=name)
        self.hidden_sizes = _checks.integer_list("hidden_sizes", hidden_sizes, min=1, min_length=1)
        self.output_size = _checks.positive_int("output_size", output_size)
        layers = []
        for size in self.hidden_sizes:
            layers += [snt.Linear(size), tf.math.tanh]
        layers.append(snt.Linear(self.output_size))
        self._model = snt.Sequential(layers)

    def __call__(self, t, state: tf.Tensor) -> tf.Tensor:
        """`dz/dt` at time `t` for a `[batch, output_size]` `state` of static shape."""
        state = tf.convert_to_tensor(state)
        time = tf.broadcast_to(tf.cast(t, state.dtype), state.shape)
        return self._model(tf.concat([time, state], axis=-1))
