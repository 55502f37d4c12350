"""Runtime set-up shared by every notebook: quiet logs, one seed, determinism, versions.

Import this module (or anything from `support`) before TensorFlow so that TF's C++ start-up
noise (CUDA probing, oneDNN notices) stays out of the notebooks' outputs.
"""

from __future__ import annotations

import os

# Must happen before TensorFlow is imported anywhere. Level 3 also hides C++ "errors" that
# are only notices on a CPU machine (e.g. oneDNN's int32 fallback); failures still surface
# as Python exceptions. Set TF_CPP_MIN_LOG_LEVEL yourself before importing to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import importlib
import logging
import platform
import random
import re
import sys
import tempfile
import warnings

import numpy as np

from support import _checks

__all__ = [
    "in_colab",
    "import_tensorflow_quietly",
    "setup",
    "versions",
    "print_versions",
    "without_graph_rewrites",
]

# C++ start-up notices that TensorFlow writes straight to file descriptor 2 (so Jupyter
# shows them in a cell's output) whatever TF_CPP_MIN_LOG_LEVEL says.
_IMPORT_NOISE = re.compile(
    r"absl::InitializeLog|port\.cc:\d+\] oneDNN|cudart_stub\.cc|cuda_(dnn|fft|blas)\.cc"
    r"|cpu_feature_guard\.cc|To enable the following instructions|computation_placer\.cc"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|failed call to cuInit"
)

_REPORTED_PACKAGES = (
    "tensorflow",
    "tensorflow_probability",
    "tf_keras",
    "sonnet",
    "numpy",
    "sklearn",
    "matplotlib",
    "seaborn",
)


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def import_tensorflow_quietly():
    """Imports TensorFlow and TFP, dropping only their known start-up notices.

    Anything else written to stderr during the import (a real error or warning) is passed
    on unchanged. Returns the `tensorflow` module.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    try:
        stderr_fd = sys.__stderr__.fileno()
    except (AttributeError, ValueError, OSError):  # no real stderr: nothing to filter
        import tensorflow

        return tensorflow
    sys.__stderr__.flush()
    saved = os.dup(stderr_fd)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            import tensorflow
            import tensorflow_probability  # noqa: F401  (prints the same notices again)

            tensorflow.config.list_physical_devices()  # device probing notices
        finally:
            os.dup2(saved, stderr_fd)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
    kept = [line for line in text.splitlines() if line and not _IMPORT_NOISE.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
    return tensorflow


def _quiet_python_warnings() -> None:
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    for module in ("tensorflow_probability", "tf_keras", "keras", "tensorflow"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=UserWarning, module=module)


def setup(seed: int = 0, *, deterministic: bool = True, quiet: bool = True) -> int:
    """Seeds Python, NumPy and TensorFlow from one seed and quiets the logs.

    Args:
      seed: non-negative integer seed used for `random`, `numpy.random` and TensorFlow.
      deterministic: opt into TensorFlow's deterministic ops, so that two runs with the same
        seed give the same numbers on the same machine.
      quiet: lower TensorFlow's and absl's Python log levels to errors.

    Returns:
      The seed, so a notebook can write `SEED = setup(SEED)`.

    Raises:
      TypeError: if `seed` is not an integer.
      ValueError: if `seed` is negative.
    """
    seed = _checks.seed("seed", seed)
    tf = import_tensorflow_quietly()

    if quiet:
        _quiet_python_warnings()
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global RNG users call directly)
    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return seed


def without_graph_rewrites(function):
    """`function` (a `tf.function`) called with Grappler, TensorFlow's graph rewriter, off.

    A `tf.function`'s graph is rewritten by Grappler when it is first called, which takes
    time in proportion to its size. For a graph whose work is an XLA-compiled function plus a
    few hundred small ops around it (`support.training.steps.Step.update` with `jit_compile`: the
    finite checks and the optimizer's update), that rewrite shortens no later call and adds
    about 0.2-0.4 s to the first (`benchmarks/README.md`). TensorFlow takes the setting from
    the calling thread's function-call options when it first runs each traced graph; this
    wrapper sets them (the wrapping thread's, with Grappler off) for its own calls only and
    puts the caller's back afterwards, so other functions keep Grappler. Attributes other than
    calling (`get_concrete_function`, ...) are `function`'s. The options live in TensorFlow's
    own `context` module, not its public API: on a TensorFlow without them, `function` is
    returned as it is (and `tests/test_runtime.py` and `tests/training/test_steps.py` fail, so the
    loss is seen).
    """
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    if not hasattr(context, "FunctionCallOptions") or not hasattr(
        context.Context, "function_call_options"
    ):
        return function

    defaults = context.context().function_call_options
    config = config_pb2.ConfigProto()
    config.ParseFromString(defaults.config_proto_serialized)
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    options = context.FunctionCallOptions(defaults.executor_type, config)

    class Wrapped:
        def __call__(self, *args, **kwargs):
            current = context.context()
            saved = current.function_call_options
            current.function_call_options = options
            try:
                return function(*args, **kwargs)
            finally:
                current.function_call_options = saved

        def __getattr__(self, name):
            return getattr(function, name)

    return Wrapped()


def versions() -> dict[str, str]:
    """Versions of Python and of the packages the notebooks rely on."""
    found = {"python": platform.python_version()}
    for name in _REPORTED_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            found[name] = "not installed"
            continue
        found[name] = str(getattr(module, "__version__", "unknown"))
    return found


def print_versions() -> None:
    """Prints `versions()` as an aligned table (the last cell of every notebook)."""
    table = versions()
    width = max(len(name) for name in table)
    for name, version in table.items():
        print(f"{name:<{width}}  {version}")
