"""Tested helpers behind the TensorFlow Probability notebook suite.

Importing `support` first keeps TensorFlow's start-up noise out of notebook outputs
(see `support.runtime`). Modules, one per topic:

* `runtime`: quiet logs, one seed, determinism, versions (every notebook)
* `training`: the one fit loop (01, 02; notebook 03 trains the Keras way)
* `history`, `storage`, `checkpoints`, `guards`, `steps`: behind `fit`, importing one way:
  the run's history, `checkpoint_dir` on disk (lock, free space), checkpoints and resume,
  divergence guards and Ctrl-C / SIGTERM, the public `train_step` (01, 02)
* `report`: headline numbers, tagged for the suite's report (every notebook)
* `parameters`: checks of the papermill parameters (every notebook)
* `estimate`: `Estimate(mean, stderr)` and `mean_and_stderr`, for every error bar (all)
* `batching`: chunked evaluation with bounded memory (02, 03, 04)
* `zoo`, `bijectors`, `fitting`: learnable distributions, the `PadEye` bijector, and fitting
  and inspecting them by maximum likelihood (01)
* `ode`, `traces`, `solvers`, `ffjord`, `flow_eval` (each imports only the ones before it):
  the MLP state derivative, the Jacobian trace estimators, the fixed-step XLA-compilable
  solver that is the FFJORD notebook's fast path, FFJORD stacks, and their exact-trace
  evaluation (02)
* `optimizers`: Adam with a cosine-decaying learning rate (02)
* `mdn`: the mixture density network and its mixture parameters (03)
* `estimators`: the old `tf.contrib.bayesflow` entropy and Monte Carlo ops on TF2 (04)
* `data`: moons (02) and cardioid (03) samplers with their true densities
* `plotting`: every figure the notebooks draw
* `source`: `show_source`, the exact source of a `support` piece shown on a notebook's page
  (every notebook that imports its lesson's code)

The developer tooling (papermill runs, golden cells, the gallery, the HTML report) is not
part of the package: it is the top-level `tools` package of a source checkout.
"""

from support import runtime  # first: sets TF_CPP_MIN_LOG_LEVEL

runtime.import_tensorflow_quietly()

from support.estimate import Estimate, mean_and_stderr
from support.parameters import (
    ParameterError,
    at_most,
    boolean,
    check_parameters,
    choice,
    integer,
    integers,
    real,
    within_memory,
)
from support.report import headline
from support.runtime import in_colab, print_versions, setup, versions
from support.source import show_source
from support.training import History, TrainingDiverged, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
    "Estimate",
    "History",
    "ParameterError",
    "at_most",
    "boolean",
    "check_parameters",
    "choice",
    "integer",
    "integers",
    "real",
    "within_memory",
    "TrainingDiverged",
    "fit",
    "headline",
    "in_colab",
    "make_optimizer",
    "mean_and_stderr",
    "print_versions",
    "setup",
    "show_source",
    "versions",
]
