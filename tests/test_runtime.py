import platform
import random
from importlib import metadata

import numpy as np
import pytest
import tensorflow as tf

from support import runtime


def test_same_seed_gives_the_same_python_numpy_and_tensorflow_draws():
    def draws():
        runtime.setup(123)
        return random.random(), np.random.rand(), float(tf.random.normal([]))  # noqa: NPY002

    assert draws() == draws()


def test_different_seeds_give_different_draws():
    runtime.setup(1)
    first = float(tf.random.normal([]))
    runtime.setup(2)
    assert float(tf.random.normal([])) != first


@pytest.mark.parametrize(
    ("seed", "error"),
    [(-1, ValueError), (1.5, TypeError), ("0", TypeError), (True, TypeError), (None, TypeError)],
)
def test_a_bad_seed_names_the_argument(seed, error):
    with pytest.raises(error, match="^seed must be"):
        runtime.setup(seed)


def test_versions_report_the_installed_stack():
    found = runtime.versions()
    assert found["python"] == platform.python_version()
    assert found["tensorflow"] == metadata.version("tensorflow")
    assert found["tensorflow_probability"] == metadata.version("tensorflow-probability")
    assert found["sonnet"] == metadata.version("dm-sonnet")


def test_print_versions_prints_one_aligned_line_per_package(capsys):
    runtime.print_versions()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(runtime.versions())
    assert len({line.index(line.split()[1]) for line in lines}) == 1


@pytest.mark.parametrize(
    "line",
    [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1795306132.916766    2334 port.cc:153] oneDNN custom operations are on.",
        "I0000 00:00:1795306132.917055    2334 cudart_stub.cc:31] Could not find cuda drivers",
        "E0000 00:00:1795306160.400540    2409 cuda_platform.cc:52] failed call to cuInit: X",
    ],
)
def test_known_start_up_notices_are_filtered(line):
    assert runtime._IMPORT_NOISE.search(line)


def test_other_stderr_lines_are_kept():
    assert not runtime._IMPORT_NOISE.search("ImportError: something real went wrong")


def test_tensorflow_logs_at_most_fatal_errors_from_cpp_by_default():
    import os

    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] in {"2", "3"}


def test_in_colab_is_true_only_when_colabs_module_is_loaded(monkeypatch):
    import sys
    import types

    import support

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert runtime.in_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert runtime.in_colab() is True
    assert support.in_colab is runtime.in_colab  # what notebooks reach as support.in_colab


def _rewrites_disabled():
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    config = config_pb2.ConfigProto()
    config.ParseFromString(context.context().function_call_options.config_proto_serialized)
    return config.graph_options.rewrite_options.disable_meta_optimizer


def test_without_graph_rewrites_switches_grappler_off_for_its_own_calls_only():
    seen = []

    @tf.function
    def double(x):
        seen.append(_rewrites_disabled())  # runs while tracing: inside the first call
        return 2.0 * x

    wrapped = runtime.without_graph_rewrites(double)
    before = _rewrites_disabled()
    assert float(wrapped(tf.constant(1.5))) == 3.0
    assert seen == [True]
    assert _rewrites_disabled() == before is False  # the caller's options are back
    # The wrapped function's own attributes pass through.
    assert wrapped.get_concrete_function(tf.constant(1.0)) is not None


def test_without_graph_rewrites_restores_the_options_when_the_call_fails():
    @tf.function
    def fails(x):
        raise ValueError("traced and refused")

    wrapped = runtime.without_graph_rewrites(fails)
    with pytest.raises(ValueError, match="traced and refused"):
        wrapped(tf.constant(1.0))
    assert not _rewrites_disabled()
