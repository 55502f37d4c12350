"""Mixture density networks: `tfp.layers.MixtureNormal` on `tf_keras`, and on Keras 3.

A mixture density network (Bishop, 1994) maps an input `x` to the parameters of a mixture of
normals over `y`. Notebook 03 defines its lesson in cells tagged `lesson:support.mdn`; this
module holds the same definitions, with argument checks: `build_model` (Dense layers into
`tfp.layers.MixtureNormal`, on `tf_keras`, which `tfp.layers` needs), `negative_log_likelihood`
and `compile_and_fit` (training the Keras way), and `build_keras3_model` (the same network on
Keras 3, whose head outputs the mixture's parameters). Besides the lesson: held-out NLL,
`build_mdn` (a checked builder with an optional scale floor, for tests and scripts) and
helpers. The mixture functions of `support.distributions.mixtures` are re-exported.

#### References

Christopher M. Bishop. Mixture Density Networks. Technical report NCRG/94/004, Aston
University, 1994.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import keras  # Keras 3, for build_keras3_model (tfp.layers needs tf_keras)
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from support import _checks
from support.distributions.mixtures import (
    MixtureParams,
    conditional_density_grid,
    density_grid_bytes,
    floored_mixture_normal,
    mixture_from_head,
    mixture_loss,
    mixture_params,
    weights_means_variances,
)
from support.estimate import Estimate, mean_and_stderr

tfpl = tfp.layers

__all__ = [
    "MixtureParams",
    "build_keras3_model",
    "build_mdn",
    "build_model",
    "compile_and_fit",
    "conditional_density_grid",
    "density_grid_bytes",
    "describe_error",
    "floored_mixture_normal",
    "held_out_nll",
    "make_dataset",
    "mdn_loss",
    "mixture_from_head",
    "mixture_loss",
    "mixture_params",
    "negative_log_likelihood",
    "params_size",
    "weights_means_variances",
]


def params_size(num_components: int, event_size: int = 1) -> int:
    """Outputs the last Dense layer needs: K logits, then K x (D locs, D raw scales).

    Returns a Python `int` (TFP's `MixtureNormal.params_size` returns `np.int32`, which
    Keras 3's `Dense` rejects).
    """
    num_components = _checks.positive_int("num_components", num_components)
    event_size = _checks.positive_int("event_size", event_size)
    return num_components * (1 + 2 * event_size)


def _as_column(name: str, value) -> np.ndarray:
    array = _checks.finite_array(name, value, dtype=np.float32)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n >= 1, got {array.shape}")
    return array


def _keras_model(name: str, value):
    if not (callable(value) and hasattr(value, "compile") and hasattr(value, "fit")):
        raise TypeError(f"{name} must be a Keras model, got {type(value).__name__}")
    return value


def _hidden_sizes(name: str, value) -> list[int]:
    return _checks.integer_list(name, value, min=1)


# The page's lesson code (notebook 03's cells tagged lesson:support.mdn), checked here.


@_checks.arguments(num_components=_checks.positive_int, hidden_sizes=_hidden_sizes)
def build_model(num_components, hidden_sizes):
    """Dense layers into `tfp.layers.MixtureNormal`: called on x of shape (N, 1), the model
    returns p(y | x), a mixture of `num_components` normals for each of the N inputs."""
    params_size = tfp.layers.MixtureNormal.params_size(num_components, [1])
    model = tf_keras.Sequential(
        [tf_keras.Input(shape=(1,))]
        + [tf_keras.layers.Dense(units, activation="relu") for units in hidden_sizes]
        + [
            tf_keras.layers.Dense(params_size, activation=None),  # the mixture's raw parameters
            tfp.layers.MixtureNormal(num_components, event_shape=[1]),
        ]
    )
    return model


def negative_log_likelihood(y, rv):
    """The loss of a model whose output is a distribution `rv`: -log p(y | x), point by point."""
    return -rv.log_prob(y)


@_checks.arguments(
    model=_keras_model,
    x=_as_column,
    y=_as_column,
    learning_rate=_checks.positive_float,
    batch_size=_checks.positive_int,
    epochs=_checks.positive_int,
)
def compile_and_fit(model, x, y, *, learning_rate, batch_size, epochs, decay):
    """Trains `model` on (x, y) by maximum likelihood with Adam and returns Keras's `History`.
    With `decay` the rate falls along a cosine to 5% of `learning_rate` by the last step;
    without it the rate stays at `learning_rate`."""
    if decay:
        steps = epochs * -(-len(x) // batch_size)  # ceil: the last batch may be short
        learning_rate = tf_keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=steps, alpha=0.05
        )
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=learning_rate),
        loss=negative_log_likelihood,
    )
    return model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=[tf_keras.callbacks.TerminateOnNaN()],  # stop if the loss is not finite
        verbose=0,  # 1 shows Keras's progress bar
    )


@_checks.arguments(num_components=_checks.positive_int, hidden_sizes=_hidden_sizes)
def build_keras3_model(num_components, hidden_sizes):
    """Dense layers whose head outputs, for x of shape (N, 1), a tensor (N, 3K): each input's
    K logits, K locations and K scales (a softplus keeps the scales positive)."""
    inputs = keras.Input(shape=(1,))
    features = inputs
    for units in hidden_sizes:
        features = keras.layers.Dense(units, activation="relu")(features)
    logits = keras.layers.Dense(num_components, name="logits")(features)
    locations = keras.layers.Dense(num_components, name="locations")(features)
    scales = keras.layers.Dense(num_components, activation="softplus", name="scales")(features)
    outputs = keras.layers.Concatenate(name="head")([logits, locations, scales])
    return keras.Model(inputs, outputs)


def build_mdn(
    *,
    num_components: int = 5,
    hidden_units: Sequence[int] = (12,),
    activation: str | Callable = "relu",
    scale_floor: float = 0.0,
    input_size: int = 1,
    event_size: int = 1,
) -> tf_keras.Sequential:
    """A mixture density network: Dense hidden layers, a params layer, a mixture of normals.

    With `scale_floor=0` the head is exactly `tfp.layers.MixtureNormal`. With a positive
    floor the same parameter layout feeds a mixture whose scales are
    `scale_floor + softplus(raw)`, so no component can collapse onto a few points (a
    collapsed component drives the training NLL down and the held-out NLL up).

    Args:
      num_components: number of mixture components K.
      hidden_units: sizes of the hidden Dense layers (may be empty).
      activation: activation of the hidden layers, a Keras name or a callable.
      scale_floor: non-negative lower bound on every component's standard deviation.
      input_size: number of input features.
      event_size: dimension D of `y`.

    Returns:
      A built `tf_keras.Sequential`. Calling it on `x` of shape `(N, input_size)` returns a
      `MixtureSameFamily` with batch shape `(N,)` and event shape `(event_size,)`;
      `model.predict(x)` returns a sample from it.

    Raises:
      ValueError / TypeError: for a non-positive size, bad `hidden_units`, an unknown
        activation or a negative or non-finite `scale_floor`.
    """
    num_components = _checks.positive_int("num_components", num_components)
    input_size = _checks.positive_int("input_size", input_size)
    event_size = _checks.positive_int("event_size", event_size)
    hidden_units = _checks.integer_list("hidden_units", hidden_units, min=1)
    scale_floor = _checks.real("scale_floor", scale_floor, min=0)
    try:
        activation_fn = tf_keras.activations.get(activation)
    except (ValueError, TypeError):
        raise ValueError(f"activation {activation!r} is not a Keras activation") from None

    size = params_size(num_components, event_size)
    if scale_floor == 0:
        head = tfpl.MixtureNormal(num_components, [event_size])
    else:
        head = tfpl.DistributionLambda(
            functools.partial(
                floored_mixture_normal,
                num_components=num_components,
                event_size=event_size,
                scale_floor=float(scale_floor),
            )
        )
    layers = [tf_keras.Input(shape=(input_size,))]
    layers += [tf_keras.layers.Dense(h, activation=activation_fn) for h in hidden_units]
    layers += [tf_keras.layers.Dense(size, name="mixture_params"), head]
    return tf_keras.Sequential(layers, name="mdn")


def _check_feature_counts(model, x: np.ndarray, y: np.ndarray) -> None:
    """ValueError naming `x` or `y` if its columns do not match the model's input or event."""
    inputs = getattr(model, "input_shape", None)
    if isinstance(inputs, tuple) and inputs and inputs[-1] is not None and x.shape[1] != inputs[-1]:
        raise ValueError(
            f"x must have {inputs[-1]} feature column(s), the model's input_size, got {x.shape[1]}"
        )
    event = model(x[:1]).event_shape  # one row: cheap, and the event size as built
    if event.rank and event[-1] is not None and y.shape[1] != event[-1]:
        raise ValueError(
            f"y must have {event[-1]} column(s), the model's event_size, got {y.shape[1]}"
        )


def make_dataset(x, y, *, batch_size: int = 100, seed: int = 0) -> tf.data.Dataset:
    """A shuffled, batched `tf.data.Dataset` of `(x, y)` pairs, reshuffled each epoch.

    Raises:
      ValueError: if `x` and `y` differ in length, hold NaN, or `batch_size` is not a
        positive integer.
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    seed = _checks.seed("seed", seed)
    x, y = _as_column("x", x), _as_column("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(x.shape[0], seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def mdn_loss(model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The training loss `loss(x, y) = -mean(log p(y | x))` for `support.fit`."""
    if not callable(model):
        raise TypeError(f"model must be a callable Keras model, got {type(model).__name__}")

    def loss(x, y):
        return -tf.reduce_mean(model(x).log_prob(y))

    return loss


def held_out_nll(model, x, y) -> Estimate:
    """Mean of -log p(y | x) under the model over held-out points, with its standard error.

    Returns:
      An `Estimate(mean, stderr)` in nats (`support.estimate`).

    Raises:
      ValueError: if `x` and `y` differ in length, hold NaN, hold fewer than two points, or
        `x` has not the model's number of input features.
    """
    x, y = _as_column("x", x), _as_column("y", y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    _check_feature_counts(model, x, y)
    if x.shape[0] < 2:
        raise ValueError(f"x and y must hold at least two points, got {x.shape[0]}")
    nll = -model(x).log_prob(y).numpy().astype(np.float64)
    return mean_and_stderr(nll)


def describe_error(error: BaseException) -> str:
    """`"Type: message"` with memory addresses masked, so a caught error prints the same
    text on every run (for showing an expected failure in a notebook)."""
    if not isinstance(error, BaseException):
        raise TypeError(f"error must be an exception, got {type(error).__name__}")
    message = re.sub(r" at 0x[0-9a-fA-F]+", "", str(error))
    return f"{type(error).__name__}: {message}"
