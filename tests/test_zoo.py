import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import zoo

tfb, tfd = tfp.bijectors, tfp.distributions

EVENT, K = 4, 3
TRIL = EVENT * (EVENT + 1) // 2

# builder -> trainable variable shapes, by name (REFERENCE.md's table)
EXPECTED = {
    zoo.mvn_scaled_identity: {"loc": (4,), "scale": (1,)},
    zoo.mvn_diag: {"loc": (4,), "scale": (4,)},
    zoo.mixture_spherical: {"logits": (3,), "loc": (3, 4), "scale": (3, 1)},
    zoo.mixture_spherical_first_weight_fixed: {"logits": (2,), "loc": (3, 4), "scale": (3, 1)},
    zoo.mixture_full_covariance: {"logits": (3,), "loc": (3, 4), "scale_tril": (3, TRIL)},
    zoo.mixture_full_covariance_first_fixed: {
        "logits": (2,),
        "loc": (2, 4),
        "scale_tril": (2, TRIL),
    },
}
BUILDERS = list(EXPECTED)
IDS = [b.__name__ for b in BUILDERS]


def _build(builder, **kwargs):
    if builder in (zoo.mvn_scaled_identity, zoo.mvn_diag):
        return builder(EVENT, **kwargs)
    return builder(EVENT, K, **kwargs)


def _variables(distribution):
    return {v.name.split(":")[0]: v for v in distribution.trainable_variables}


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_each_builder_has_scalar_batch_and_vector_event(builder):
    distribution = _build(builder)
    assert distribution.batch_shape == []
    assert distribution.event_shape == [EVENT]


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_each_builder_exposes_exactly_its_free_parameters(builder):
    shapes = {name: tuple(v.shape) for name, v in _variables(_build(builder)).items()}
    assert shapes == EXPECTED[builder]


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_log_prob_is_finite_with_the_builders_dtype(builder, dtype):
    distribution = _build(builder, dtype=dtype)
    x = distribution.sample(16, seed=(1, 2))
    log_prob = distribution.log_prob(x)
    assert log_prob.dtype == dtype
    assert log_prob.shape == (16,)
    assert np.all(np.isfinite(log_prob.numpy()))


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_gradients_reach_every_trainable_variable(builder):
    distribution = _build(builder, initial_scale=1.0)
    x = tf.random.stateless_normal([64, EVENT], seed=(3, 4)) * 2.0 + 0.5
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(distribution.log_prob(x))
    gradients = tape.gradient(loss, distribution.trainable_variables)
    for variable, gradient in zip(distribution.trainable_variables, gradients, strict=True):
        assert gradient is not None, variable.name
        assert np.any(gradient.numpy() != 0), variable.name


def _first_parts(distribution):
    logits = tf.convert_to_tensor(distribution.mixture_distribution.logits)
    components = distribution.components_distribution
    loc = tf.convert_to_tensor(components.loc)
    scale = tf.convert_to_tensor(components.scale_tril)
    return logits[0].numpy(), loc[0].numpy(), scale[0].numpy()


def _train_a_few_steps(distribution, steps=5):
    x = tf.random.stateless_normal([128, EVENT], seed=(5, 6)) * 3.0 + 1.0
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(x))
        gradients = tape.gradient(loss, distribution.trainable_variables)
        for v, g in zip(distribution.trainable_variables, gradients, strict=True):
            v.assign_sub(0.1 * g)


def test_full_covariance_first_component_stays_standard_normal_while_the_rest_move():
    distribution = zoo.mixture_full_covariance_first_fixed(EVENT, K, initial_scale=1.0)
    before = [v.numpy().copy() for v in distribution.trainable_variables]
    _train_a_few_steps(distribution)
    logit0, loc0, scale0 = _first_parts(distribution)
    assert logit0 == 0.0
    np.testing.assert_array_equal(loc0, np.zeros(EVENT))
    np.testing.assert_allclose(scale0, np.eye(EVENT), atol=1e-6)
    for old, v in zip(before, distribution.trainable_variables, strict=True):
        assert not np.allclose(old, v.numpy()), v.name


def test_spherical_first_logit_stays_zero_while_the_others_move():
    distribution = zoo.mixture_spherical_first_weight_fixed(EVENT, K, initial_scale=1.0)
    free_before = _variables(distribution)["logits"].numpy().copy()
    _train_a_few_steps(distribution)
    logits = tf.convert_to_tensor(distribution.mixture_distribution.logits).numpy()
    assert logits[0] == 0.0
    assert not np.allclose(logits[1:], free_before)


# ------------------------------------------------------------------------------ PadEye


