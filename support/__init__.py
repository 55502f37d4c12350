"""Tested helpers behind the TensorFlow Probability notebook suite.

Importing `support` first keeps TensorFlow's start-up noise out of notebook outputs
(see `support.runtime`). Modules, one per topic:

* `runtime`: quiet logs, one seed, determinism, versions (every notebook)
* `training`: the one fit loop (every notebook)
* `history`, `checkpoints`, `guards`, `steps`: behind `fit`, importing one way: the run's
  history, checkpoints and resume, divergence guards, the public `train_step` (every notebook)
* `report`: headline numbers and the suite's HTML report (every notebook)
* `parameters`: checks of the papermill parameters (every notebook)
* `batching`: chunked evaluation with bounded memory (02, 03, 04)
* `zoo`, `bijectors`, `fitting`: learnable distributions, the `PadEye` bijector, and fitting
  and inspecting them by maximum likelihood (01)
* `ode`, `ffjord`, `flow_eval`, `solvers`: the MLP state derivative, FFJORD stacks, their
  exact-trace evaluation, and the fixed-step XLA-compilable solver that is the FFJORD
  notebook's fast path (02)
* `mdn`: the mixture density network and its mixture parameters (03)
* `estimators`: the old `tf.contrib.bayesflow` entropy and Monte Carlo ops on TF2 (04)
* `data`: moons (02) and cardioid (03) samplers with their true densities
* `plotting`: every figure the notebooks draw
* `nbtools`: papermill parameters, smoke runs, golden cells (the nox sessions)
"""

from support import runtime  # first: sets TF_CPP_MIN_LOG_LEVEL

runtime.import_tensorflow_quietly()

from support.parameters import (
    ParameterError,
    boolean,
    check_parameters,
    choice,
    integer,
    integers,
    real,
)
from support.report import headline
from support.runtime import in_colab, print_versions, setup, versions
from support.training import History, TrainingDiverged, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
    "History",
    "ParameterError",
    "boolean",
    "check_parameters",
    "choice",
    "integer",
    "integers",
    "real",
    "TrainingDiverged",
    "fit",
    "headline",
    "in_colab",
    "make_optimizer",
    "print_versions",
    "setup",
    "versions",
]
