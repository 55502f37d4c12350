"""The mixture density network of notebook 03 on Keras 3, without `tfp.layers`.

`tfp.layers` needs `tf_keras` (Keras 2); Keras 3 (`import keras`, which TensorFlow 2.16 and
later ships as `tf.keras`) refuses its layers, because a Keras 3 layer must return tensors. The
same model still works there when the network returns the mixture's parameters as a tensor and
the loss turns them into a distribution: `build_keras3_model` is Dense layers whose head
outputs each input's K logits, K locations and K scales side by side; `mixture_from_head`
builds from them the `tfd.MixtureSameFamily` that `tfp.layers.MixtureNormal` would return;
`mixture_loss` is its negative log-likelihood, for `compile` / `fit`. Notebook 03 defines the
three in its cell tagged `lesson:support.mdn_keras3`; this module holds the same definitions,
wrapped with argument checks.

Importing `keras` (3) and `tf_keras` in one process is fine; the variable
`TF_USE_LEGACY_KERAS` must stay unset (it would make `tf.keras` Keras 2 for the whole process).

Serves notebook 03 (MDN cardioid).
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks

tfd = tfp.distributions

__all__ = ["build_keras3_model", "mixture_from_head", "mixture_loss"]


def _hidden_sizes(name: str, value) -> tuple[int, ...]:
    return _checks.integer_list(name, value, min=1)


def _head(name: str, value):
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) < 1:
        raise TypeError(f"{name} must be a tensor of shape (N, 3K), got {type(value).__name__}")
    if shape[-1] is not None and (shape[-1] == 0 or shape[-1] % 3):
        raise ValueError(
            f"{name} must hold 3K values per row (K logits, K locations, K scales), got {shape[-1]}"
        )
    return value


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


@_checks.arguments(head=_head)
def mixture_from_head(head):
    """p(y | x) from the head's output: the MixtureSameFamily of K one-dimensional normals
    that `tfp.layers.MixtureNormal(K, [1])` returns (batch shape (N,), event shape (1,))."""
    logits, locations, scales = tf.split(head, 3, axis=-1)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Independent(
            tfd.Normal(loc=locations[..., tf.newaxis], scale=scales[..., tf.newaxis]),
            reinterpreted_batch_ndims=1,
        ),
    )


def mixture_loss(y, head):
    """Keras 3's loss: -log p(y | x) under the mixture the head's output describes."""
    return -mixture_from_head(head).log_prob(y)