def test_pad_eye_forward_prepends_the_row_that_the_tril_bijector_maps_to_identity(dtype):
    tril = tfb.FillScaleTriL(diag_shift=tf.constant(1e-5, dtype))
    x = tf.random.stateless_normal([5, 2, TRIL], seed=(7, 8), dtype=dtype)
    y = zoo.PadEye(tril).forward(x)
    assert y.shape == (5, 3, TRIL)
    assert y.dtype == dtype
    np.testing.assert_allclose(
        tril.forward(y[:, 0]).numpy(), np.broadcast_to(np.eye(EVENT), (5, EVENT, EVENT)), atol=1e-6
    )
    np.testing.assert_array_equal(y[:, 1:].numpy(), x.numpy())


def test_pad_eye_round_trips(dtype):
    bijector = zoo.PadEye()
    x = tf.random.stateless_normal([3, TRIL], seed=(9, 10), dtype=dtype)
    np.testing.assert_array_equal(bijector.inverse(bijector.forward(x)).numpy(), x.numpy())


def test_pad_eye_log_det_jacobian_is_zero_both_ways(dtype):
    bijector = zoo.PadEye()
    x = tf.random.stateless_normal([4, 2, TRIL], seed=(11, 12), dtype=dtype)
    forward = bijector.forward_log_det_jacobian(x, event_ndims=2)
    inverse = bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=2)
    np.testing.assert_array_equal(np.broadcast_to(forward.numpy(), (4,)), 0.0)
    np.testing.assert_array_equal(np.broadcast_to(inverse.numpy(), (4,)), 0.0)
    assert forward.dtype == dtype


def test_pad_eye_event_shapes_grow_and_shrink_along_the_rows_axis():
    bijector = zoo.PadEye()
    assert bijector.forward_event_shape([2, TRIL]) == [3, TRIL]
    assert bijector.inverse_event_shape([3, TRIL]) == [2, TRIL]
    assert bijector.forward_event_shape(tf.TensorShape([None, None])).as_list() == [None, None]
    np.testing.assert_array_equal(bijector.forward_event_shape_tensor([7, 2, TRIL]), [7, 3, TRIL])
    np.testing.assert_array_equal(bijector.inverse_event_shape_tensor([7, 3, TRIL]), [7, 2, TRIL])


@pytest.mark.parametrize("event_size", [1, 2, 5])
def test_pad_eye_works_with_unknown_batch_and_row_sizes_inside_tf_function(event_size):
    entries = event_size * (event_size + 1) // 2
    tril = tfb.FillScaleTriL()
    bijector = zoo.PadEye(tril)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32)])
    def forward(x):
        return tril.forward(bijector.forward(x))

    scales = forward(tf.zeros([3, 2, entries])).numpy()
    assert scales.shape == (3, 3, event_size, event_size)
    np.testing.assert_allclose(
        scales[:, 0], np.broadcast_to(np.eye(event_size), (3,) + (event_size,) * 2), atol=1e-6
    )


def test_pad_eye_rejects_a_non_bijector():
    with pytest.raises(TypeError, match="tril_bijector"):
        zoo.PadEye(tril_bijector="softplus")


# ------------------------------------------------------------------------------ fitting


@pytest.mark.slow
def test_fitting_a_diagonal_gaussian_recovers_its_mean_and_scales(seed):
    true_loc = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
    true_scale = np.array([0.5, 1.0, 2.0, 0.3], np.float32)
    rng = np.random.default_rng(seed)
    samples = true_loc + true_scale * rng.standard_normal((4000, EVENT)).astype(np.float32)
    distribution = zoo.mvn_diag(EVENT)
    zoo.fit_maximum_likelihood(
        distribution, samples, epochs=25, batch_size=200, learning_rate=0.05, progress=False
    )
    # Stated tolerance: the sampling error of the mean is scale / sqrt(4000) < 0.04; we
    # allow 0.1 for the mean and 10% for the scales to cover the optimiser's last steps.
    np.testing.assert_allclose(distribution.mean().numpy(), true_loc, atol=0.1)
    np.testing.assert_allclose(distribution.stddev().numpy(), true_scale, rtol=0.1)


@pytest.mark.slow
def test_fitting_a_full_covariance_mixture_reaches_the_targets_own_likelihood(seed):
    target = tfd.MixtureSameFamily(
        tfd.Categorical(probs=[0.5, 0.3, 0.2]),
        tfd.MultivariateNormalTriL(
            loc=[[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]],
            scale_tril=[
                [[1.0, 0.0], [0.5, 0.7]],
                [[0.6, 0.0], [0.0, 0.6]],
                [[0.8, 0.0], [-0.4, 0.5]],
            ],
        ),
    )
    train = target.sample(4000, seed=(seed, 1))
    held_out = target.sample(4000, seed=(seed, 2))
    model = zoo.mixture_full_covariance(2, 3, initial_scale=2.0)
    model.components_distribution.loc.assign([[1.0, 1.0], [2.0, 3.0], [-2.0, 3.0]])
    zoo.fit_maximum_likelihood(
        model, train.numpy(), epochs=40, batch_size=200, learning_rate=0.05, progress=False
    )
    model_nll = -tf.reduce_mean(model.log_prob(held_out)).numpy()
    target_nll = -tf.reduce_mean(target.log_prob(held_out)).numpy()
    # Stated tolerance: within 0.05 nats per point of the target's own held-out NLL.
    assert model_nll < target_nll + 0.05


