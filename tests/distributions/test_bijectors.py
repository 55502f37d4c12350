import inspect

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support.distributions.bijectors import PadEye

tfb = tfp.bijectors

EVENT = 4
TRIL = EVENT * (EVENT + 1) // 2


def test_pad_eye_forward_prepends_the_row_that_the_tril_bijector_maps_to_identity(dtype):
    tril = tfb.FillScaleTriL(diag_shift=tf.constant(1e-5, dtype))
    x = tf.random.stateless_normal([5, 2, TRIL], seed=(7, 8), dtype=dtype)
    y = PadEye(tril).forward(x)
    assert y.shape == (5, 3, TRIL)
    assert y.dtype == dtype
    np.testing.assert_allclose(
        tril.forward(y[:, 0]).numpy(), np.broadcast_to(np.eye(EVENT), (5, EVENT, EVENT)), atol=1e-6
    )
    np.testing.assert_array_equal(y[:, 1:].numpy(), x.numpy())


def _tril(dtype):
    """`FillScaleTriL` with its diagonal shift in `dtype`, as a float64 chain needs it."""
    return tfb.FillScaleTriL(diag_shift=tf.constant(1e-5, dtype))


def test_pad_eye_round_trips(dtype):
    bijector = PadEye(_tril(dtype))
    x = tf.random.stateless_normal([3, TRIL], seed=(9, 10), dtype=dtype)
    np.testing.assert_array_equal(bijector.inverse(bijector.forward(x)).numpy(), x.numpy())


def test_pad_eye_log_det_jacobian_is_zero_both_ways(dtype):
    bijector = PadEye(_tril(dtype))
    x = tf.random.stateless_normal([4, 2, TRIL], seed=(11, 12), dtype=dtype)
    forward = bijector.forward_log_det_jacobian(x, event_ndims=2)
    inverse = bijector.inverse_log_det_jacobian(bijector.forward(x), event_ndims=2)
    np.testing.assert_array_equal(np.broadcast_to(forward.numpy(), (4,)), 0.0)
    np.testing.assert_array_equal(np.broadcast_to(inverse.numpy(), (4,)), 0.0)
    assert forward.dtype == dtype and inverse.dtype == dtype


def test_pad_eye_event_shapes_grow_and_shrink_along_the_rows_axis():
    bijector = PadEye(tfb.FillScaleTriL())
    assert bijector.forward_event_shape([2, TRIL]) == [3, TRIL]
    assert bijector.inverse_event_shape([3, TRIL]) == [2, TRIL]
    assert bijector.forward_event_shape(tf.TensorShape([None, None])).as_list() == [None, None]
    assert bijector.inverse_event_shape(tf.TensorShape([7, None, TRIL])) == [7, None, TRIL]
    assert bijector.forward_event_shape(tf.TensorShape(None)).rank is None
    np.testing.assert_array_equal(bijector.forward_event_shape_tensor([7, 2, TRIL]), [7, 3, TRIL])
    np.testing.assert_array_equal(bijector.inverse_event_shape_tensor([7, 3, TRIL]), [7, 2, TRIL])


@pytest.mark.parametrize("event_size", [1, 2, 5])
def test_pad_eye_works_with_unknown_batch_and_row_sizes_inside_tf_function(event_size):
    entries = event_size * (event_size + 1) // 2
    tril = tfb.FillScaleTriL()
    bijector = PadEye(tril)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32)])
    def forward(x):
        return tril.forward(bijector.forward(x))

    scales = forward(tf.zeros([3, 2, entries])).numpy()
    assert scales.shape == (3, 3, event_size, event_size)
    np.testing.assert_allclose(
        scales[:, 0], np.broadcast_to(np.eye(event_size), (3,) + (event_size,) * 2), atol=1e-6
    )


def test_pad_eye_rejects_a_non_bijector_naming_the_argument():
    with pytest.raises(TypeError, match="^tril must be a tfp Bijector, got str"):
        PadEye("softplus")


def test_pad_eye_needs_no_private_tfp_module_and_reads_sizes_at_run_time():
    text = inspect.getsource(PadEye)
    assert "prefer_static" not in text
    assert "tensorflow_probability.python" not in text
    assert "tf.shape(x)" in text


def test_pad_eye_prepends_the_identity_row_in_the_inputs_dtype(dtype):
    tril = _tril(dtype)
    y = PadEye(tril).forward(tf.zeros([2, TRIL], dtype))
    assert y.dtype == dtype
    np.testing.assert_allclose(tril.forward(y[0]).numpy(), np.eye(EVENT), atol=1e-6)
