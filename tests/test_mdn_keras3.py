"""The Keras 3 mixture density network of notebook 03 (`support.mdn.build_keras3_model`, and
`mixture_from_head` and `mixture_loss` from `support.distributions.mixtures`, re-exported by
`support.mdn`)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow_probability as tfp

import support
from support import mdn
from support.data.cardioid import cardioid

keras = pytest.importorskip("keras")
tfd = tfp.distributions


def _head(num_points: int, num_components: int, seed: int) -> np.ndarray:
    """A head output: logits and locations of any sign, positive scales."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (num_points, num_components))
    locations = rng.normal(0.0, 3.0, (num_points, num_components))
    scales = rng.uniform(0.1, 2.0, (num_points, num_components))
    return np.concatenate([logits, locations, scales], axis=-1).astype(np.float32)


def _mixture_log_density(head: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log sum_k softmax(logits)_k N(y; location_k, scale_k^2), in NumPy (float64)."""
    logits, locations, scales = np.split(head.astype(np.float64), 3, axis=-1)
    log_weights = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)
    z = (y.astype(np.float64) - locations) / scales
    log_normal = -0.5 * z**2 - np.log(scales) - 0.5 * np.log(2 * np.pi)
    return np.logaddexp.reduce(log_weights + log_normal, axis=-1)


def test_keras_is_keras_3_and_the_legacy_switch_is_unset():
    assert int(keras.__version__.split(".")[0]) >= 3
    assert "TF_USE_LEGACY_KERAS" not in os.environ


def test_the_model_outputs_k_logits_k_locations_and_k_positive_scales_per_input():
    model = mdn.build_keras3_model(4, [8, 6])
    assert isinstance(model, keras.Model)
    head = np.asarray(model(np.linspace(-2, 2, 5)[:, None].astype(np.float32)))
    assert head.shape == (5, 12)
    assert np.all(head[:, 8:] > 0)  # the scales


def test_the_mixture_has_one_batch_member_per_input_and_a_one_dimensional_event():
    mixture = mdn.mixture_from_head(_head(6, 3, seed=0))
    assert isinstance(mixture, tfd.MixtureSameFamily)
    assert tuple(mixture.batch_shape) == (6,)
    assert tuple(mixture.event_shape) == (1,)
    assert tuple(mixture.components_distribution.mean().shape) == (6, 3, 1)


def test_the_loss_is_minus_the_mixtures_log_density_computed_independently(seed):
    head = _head(9, 4, seed=seed)
    y = np.random.default_rng(seed + 1).normal(0.0, 3.0, (9, 1)).astype(np.float32)
    loss = np.asarray(mdn.mixture_loss(y, head))
    assert loss.shape == (9,)
    np.testing.assert_allclose(loss, -_mixture_log_density(head, y), rtol=1e-5, atol=1e-5)


def test_the_mixture_reads_the_head_in_order_logits_locations_scales():
    head = _head(3, 2, seed=5)
    mixture = mdn.mixture_from_head(head)
    logits, locations, scales = np.split(head, 3, axis=-1)
    weights = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(mixture.mixture_distribution.probs_parameter(), weights, rtol=1e-5)
    np.testing.assert_allclose(mixture.components_distribution.mean()[..., 0], locations)
    np.testing.assert_allclose(mixture.components_distribution.stddev()[..., 0], scales, rtol=1e-6)


def test_a_short_fit_lowers_the_loss_on_held_out_points(seed):
    support.setup(seed % 2**31)
    x, y = cardioid(1000, seed=seed)
    x_test, y_test = cardioid(1000, seed=seed + 1)
    model = mdn.build_keras3_model(5, [16])

    def held_out_loss():
        losses = np.asarray(mdn.mixture_loss(y_test, model(x_test)), np.float64)
        return losses.mean(), losses.std(ddof=1) / np.sqrt(losses.size)

    before, before_stderr = held_out_loss()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss=mdn.mixture_loss)
    model.fit(x, y, batch_size=100, epochs=8, verbose=0)
    after, after_stderr = held_out_loss()
    assert after < before - 4 * (before_stderr + after_stderr)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0, [4]), ValueError, "num_components"),
        ((2, [0]), ValueError, "hidden_sizes"),
        ((2, 12), TypeError, "hidden_sizes"),
    ],
)
def test_the_builder_rejects_bad_sizes_naming_them(args, error, name):
    with pytest.raises(error, match=name):
        mdn.build_keras3_model(*args)


def test_a_head_whose_width_is_not_three_k_is_rejected_naming_it():
    with pytest.raises(ValueError, match="head"):
        mdn.mixture_from_head(np.zeros((2, 7), np.float32))
    with pytest.raises(TypeError, match="head"):
        mdn.mixture_from_head([1.0, 2.0, 3.0])