def test_match_components_undoes_a_relabelling():
    true = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    fitted = true[[2, 0, 1]] + 0.1
    order = zoo.match_components(true, fitted)
    np.testing.assert_allclose(fitted[order], true + 0.1)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("builder", "kwargs", "argument"),
    [
        (zoo.mvn_diag, {"event_size": 0}, "event_size"),
        (zoo.mvn_scaled_identity, {"event_size": 2.5}, "event_size"),
        (zoo.mvn_diag, {"initial_scale": -1.0}, "initial_scale"),
        (zoo.mvn_diag, {"initial_scale": float("nan")}, "initial_scale"),
        (zoo.mixture_spherical, {"num_components": 0}, "num_components"),
        (zoo.mixture_spherical_first_weight_fixed, {"num_components": 1}, "num_components"),
        (zoo.mixture_full_covariance, {"logit_decay": 0.0}, "logit_decay"),
        (zoo.mixture_full_covariance_first_fixed, {"event_size": -4}, "event_size"),
        (zoo.mixture_full_covariance, {"dtype": tf.int32}, "dtype"),
    ],
)
def test_invalid_arguments_name_the_argument(builder, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        builder(**kwargs)


@pytest.mark.parametrize(
    ("samples", "kwargs", "argument"),
    [
        (np.zeros((10, 3)), {}, "samples"),
        (np.full((10, 4), np.nan), {}, "samples"),
        (np.zeros((10, 4)), {"batch_size": 0}, "batch_size"),
        (np.zeros((10, 4)), {"batch_size": 11}, "batch_size"),
        (np.zeros((10, 4)), {"epochs": 0}, "epochs"),
    ],
)
def test_fit_rejects_bad_samples_and_sizes_before_training(samples, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        zoo.fit_maximum_likelihood(zoo.mvn_diag(4), samples, **kwargs)


# ------------------------------------------------------------------------------ helpers


def test_initial_locs_find_one_centre_per_well_separated_cluster(seed):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = np.concatenate([c + rng.normal(size=(300, 2)) for c in centres])
    found = zoo.initial_locs_from(samples, 3, seed=seed)
    order = zoo.match_components(centres, found)
    # each centre is the mean of 300 unit-variance points: within 4 standard errors
    np.testing.assert_allclose(found[order], centres, atol=4 * np.sqrt(2 / 300))


def test_initial_locs_keep_a_given_first_centre_where_it_is():
    samples = np.random.default_rng(0).normal(size=(100, 3)) + 5.0
    found = zoo.initial_locs_from(samples, 2, first=np.zeros(3))
    np.testing.assert_array_equal(found[0], np.zeros(3))


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"num_components": 5}, "samples"),
        ({"num_components": 0}, "num_components"),
        ({"num_components": 2, "first": np.zeros(5)}, "first"),
    ],
)
def test_initial_locs_reject_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        zoo.initial_locs_from(np.zeros((4, 3)), **kwargs)


def test_initial_locs_reject_nan_samples():
    with pytest.raises(ValueError, match="samples"):
        zoo.initial_locs_from(np.full((4, 3), np.nan), 2)


def test_initial_loc_sets_the_mixture_means_and_is_checked():
    loc = np.arange(12.0).reshape(3, 4)
    model = zoo.mixture_full_covariance(4, 3, initial_loc=loc)
    np.testing.assert_array_equal(zoo.effective_parameters(model)["loc"], loc)
    fixed = zoo.mixture_full_covariance_first_fixed(4, 3, initial_loc=loc)
    np.testing.assert_array_equal(zoo.effective_parameters(fixed)["loc"][1:], loc[1:])
    with pytest.raises(ValueError, match="initial_loc"):
        zoo.mixture_spherical(4, 3, initial_loc=np.zeros((2, 4)))


def test_example_targets_exist_for_every_builder_with_the_right_event_size():
    targets = zoo.example_targets(5, 4, seed=1)
    assert set(targets) == {b.__name__ for b in BUILDERS}
    for target in targets.values():
        assert target.event_shape == [5]
    first = zoo.effective_parameters(targets["mixture_full_covariance_first_fixed"])
    np.testing.assert_array_equal(first["loc"][0], 0.0)
    np.testing.assert_array_equal(first["scale"][0], np.eye(5))


def test_describe_lists_every_trainable_variable_with_its_shape():
    text = zoo.describe(zoo.mixture_full_covariance_first_fixed(4, 3))
    assert "loc:0 (2, 4)" in text
    assert f"scale_tril:0 (2, {TRIL})" in text
    assert "logits:0 (2,)" in text
    assert "-0." not in text
