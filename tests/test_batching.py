import numpy as np
import pytest
import tensorflow as tf
from python_child import run_python

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


@pytest.mark.parametrize(
    ("chunk_size", "error"),
    [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)],
)
def test_a_bad_chunk_size_names_the_argument(chunk_size, error):
    with pytest.raises(error, match="^chunk_size must be"):
        map_in_chunks(lambda c: c, np.ones((4, 2)), chunk_size=chunk_size)


@pytest.mark.parametrize("fn", [None, "log_prob", 3])
def test_fn_that_is_not_callable_is_named_before_any_work(fn):
    with pytest.raises(TypeError, match="^fn must be callable"):
        map_in_chunks(fn, np.ones((4, 2)))


def test_empty_inputs_name_the_argument():
    with pytest.raises(ValueError, match="inputs"):
        map_in_chunks(lambda c: c, np.ones((0, 2)))


def test_fn_must_return_one_row_per_input_row():
    with pytest.raises(ValueError, match="one row per input row"):
        map_in_chunks(lambda c: tf.reduce_sum(c), np.ones((10, 2)), chunk_size=4)


# A log_prob over 10 million 2-D points, in a fresh process so that nothing else lives in
# its heap. The child reports its peak resident memory (RSS: TensorFlow's allocations
# included) above what it held just before the call: the Linux high-water mark VmHWM after
# resetting it, and a psutil sampler every millisecond as a cross-check.
_PEAK_MEMORY_CHILD = """
import sys, threading, time
import numpy as np
import psutil
from support import runtime
tf = runtime.import_tensorflow_quietly()
import tensorflow_probability as tfp
from support.batching import map_in_chunks

tfd = tfp.distributions
points, chunk = int(sys.argv[1]), int(sys.argv[2])
mixture = tfd.MixtureSameFamily(
    tfd.Categorical(logits=[0.0, 0.5, 1.0]),
    tfd.MultivariateNormalDiag(
        loc=[[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]],
        scale_diag=[[1.0, 1.0], [0.5, 2.0], [1.0, 0.3]],
    ),
)
log_prob = tf.function(mixture.log_prob)
x = np.random.default_rng(int(sys.argv[3])).normal(size=(points, 2)).astype("float32")
expected = mixture.log_prob(x[:1000]).numpy()
log_prob(x[:chunk])  # trace outside the measurement

def high_water_mark():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None

try:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current RSS
except OSError:
    pass
process = psutil.Process()
before = process.memory_info().rss
sampled = [before]
done = threading.Event()

def sample():
    while not done.is_set():
        sampled[0] = max(sampled[0], process.memory_info().rss)
        time.sleep(0.001)

sampler = threading.Thread(target=sample)
sampler.start()
out = map_in_chunks(log_prob, x, chunk_size=chunk)
done.set()
sampler.join()
hwm = high_water_mark()
peak = max(sampled[0], hwm or 0, process.memory_info().rss)
ok = out.shape == (points,) and bool(np.isfinite(out).all())
ok = ok and bool(np.allclose(out[:1000], expected, rtol=1e-5, atol=1e-5))
print(peak - before, out.nbytes, int(ok))
"""


@pytest.mark.slow
def test_a_log_prob_over_ten_million_points_stays_under_a_stated_peak_memory(seed):
    """Peak RSS growth <= the result array + 32 MiB.

    The result (10 million float32, 38 MiB) must exist, so that is the floor; what chunking
    bounds is the rest: one chunk of 65,536 rows is 0.5 MiB of input and about 1.5 MiB per
    [chunk, 3, 2] intermediate of the mixture's log_prob, a dozen of which stay well under
    the 32 MiB allowance, which also covers allocator slack. Measured on a 2-core CPU:
    27-45 MiB of growth in total. For scale, one call on all 10 million points grows the
    peak by about 630 MiB, and collecting the chunks and concatenating them (the previous
    version) by about 78 MiB, so either would fail this bound.
    """
    points, chunk = 10_000_000, 65_536
    output = run_python("-c", _PEAK_MEMORY_CHILD, points, chunk, seed)
    growth, result_bytes, ok = (int(v) for v in output.split()[-3:])
    assert ok == 1, "the chunked log_prob disagrees with a direct call or is not finite"
    assert result_bytes == points * 4
    bound = result_bytes + 32 * 2**20
    assert growth <= bound, f"peak RSS grew by {growth / 2**20:.1f} MiB > {bound / 2**20:.1f} MiB"
