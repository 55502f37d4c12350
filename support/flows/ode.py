"""Sonnet modules for the state time derivative `dz/dt = f(t, z)` of a continuous flow.

`MLPODE` is the small multi-layer perceptron that each FFJORD bijector integrates in
`notebooks/02_ffjord_moons.ipynb`: the time `t` enters as one more input column next to the
state, so the vector field may change along the flow. With a named activation it also gives
the diagonal of its Jacobian in the same pass (`value_and_jacobian_diagonal`, computed by
`support.flows.mlp_diagonal` with its own backward pass), which
`support.flows.traces.trace_jacobian_exact_fast` turns into FFJORD's exact trace without a gradient
tape.

`DemoMLPODE` is the TFP FFJORD demo's own field, as published (notebook 02's `-p RECIPE demo`
and the baseline of `benchmarks/bench_ffjord.py` both use it): the time is broadcast to the
state's *static* shape and concatenated to it, so a new batch size retraces.

#### References

[1]: Grathwohl, W., Chen, R. T. Q., Bettencourt, J., Sutskever, I. and Duvenaud, D.
     FFJORD: Free-form Continuous Dynamics for Scalable Reversible Generative Models.
     ICLR 2019. https://arxiv.org/abs/1810.01367
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    "mlp_value_and_jacobian_diagonal",
]


class MLPODE(snt.Module):
    """A multi-layer perceptron `f(t, z)` used as the state time derivative of a flow.

    The input of the first layer is `[t, z]`: the time as one column, then the state. Each
    hidden layer is `Linear` followed by the activation; the last layer is `Linear` to
    `output_size` (the state's size) with no activation.

    Example:
      >>> field = MLPODE(hidden_sizes=(8, 8), output_size=2)
      >>> field(0.5, tf.zeros([3, 2])).shape
      TensorShape([3, 2])
    """

    def __init__(
        self,
        *,
        hidden_sizes: Sequence[int] = (8, 8),
        output_size: int = 2,
        activation: str | Callable[[tf.Tensor], tf.Tensor] = "tanh",
        zero_init_output: bool = False,
        name: str | None = "mlp_ode",
    ):
        """Builds the layers.

        Args:
          hidden_sizes: widths of the hidden layers, at least one, each a positive integer.
          output_size: size of the state (and of the derivative), a positive integer.
          activation: a name from `ACTIVATIONS` or a callable applied after each hidden layer.
          zero_init_output: start the last layer's weights and bias at zero, so the field is
            zero and an untrained flow is the identity map with log-det-Jacobian 0.
          name: the module's name.

        Raises:
          ValueError: if `hidden_sizes` is empty or holds a non-positive size, if
            `output_size` is not a positive integer, or if `activation` is an unknown name.
          TypeError: if `activation` is neither a string nor a callable.
        """
        super().__init__(name=name)
        self.hidden_sizes = _checks.integer_list("hidden_sizes", hidden_sizes, min=1, min_length=1)
        self.output_size = _checks.positive_int("output_size", output_size)
        self._activation_name = None  # the Jacobian diagonal is known for named ones only
        if isinstance(activation, str):
            self._activation_name = _checks.choice("activation", activation, ACTIVATIONS)
            activation = ACTIVATIONS[self._activation_name]
        elif not callable(activation):
            raise TypeError(f"activation must be a name or a callable, got {activation!r}")
        self.activation = activation
        self.zero_init_output = bool(zero_init_output)
        self._hidden = [
            snt.Linear(size, name=f"hidden_{i}") for i, size in enumerate(self.hidden_sizes)
        ]
        if self.zero_init_output:
            zeros = snt.initializers.Zeros()
            self._output = snt.Linear(self.output_size, w_init=zeros, b_init=zeros, name="output")
        else:
            self._output = snt.Linear(self.output_size, name="output")

    def __call__(self, t, state: tf.Tensor) -> tf.Tensor:
        """Evaluates `dz/dt` at time `t`.

        Args:
          t: scalar time (Python number or scalar tensor).
          state: `[batch, output_size]` tensor (extra leading axes are flattened and
            restored).

        Returns:
          `[batch, output_size]` tensor (same shape and dtype as `state`): the derivative.
        """
        state = tf.convert_to_tensor(state)
        shape = tf.shape(state)
        flat = tf.reshape(state, [-1, self.output_size])
        # The time column follows the *dynamic* batch size: no retrace for a new batch size.
        time = tf.fill([tf.shape(flat)[0], 1], tf.cast(t, state.dtype))
        hidden = tf.concat([time, flat], axis=-1)
        for layer in self._hidden:
            hidden = self.activation(layer(hidden))
        return tf.reshape(self._output(hidden), shape)

    @property
    def has_jacobian_diagonal(self) -> bool:
        """Whether `value_and_jacobian_diagonal` is available (a named activation)."""
        return self._activation_name is not None

    def value_and_jacobian_diagonal(self, t, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`dz/dt` and the diagonal of its Jacobian `d(dz/dt)_i / dz_i`, in one forward pass.

        The derivative of every hidden unit with respect to each state coordinate is carried
        through the layers next to its value (forward-mode differentiation by hand: the chain
        rule, layer by layer), so no gradient tape is needed and the graph stays first order.

        Example:
          >>> field = MLPODE(hidden_sizes=(4,), output_size=2)
          >>> z = tf.random.normal([3, 2], seed=1)
          >>> value, diagonal = field.value_and_jacobian_diagonal(0.5, z)
          >>> with tf.GradientTape() as tape:
          ...     _ = tape.watch(z)
          ...     first = field(0.5, z)[:, 0]
          >>> bool(tf.reduce_all(tf.abs(tape.gradient(first, z)[:, 0] - diagonal[:, 0]) < 1e-5))
          True

        Raises:
          ValueError: if the field's activation is a callable (its slope is unknown).
        """
        if self._activation_name is None:
            raise ValueError(
                "value_and_jacobian_diagonal needs a named activation "
                f"({', '.join(ACTIVATIONS)}); this field's is a callable"
            )
        state = tf.convert_to_tensor(state)
        if not self.has_weights:  # the layers' weights are made on a first call
            self(t, state)
        shape = tf.shape(state)
        flat = tf.reshape(state, [-1, self.output_size])
        weights, biases = self.weights_and_biases()
        value, diagonal = mlp_value_and_jacobian_diagonal(
            weights, biases, t, flat, self._activation_name
        )
        return tf.reshape(value, shape), tf.reshape(diagonal, shape)

    def weights_and_biases(self) -> tuple[list[tf.Variable], list[tf.Variable]]:
        """The layers' weight matrices and bias vectors, first hidden layer first.

        Raises:
          ValueError: before the field's first call, which makes them.
        """
        if not self.has_weights:
            raise ValueError(f"{self.name} has no weights yet: call it once first")
        layers = [*self._hidden, self._output]
        return [layer.w for layer in layers], [layer.b for layer in layers]

    @property
    def has_weights(self) -> bool:
        """Whether the layers' weights exist (they are made on the field's first call)."""
        return all(hasattr(layer, "w") for layer in [*self._hidden, self._output])

    @property
    def activation_name(self) -> str | None:
        """The activation's name in `ACTIVATIONS`, or None for a callable."""
        return self._activation_name


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
