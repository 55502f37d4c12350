"""Tests of support.mdn: the MDN builder, its loss, held-out NLL and densities."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

import support
from support import mdn
from support.data.cardioid import cardioid
from support.estimate import Estimate, mean_and_stderr

tfd = tfp.distributions


def test_params_size_matches_tfp_mixture_normal_and_is_a_python_int():
    for components, event_size in [(1, 1), (5, 1), (3, 2), (4, 7)]:
        size = mdn.params_size(components, event_size)
        assert type(size) is int
        assert size == tfp.layers.MixtureNormal.params_size(components, [event_size])


@pytest.mark.parametrize("event_size", [1, 2])
def test_mdn_output_is_a_mixture_with_one_batch_member_per_input(event_size):
    model = mdn.build_mdn(num_components=4, hidden_units=(8,), event_size=event_size)
    assert model.layers[-2].units == mdn.params_size(4, event_size)
    distribution = model(np.zeros((6, 1), np.float32))
    assert tuple(distribution.batch_shape) == (6,)
    assert tuple(distribution.event_shape) == (event_size,)
    params = mdn.mixture_params(distribution)
    expected = (6, 4) if event_size == 1 else (6, 4, event_size)
    assert params.weights.shape == (6, 4)
    assert params.means.shape == params.stddevs.shape == expected
    assert model.predict(np.zeros((6, 1), np.float32), verbose=0).shape == (6, event_size)


def test_mdn_without_a_floor_uses_tfp_mixture_normal():
    model = mdn.build_mdn(num_components=3, hidden_units=())
    assert isinstance(model.layers[-1], tfp.layers.MixtureNormal)


@pytest.mark.parametrize("event_size", [1, 2])
def test_floored_head_at_floor_zero_is_the_mixture_normal_distribution(seed, event_size):
    components = 3
    size = mdn.params_size(components, event_size)
    params = tf.random.stateless_normal([7, size], seed=[seed % 2**31, 1], stddev=2.0)
    y = tf.random.stateless_normal([5, 7, event_size], seed=[seed % 2**31, 2], stddev=3.0)
    ours = mdn.floored_mixture_normal(params, components, 0.0, event_size)
    theirs = tfp.layers.MixtureNormal.new(params, components, [event_size])
    np.testing.assert_allclose(ours.log_prob(y), theirs.log_prob(y), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        ours.components_distribution.stddev(), theirs.components_distribution.stddev(), rtol=1e-6
    )


def test_floored_head_adds_the_floor_to_mixture_normal_scales(seed):
    params = tf.random.stateless_normal([4, 9], seed=[seed % 2**31, 3], stddev=3.0)
    ours = mdn.floored_mixture_normal(params, 3, 0.25).components_distribution.stddev()
    theirs = tfp.layers.MixtureNormal.new(params, 3, [1]).components_distribution.stddev()
    np.testing.assert_allclose(ours - theirs, 0.25, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0, 0.1), ValueError, "num_components"),
        ((3, -0.1), ValueError, "scale_floor"),
        ((3, float("inf")), ValueError, "scale_floor"),
        ((3, 0.1, 0), ValueError, "event_size"),
    ],
)
def test_floored_head_rejects_bad_arguments_before_reading_params(args, error, name):
    with pytest.raises(error, match=name):
        mdn.floored_mixture_normal("not a tensor", *args)


def _set_params_layer(model, raw_scale: float):
    # Zero kernel: every input gets the same parameters; raw scale slots set to `raw_scale`.
    layer = model.get_layer("mixture_params")
    kernel, bias = layer.get_weights()
    components = 3
    new_bias = np.zeros_like(bias)
    per_component = new_bias[components:].reshape(components, 2)
    per_component[:, 0] = [-1.0, 0.0, 1.0]
    per_component[:, 1] = raw_scale
    layer.set_weights([np.zeros_like(kernel), new_bias])


def test_scale_floor_bounds_every_standard_deviation_from_below():
    floor = 0.05
    model = mdn.build_mdn(num_components=3, hidden_units=(), scale_floor=floor)
    _set_params_layer(model, raw_scale=-40.0)  # softplus(-40) ~ 4e-18: a collapsed scale
    stddevs = mdn.mixture_params(model(np.linspace(-3, 3, 11)[:, None])).stddevs
    assert np.all(stddevs >= np.float32(floor))
    np.testing.assert_allclose(stddevs, floor, rtol=1e-6)


def test_scale_floor_shifts_the_softplus_scales_by_the_floor():
    plain = mdn.build_mdn(num_components=3, hidden_units=(5,))
    floored = mdn.build_mdn(num_components=3, hidden_units=(5,), scale_floor=0.2)
    floored.set_weights(plain.get_weights())
    x = np.linspace(-3, 3, 7)[:, None].astype(np.float32)
    plain_params = mdn.mixture_params(plain(x))
    floored_params = mdn.mixture_params(floored(x))
    np.testing.assert_allclose(floored_params.stddevs - plain_params.stddevs, 0.2, atol=1e-6)
    np.testing.assert_allclose(floored_params.means, plain_params.means)
    np.testing.assert_allclose(floored_params.weights, plain_params.weights)


def test_loss_is_the_mean_negative_log_likelihood():
    model = mdn.build_mdn(num_components=2, hidden_units=(4,))
    x, y = cardioid(16, seed=0)
    expected = -np.mean(model(x).log_prob(y).numpy())
    assert float(mdn.mdn_loss(model)(x, y)) == pytest.approx(expected, rel=1e-6)


def test_held_out_nll_reports_mean_and_standard_error():
    model = mdn.build_mdn(num_components=2, hidden_units=(4,))
    x, y = cardioid(50, seed=1)
    nll = -model(x).log_prob(y).numpy()
    estimate = mdn.held_out_nll(model, x, y)
    assert isinstance(estimate, Estimate)
    assert estimate.mean == pytest.approx(nll.mean(), rel=1e-6)
    assert estimate.stderr == pytest.approx(mean_and_stderr(nll).stderr, rel=1e-6)


def test_a_short_fit_lowers_the_held_out_nll(seed):
    support.setup(seed % 2**31)
    x, y = cardioid(1000, seed=seed)
    x_test, y_test = cardioid(1000, seed=seed + 1)
    model = mdn.build_mdn(num_components=5, hidden_units=(16,), scale_floor=0.01)
    before = mdn.held_out_nll(model, x_test, y_test)
    dataset = mdn.make_dataset(x, y, batch_size=100, seed=seed)
    support.fit(
        mdn.mdn_loss(model),
        model.trainable_variables,
        dataset,
        epochs=8,
        learning_rate=0.02,
        progress=False,
    )
    after = mdn.held_out_nll(model, x_test, y_test)
    assert after.mean < before.mean - 4 * (before.stderr + after.stderr)


def test_conditional_density_grid_holds_one_density_per_column():
    model = mdn.build_mdn(num_components=3, hidden_units=(6,), scale_floor=0.05)
    x_grid = np.linspace(-2.0, 2.0, 9)
    y_grid = np.linspace(-60.0, 60.0, 24001)  # wide enough for an untrained network
    grid = mdn.conditional_density_grid(model, x_grid, y_grid, chunk_size=4)
    assert grid.shape == (y_grid.size, x_grid.size)
    np.testing.assert_allclose(np.trapezoid(grid, y_grid, axis=0), 1.0, atol=1e-3)
    column = np.exp(model(x_grid[3:4, None]).log_prob(y_grid[:, None]).numpy())
    np.testing.assert_allclose(grid[:, 3], column, rtol=1e-5, atol=1e-12)


def test_make_dataset_batches_pairs_of_columns():
    x, y = cardioid(250, seed=2)
    batches = list(mdn.make_dataset(x[:, 0], y, batch_size=100))
    assert [b[0].shape[0] for b in batches] == [100, 100, 50]
    assert batches[0][0].shape == batches[0][1].shape == (100, 1)


def test_keras_3_refuses_tfp_layers_which_is_why_the_mdn_uses_tf_keras():
    keras = pytest.importorskip("keras")
    if int(keras.__version__.split(".")[0]) < 3:
        pytest.skip("Keras 2 installed as `keras`")
    size = mdn.params_size(5, 1)
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        keras.Sequential([keras.layers.Dense(size), tfp.layers.MixtureNormal(5, [1])])
    assert isinstance(mdn.build_mdn(), tf_keras.Sequential)


def test_describe_error_masks_memory_addresses():
    error = ValueError("Received: <Layer object at 0x7fb19025e8d0> (of type <class 'Layer'>)")
    assert mdn.describe_error(error) == (
        "ValueError: Received: <Layer object> (of type <class 'Layer'>)"
    )
    with pytest.raises(TypeError, match="error must be an exception"):
        mdn.describe_error("not an error")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"num_components": 0}, ValueError, "num_components"),
        ({"num_components": 2.0}, TypeError, "num_components"),
        ({"hidden_units": 12}, TypeError, "hidden_units"),
        ({"hidden_units": [12, 0]}, ValueError, "hidden_units"),
        ({"hidden_units": [12, 1.5]}, TypeError, "hidden_units"),
        ({"activation": "no-such-activation"}, ValueError, "activation"),
        ({"scale_floor": -0.1}, ValueError, "scale_floor"),
        ({"scale_floor": float("nan")}, ValueError, "scale_floor"),
        ({"scale_floor": True}, TypeError, "scale_floor"),
        ({"event_size": 0}, ValueError, "event_size"),
        ({"input_size": -1}, ValueError, "input_size"),
    ],
)
def test_build_mdn_rejects_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        mdn.build_mdn(**kwargs)


def test_data_helpers_reject_bad_input():
    model = mdn.build_mdn(num_components=2, hidden_units=())
    with pytest.raises(ValueError, match="batch_size"):
        mdn.make_dataset(np.zeros(4), np.zeros(4), batch_size=0)
    with pytest.raises(ValueError, match="same length"):
        mdn.make_dataset(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="x must hold only finite"):
        mdn.held_out_nll(model, np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="y_grid must be"):
        mdn.conditional_density_grid(model, np.zeros(3), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="model must be"):
        mdn.mdn_loss("model")
    with pytest.raises(TypeError, match="^seed must be an integer"):
        mdn.make_dataset(np.zeros(4), np.zeros(4), seed="a")


def test_held_out_nll_names_x_when_it_has_the_wrong_number_of_features():
    model = mdn.build_mdn(num_components=2, hidden_units=(), input_size=1)
    with pytest.raises(ValueError, match=r"^x must have 1 feature column\(s\).* got 3"):
        mdn.held_out_nll(model, np.zeros((4, 3)), np.zeros(4))


def test_held_out_nll_names_y_when_it_has_the_wrong_number_of_columns():
    model = mdn.build_mdn(num_components=2, hidden_units=(), event_size=1)
    with pytest.raises(ValueError, match=r"^y must have 1 column\(s\).* got 2"):
        mdn.held_out_nll(model, np.zeros(4), np.zeros((4, 2)))


def test_a_density_grid_too_large_for_memory_is_refused_before_any_model_call(monkeypatch):
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "1")

    def model(x):
        raise AssertionError("the model must not be called")

    grid = np.zeros(200_000, np.float32)  # 200000 x 200000 float32: 149 GiB for the result alone
    with pytest.raises(ValueError, match=r"^x_grid and y_grid too large: .* about 1[4-6][0-9] GiB"):
        mdn.conditional_density_grid(model, grid, grid)


def test_mdn_output_dtype_is_float32():
    model = mdn.build_mdn(num_components=2, hidden_units=())
    assert model(np.zeros((1, 1), np.float32)).dtype == tf.float32


# ------------------------------------------------- the lesson code notebook 03 defines in cells


def test_build_model_is_dense_layers_into_a_mixture_normal_of_the_given_sizes():
    model = mdn.build_model(4, [8, 6])
    assert isinstance(model.layers[-1], tfp.layers.MixtureNormal)
    assert [layer.units for layer in model.layers[:-1]] == [8, 6, mdn.params_size(4)]
    distribution = model(np.zeros((3, 1), np.float32))
    assert tuple(distribution.batch_shape) == (3,)
    assert tuple(distribution.event_shape) == (1,)


def test_negative_log_likelihood_is_minus_the_log_prob_of_each_point():
    model = mdn.build_model(3, [5])
    x, y = cardioid(12, seed=2)
    rv = model(x)
    loss = mdn.negative_log_likelihood(y, rv).numpy()
    assert loss.shape == (12,)
    np.testing.assert_allclose(loss, -rv.log_prob(y).numpy(), rtol=1e-6)


@pytest.mark.parametrize("decay", [True, False])
def test_compile_and_fit_lowers_the_held_out_nll(seed, decay):
    support.setup(seed % 2**31)
    x, y = cardioid(1000, seed=seed)
    x_test, y_test = cardioid(1000, seed=seed + 1)
    model = mdn.build_model(5, [16])
    before = mdn.held_out_nll(model, x_test, y_test)
    history = mdn.compile_and_fit(
        model, x, y, learning_rate=0.02, batch_size=100, epochs=8, decay=decay
    )
    after = mdn.held_out_nll(model, x_test, y_test)
    assert len(history.history["loss"]) == 8
    assert after.mean < before.mean - 4 * (before.stderr + after.stderr)


def test_compile_and_fit_decays_the_rate_to_five_percent_only_when_asked():
    x, y = cardioid(40, seed=3)
    decayed, constant = mdn.build_model(2, [4]), mdn.build_model(2, [4])
    mdn.compile_and_fit(decayed, x, y, learning_rate=0.1, batch_size=20, epochs=2, decay=True)
    mdn.compile_and_fit(constant, x, y, learning_rate=0.1, batch_size=20, epochs=2, decay=False)
    schedule = decayed.optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.1)
    assert schedule["config"]["decay_steps"] == 2 * 2  # epochs x steps per epoch: the whole fit
    assert schedule["config"]["alpha"] == pytest.approx(0.05)
    assert constant.optimizer.get_config()["learning_rate"] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(epochs=1.5), TypeError, "epochs"),
    ],
)
def test_compile_and_fit_rejects_bad_arguments_before_compiling(kwargs, error, name):
    model = mdn.build_model(2, [4])
    x, y = cardioid(10, seed=0)
    arguments = dict(learning_rate=0.01, batch_size=5, epochs=1, decay=False) | kwargs
    with pytest.raises(error, match=name):
        mdn.compile_and_fit(model, x, y, **arguments)
    assert model.optimizer is None  # never compiled


def test_compile_and_fit_names_x_when_it_holds_nan():
    x, y = cardioid(10, seed=0)
    x[3] = np.nan
    with pytest.raises(ValueError, match="x"):
        mdn.compile_and_fit(
            mdn.build_model(2, [4]), x, y, learning_rate=0.01, batch_size=5, epochs=1, decay=False
        )


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [
        ((0, [4]), ValueError, "num_components"),
        ((2, [0]), ValueError, "hidden_sizes"),
        ((2, "12"), TypeError, "hidden_sizes"),
    ],
)
def test_build_model_rejects_bad_sizes(args, error, name):
    with pytest.raises(error, match=name):
        mdn.build_model(*args)


def test_weights_means_variances_are_the_mixtures_parts_in_the_answers_shapes():
    model = mdn.build_model(3, [5])
    gm = model(np.linspace(-2, 2, 4)[:, None].astype(np.float32))
    weights, means, variances = mdn.weights_means_variances(gm)
    assert weights.shape == (4, 3)
    assert means.shape == variances.shape == (4, 3, 1)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-6)
    params = mdn.mixture_params(gm)  # the same numbers through stddev()
    np.testing.assert_allclose(weights, params.weights, rtol=1e-6)
    np.testing.assert_allclose(means[..., 0], params.means, rtol=1e-6)
    np.testing.assert_allclose(variances[..., 0], params.stddevs**2, rtol=1e-5)


def test_weights_means_variances_names_gm_when_given_no_mixture():
    with pytest.raises(TypeError, match="gm"):
        mdn.weights_means_variances(tfd.Normal(0.0, 1.0))
