"""Tests of support.flows.ode: the MLP state derivative of the FFJORD notebook (02)."""

import numpy as np
import pytest
import tensorflow as tf

from support.flows.ode import (
    MLPODE,
    activation_name,
    has_jacobian_diagonal,
    has_weights,
    is_mlp_field,
    value_and_jacobian_diagonal,
    weights_and_biases,
)


def test_the_derivative_has_the_state_shape_and_dtype(dtype):
    field = MLPODE(hidden_sizes=(4, 3), output_size=2)
    out = field(tf.constant(0.3, dtype), tf.ones([5, 2], dtype))
    assert out.shape == (5, 2)
    assert out.dtype == dtype


def test_time_changes_the_derivative():
    field = MLPODE(hidden_sizes=(8,), output_size=2)
    state = tf.ones([3, 2])
    assert not np.allclose(field(0.0, state), field(1.0, state))


def test_a_zero_initialised_output_layer_gives_a_zero_field():
    field = MLPODE(hidden_sizes=(8, 8), output_size=3, zero_init_output=True)
    state = tf.random.stateless_normal([4, 3], seed=[1, 2])
    np.testing.assert_array_equal(field(0.7, state), np.zeros([4, 3], np.float32))


def test_a_new_batch_size_does_not_retrace_a_compiled_call():
    field = MLPODE(hidden_sizes=(4,), output_size=2)
    field(0.0, tf.ones([1, 2]))  # create the variables outside the compiled function
    traces = []

    @tf.function(input_signature=[tf.TensorSpec([], tf.float32), tf.TensorSpec([None, 2])])
    def call(t, state):
        traces.append(1)
        return field(t, state)

    assert call(0.0, tf.ones([7, 2])).shape == (7, 2)
    assert call(0.5, tf.ones([3, 2])).shape == (3, 2)
    assert len(traces) == 1


def test_extra_leading_axes_are_kept():
    field = MLPODE(hidden_sizes=(4,), output_size=2)
    assert field(0.0, tf.ones([2, 3, 2])).shape == (2, 3, 2)


def test_the_layers_have_the_asked_sizes():
    field = MLPODE(hidden_sizes=(5, 7), output_size=2)
    field(0.0, tf.ones([1, 2]))
    shapes = sorted(tuple(v.shape) for v in field.trainable_variables)
    # inputs are [t, z]: 1 + 2 columns
    assert shapes == sorted([(3, 5), (5,), (5, 7), (7,), (7, 2), (2,)])


def test_an_activation_can_be_named_or_given():
    named = MLPODE(hidden_sizes=(4,), activation="softplus")
    given = MLPODE(hidden_sizes=(4,), activation=tf.math.sin)
    assert named.activation is tf.math.softplus
    assert given.activation is tf.math.sin


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"hidden_sizes": (8, 0)}, "hidden_sizes"),
        ({"output_size": 0}, "output_size"),
        ({"activation": "sigmoidish"}, "activation"),
    ],
)
def test_bad_values_raise_a_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MLPODE(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hidden_sizes": 8}, "hidden_sizes"),
        ({"hidden_sizes": (8, 2.5)}, "hidden_sizes"),
        ({"output_size": 2.0}, "output_size"),
    ],
)
def test_arguments_of_the_wrong_type_raise_a_type_error_naming_them(kwargs, match):
    with pytest.raises(TypeError, match=match):
        MLPODE(**kwargs)


def test_a_non_callable_activation_is_a_type_error():
    with pytest.raises(TypeError, match="activation"):
        MLPODE(activation=3)


def _taped_diagonal(field, t, z):
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        value = field(t, z)
        components = [value[..., i] for i in range(z.shape[-1])]
    return tf.stack([tape.gradient(c, z)[..., i] for i, c in enumerate(components)], axis=-1)


@pytest.mark.parametrize("activation", ["tanh", "softplus", "elu", "swish"])
def test_the_jacobian_diagonal_of_one_pass_equals_the_gradient_tapes(activation, seed):
    tf.random.set_seed(seed)
    field = MLPODE(hidden_sizes=(5, 7, 3), output_size=3, activation=activation)
    # Spread out, so elu's two branches and swish's curvature are both exercised.
    z = tf.constant(np.random.default_rng(seed).normal(scale=2.0, size=(40, 3)), tf.float64)
    value, diagonal = value_and_jacobian_diagonal(field, 0.7, z)
    np.testing.assert_allclose(value.numpy(), field(0.7, z).numpy(), rtol=1e-12)
    expected = _taped_diagonal(field, 0.7, z).numpy()
    np.testing.assert_allclose(diagonal.numpy(), expected, rtol=1e-9, atol=1e-12)
    assert np.abs(expected).max() > 1e-2  # a real Jacobian, not two zeros agreeing


def test_the_jacobian_diagonal_keeps_extra_leading_axes():
    field = MLPODE(hidden_sizes=(4,), output_size=2)
    value, diagonal = value_and_jacobian_diagonal(field, 0.0, tf.zeros([3, 5, 2]))
    assert value.shape == diagonal.shape == (3, 5, 2)


