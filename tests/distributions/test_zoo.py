import inspect

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support.distributions import zoo

tfb, tfd = tfp.bijectors, tfp.distributions

EVENT, K = 4, 3
TRIL = EVENT * (EVENT + 1) // 2

# builder -> trainable variable shapes, by name (REFERENCE.md's table)
EXPECTED = {
    zoo.mvn_scaled_identity: {"loc": (4,), "scale": (1,)},
    zoo.mvn_diag: {"loc": (4,), "scale": (4,)},
    zoo.mixture_spherical: {"logits": (3,), "loc": (3, 4), "scale": (3, 1)},
    zoo.mixture_spherical_first_logit_fixed: {"logits": (2,), "loc": (3, 4), "scale": (3, 1)},
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
def test_log_prob_is_finite_and_float32_like_every_variable(builder):
    distribution = _build(builder)
    assert {v.dtype for v in distribution.trainable_variables} == {tf.float32}
    x = distribution.sample(16, seed=(1, 2))
    log_prob = distribution.log_prob(x)
    assert log_prob.dtype == tf.float32
    assert log_prob.shape == (16,)
    assert np.all(np.isfinite(log_prob.numpy()))


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_gradients_reach_every_trainable_variable(builder):
    distribution = _build(builder)
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
    distribution = zoo.mixture_full_covariance_first_fixed(EVENT, K)
    before = [v.numpy().copy() for v in distribution.trainable_variables]
    _train_a_few_steps(distribution)
    logit0, loc0, scale0 = _first_parts(distribution)
    assert logit0 == 0.0
    np.testing.assert_array_equal(loc0, np.zeros(EVENT))
    np.testing.assert_allclose(scale0, np.eye(EVENT), atol=1e-6)
    for old, v in zip(before, distribution.trainable_variables, strict=True):
        assert not np.allclose(old, v.numpy()), v.name


def test_spherical_first_logit_stays_zero_while_the_others_move():
    distribution = zoo.mixture_spherical_first_logit_fixed(EVENT, K)
    free_before = _variables(distribution)["logits"].numpy().copy()
    _train_a_few_steps(distribution)
    logits = tf.convert_to_tensor(distribution.mixture_distribution.logits).numpy()
    assert logits[0] == 0.0
    assert not np.allclose(logits[1:], free_before)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("builder", "args", "argument", "error"),
    [
        (zoo.mvn_diag, (0,), "event_size", ValueError),
        (zoo.mvn_scaled_identity, (2.5,), "event_size", TypeError),
        (zoo.mvn_diag, ("4",), "event_size", TypeError),
        (zoo.mixture_spherical, (4, 0), "num_components", ValueError),
        (zoo.mixture_spherical_first_logit_fixed, (4, 1), "num_components", ValueError),
        (zoo.mixture_full_covariance, (4, 3.0), "num_components", TypeError),
        (zoo.mixture_full_covariance_first_fixed, (-4, 3), "event_size", ValueError),
        (zoo.mixture_full_covariance_first_fixed, (4, 1), "num_components", ValueError),
    ],
)
def test_invalid_arguments_name_the_argument(builder, args, argument, error):
    with pytest.raises(error, match=f"^{argument} must "):
        builder(*args)


@pytest.mark.parametrize("builder", [zoo.mixture_spherical, zoo.mixture_full_covariance])
def test_a_mixture_too_large_for_memory_is_refused_up_front_naming_its_sizes(builder, monkeypatch):
    # 10**4 components of dimension 10**6 hold at least 1e10 floats (40 GB) over a laptop's
    # 8 GiB budget; the check runs before anything is allocated, so this returns at once.
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "8")
    with pytest.raises(ValueError, match=r"^event_size and num_components too large: .* GiB"):
        builder(10**6, 10**4)


def test_a_builder_binds_its_arguments_like_its_signature():
    with pytest.raises(TypeError, match="positional"):
        zoo.mvn_diag(4, 2.0)  # a Gaussian takes only event_size
    with pytest.raises(TypeError, match="unexpected keyword"):
        zoo.mixture_spherical(4, 3, scale=1.0)
    assert zoo.mixture_spherical(event_size=2, num_components=2).event_shape == [2]


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_each_builder_keeps_its_signature_and_docstring(builder):
    parameters = list(inspect.signature(builder).parameters)
    mixture = builder.__name__.startswith("mixture")
    assert parameters == (["event_size", "num_components"] if mixture else ["event_size"])
    assert builder.__doc__ and builder.__wrapped__.__name__ == builder.__name__


@pytest.mark.parametrize("builder", BUILDERS, ids=IDS)
def test_the_package_copy_of_each_builder_is_plain_tfp_without_checks(builder):
    text = inspect.getsource(builder.__wrapped__)
    assert text.startswith("@_checked(")
    assert f"def {builder.__name__}(" in text
    assert "_checks." not in text
    assert "raise" not in text
    assert "tfd." in text


def test_the_checks_run_before_the_body(monkeypatch):
    calls = []
    monkeypatch.setattr(zoo.tfd, "Independent", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError, match="^event_size must be"):
        zoo.mvn_diag(0)
    assert calls == []
