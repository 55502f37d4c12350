"""Mixture density networks with `tf_keras` and `tfp.layers`, and their mixture parameters.

A mixture density network (Bishop, 1994) maps an input `x` to the parameters of a mixture
of normals over `y`. `notebooks/03_mdn_cardioid.ipynb` defines its lesson in cells tagged
`lesson:support.mdn`, and this module holds the same definitions (with argument checks
around them): `build_model` (Dense layers into `tfp.layers.MixtureNormal`),
`negative_log_likelihood` and `compile_and_fit` (training the Keras way),
`weights_means_variances` (the answer's three calls on `model(x)`) and
`floored_mixture_normal` (the head of the variant with a floor under the scales). Besides
the lesson: `mixture_params` (weights, means and standard deviations as named arrays),
held-out NLL, the density grid for heatmaps, and `build_mdn`, a checked builder for tests
and scripts.

`tfp.layers` only works with `tf_keras` (Keras 2): on TensorFlow >= 2.16 `tf.keras` is
Keras 3 and refuses TFP's layers, so this module imports `tf_keras` explicitly
(`support.mdn_keras3` builds the same model with Keras 3 without `tfp.layers`).

#### References

Christopher M. Bishop. Mixture Density Networks. Technical report NCRG/94/004, Aston
University, 1994.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from support import _checks
from support.batching import map_in_chunks
from support.estimate import Estimate, mean_and_stderr
from support.mixtures import MixtureParams, mixture_params

tfd = tfp.distributions
tfpl = tfp.layers

__all__ = [
    "MixtureParams",
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


def _mixture(name: str, value):
    if not all(hasattr(value, p) for p in ("mixture_distribution", "components_distribution")):
        raise TypeError(
            f"{name} must be a mixture (a MixtureSameFamily, what model(x) returns), got "
            f"{type(value).__name__}"
        )
    return value


def _hidden_sizes(name: str, value) -> list[int]:
    return _checks.integer_list(name, value, min=1)


def _non_negative(name: str, value) -> float:
    return _checks.real(name, value, min=0)


# ---------------------------------------------------------------- the page's lesson code
# Notebook 03 defines these in its cells tagged `lesson:support.mdn`; `python -m tools lessons`
# checks that page and package agree, character for character. The decorators add argument
# checks only.


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


@_checks.arguments(gm=_mixture)
def weights_means_variances(gm):
    """The mixture behind the predictions: for gm = model(x), x of shape (N, 1), the weights
    (N, K) and the components' means and variances (N, K, 1), as NumPy arrays."""
    weights = gm.mixture_distribution.probs_parameter().numpy()
    means = gm.components_distribution.mean().numpy()
    variances = gm.components_distribution.variance().numpy()
    return weights, means, variances


@_checks.arguments(
    num_components=_checks.positive_int,
    scale_floor=_non_negative,
    event_size=_checks.positive_int,
)
def floored_mixture_normal(params, num_components, scale_floor, event_size=1):
    """`tfp.layers.MixtureNormal`'s distribution with every scale `scale_floor + softplus(raw)`.

    It reads `params` in MixtureNormal's layout (K logits, then for each component D
    locations and D raw scales), so with `scale_floor=0` it is MixtureNormal's distribution.
    """
    logits = params[..., :num_components]  # the mixture weights' logits
    batch = tf.shape(params)[:-1]
    components = tf.reshape(  # one row of (D locations, D raw scales) per component
        params[..., num_components:], tf.concat([batch, [num_components, 2 * event_size]], 0)
    )
    loc, raw_scale = tf.split(components, 2, axis=-1)
    scale = scale_floor + tf.math.softplus(raw_scale)  # MixtureNormal: softplus(raw_scale)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Independent(
            tfd.Normal(loc=loc, scale=scale), reinterpreted_batch_ndims=1
        ),
    )


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


def density_grid_bytes(
    num_x: int, num_y: int | None = None, *, chunk_size: int = 256, components: int = 5
) -> int:
    """Bytes `conditional_density_grid` needs for a `num_y x num_x` grid (float32);
    `num_y` defaults to `num_x` (a square grid).

    The result, plus one chunk's `chunk_size x num_y x components` intermediate tensors
    (about eight of them alive at once in a mixture's `log_prob`).
    """
    num_y = num_x if num_y is None else num_y
    return 4 * (num_x * num_y + 8 * min(chunk_size, num_x) * num_y * components)


def conditional_density_grid(model, x_grid, y_grid, *, chunk_size: int = 256) -> np.ndarray:
    """The model's p(y | x) on a grid, for a heatmap.

    Args:
      model: an MDN with one input feature and one-dimensional `y`.
      x_grid: 1-D array of input values (columns of the result).
      y_grid: 1-D array of output values (rows of the result).
      chunk_size: inputs per model call.

    Returns:
      Array of shape `(len(y_grid), len(x_grid))`: entry `[i, j]` is p(y_grid[i] | x_grid[j]).

    Raises:
      ValueError: if a grid is not a non-empty 1-D array of finite values.
    """
    grids = []
    for name, grid in (("x_grid", x_grid), ("y_grid", y_grid)):
        grid = _checks.finite_array(name, grid, dtype=np.float32)
        if grid.ndim != 1 or grid.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {grid.shape}")
        grids.append(grid)
    x_grid, y_grid = grids
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    _checks.fits_in_memory(
        "x_grid and y_grid",
        density_grid_bytes(x_grid.size, y_grid.size, chunk_size=chunk_size),
        what=f"the {y_grid.size} x {x_grid.size} density grid",
    )
    ys = tf.constant(y_grid[:, None, None])  # (Ny, 1, 1) against batch (chunk,), event (1,)

    def density(x_chunk):
        return tf.transpose(tf.exp(model(x_chunk).log_prob(ys)))  # (chunk, Ny)

    return map_in_chunks(density, x_grid[:, None], chunk_size=chunk_size).T


def describe_error(error: BaseException) -> str:
    """`"Type: message"` with memory addresses masked, so a caught error prints the same
    text on every run (for showing an expected failure in a notebook)."""
    if not isinstance(error, BaseException):
        raise TypeError(f"error must be an exception, got {type(error).__name__}")
    message = re.sub(r" at 0x[0-9a-fA-F]+", "", str(error))
    return f"{type(error).__name__}: {message}"