def test_a_callable_activation_has_no_one_pass_jacobian_diagonal():
    field = MLPODE(hidden_sizes=(4,), output_size=2, activation=tf.math.sin)
    assert not has_jacobian_diagonal(field)
    with pytest.raises(ValueError, match="named activation"):
        value_and_jacobian_diagonal(field, 0.0, tf.zeros([1, 2]))


def test_the_functional_field_gives_the_modules_value_and_diagonal():
    from support.flows.ode import mlp_value_and_jacobian_diagonal

    field = MLPODE(hidden_sizes=(5, 3), output_size=2, activation="softplus")
    z = tf.random.stateless_normal([7, 2], [1, 2])
    value, diagonal = value_and_jacobian_diagonal(field, 0.4, z)  # builds the weights
    weights, biases = weights_and_biases(field)
    assert [w.shape for w in weights] == [(3, 5), (5, 3), (3, 2)]
    got_value, got_diagonal = mlp_value_and_jacobian_diagonal(weights, biases, 0.4, z, "softplus")
    np.testing.assert_allclose(got_value.numpy(), field(0.4, z).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got_diagonal.numpy(), diagonal.numpy(), rtol=1e-6)


def test_weights_and_biases_before_the_first_call_raise_a_value_error():
    field = MLPODE(hidden_sizes=(4,), output_size=2)
    assert not has_weights(field)
    with pytest.raises(ValueError, match="no weights yet"):
        weights_and_biases(field)
    field(0.0, tf.zeros([1, 2]))
    assert has_weights(field)
    assert activation_name(field) == "tanh"
    assert activation_name(MLPODE(hidden_sizes=(4,), activation=tf.math.sin)) is None


def test_the_demo_field_feeds_time_broadcast_to_the_state_shape_then_the_state(seed):
    from support.flows.ode import DemoMLPODE

    field = DemoMLPODE(hidden_sizes=(8, 8), output_size=2)
    z = tf.constant(np.random.default_rng(seed).normal(size=(5, 2)), tf.float32)
    value = field(0.3, z)
    first, second, last = (field._model._layers[i] for i in (0, 2, 4))
    assert first.w.shape == (4, 8)  # two time columns (the state's shape), then the state
    inputs = tf.concat([tf.fill([5, 2], 0.3), z], axis=-1)
    hidden = tf.tanh(second(tf.tanh(first(inputs))))
    np.testing.assert_allclose(value.numpy(), last(hidden).numpy(), rtol=1e-6)
    assert not has_jacobian_diagonal(field) and not is_mlp_field(field)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"hidden_sizes": ()}, "hidden_sizes"), ({"output_size": 0}, "output_size")],
)
def test_bad_demo_field_sizes_raise_a_value_error_naming_them(kwargs, match):
    from support.flows.ode import DemoMLPODE

    with pytest.raises(ValueError, match=match):
        DemoMLPODE(**kwargs)


def _page_copy(edit=("", "")):
    """`MLPODE` compiled again from its own source text, as a notebook cell defines it,
    with one optional text replacement."""
    import inspect
    import textwrap

    import sonnet as snt

    from support.flows import ode

    source = inspect.getsource(ode).split("@_checked_field\n", 1)[1].split("\n\n\n", 1)[0]
    assert source.startswith("class MLPODE(snt.Module):")
    namespace = {"snt": snt, "tf": tf}
    exec(compile(textwrap.dedent(source).replace(*edit), "<cell>", "exec"), namespace)  # noqa: S102
    return namespace["MLPODE"]


def test_a_field_of_the_same_class_written_on_a_page_has_the_one_pass_diagonal():
    field = _page_copy()(hidden_sizes=[4, 3], output_size=2)
    assert type(field) is not MLPODE and is_mlp_field(field) and has_jacobian_diagonal(field)
    z = tf.random.stateless_normal([6, 2], seed=[3, 4])
    value, diagonal = value_and_jacobian_diagonal(field, 0.2, z)
    np.testing.assert_allclose(value.numpy(), field(0.2, z).numpy(), rtol=1e-6)
    expected = _taped_diagonal(field, 0.2, z).numpy()
    np.testing.assert_allclose(diagonal.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_a_page_field_whose_call_was_changed_is_not_taken_for_an_mlpode():
    edited = _page_copy(("[time, state]", "[state, time]"))(hidden_sizes=[4], output_size=2)
    assert not is_mlp_field(edited) and not has_jacobian_diagonal(edited)
    with pytest.raises(TypeError, match="MLPODE"):
        value_and_jacobian_diagonal(edited, 0.0, tf.zeros([1, 2]))


def test_a_page_field_without_biases_is_not_an_mlpode_and_its_trace_falls_back_to_a_tape():
    import tensorflow_probability as tfp

    from support.flows import traces

    tfb = tfp.bijectors

    edited = _page_copy(("snt.Linear(size)", "snt.Linear(size, with_bias=False)"))
    field = edited(hidden_sizes=[4], output_size=2)
    field(0.0, tf.zeros([1, 2]))
    assert not is_mlp_field(field) and not has_jacobian_diagonal(field)
    z = tf.random.stateless_normal([5, 2], seed=[7, 8])
    ours = traces.trace_jacobian_exact_fast(field, z.shape, z.dtype)(0.3, (z, z))
    tfps = tfb.ffjord.trace_jacobian_exact(field, z.shape, z.dtype)(0.3, (z, z))
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
