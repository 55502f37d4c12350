import numpy as np
import pytest
import tensorflow as tf

from support.batching import map_in_chunks


def test_chunked_results_equal_one_call():
    x = np.random.default_rng(0).normal(size=(1000, 3))
    out = map_in_chunks(lambda c: tf.reduce_sum(c**2, axis=-1), x, chunk_size=128)
    np.testing.assert_allclose(out, np.sum(x**2, axis=-1))


def test_every_call_sees_the_same_shape_so_a_tf_function_traces_once():
    shapes = set()
    traces = []

    @tf.function
    def fn(c):
        traces.append(1)
        return c[:, 0]

    def spy(c):
        shapes.add(c.shape)
        return fn(c)

    out = map_in_chunks(spy, np.arange(1000.0).reshape(500, 2), chunk_size=64)
    assert shapes == {(64, 2)}
    assert len(traces) == 1
    np.testing.assert_array_equal(out, np.arange(0.0, 1000.0, 2.0))


def test_inputs_smaller_than_one_chunk_are_not_padded():
    out = map_in_chunks(lambda c: c * 2, np.ones((5, 2)), chunk_size=64)
    assert out.shape == (5, 2)


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True])
def test_a_bad_chunk_size_names_the_argument(chunk_size):
    with pytest.raises(ValueError, match="chunk_size"):
        map_in_chunks(lambda c: c, np.ones((4, 2)), chunk_size=chunk_size)


def test_empty_inputs_name_the_argument():
    with pytest.raises(ValueError, match="inputs"):
        map_in_chunks(lambda c: c, np.ones((0, 2)))
