"""Tested helpers behind the TensorFlow Probability notebook suite.

Importing `support` first keeps TensorFlow's start-up noise out of notebook outputs (see
`support.runtime`). The packages, by concern (CONTRIBUTING.md's "Layers" says which may import
which):

* core modules: `runtime` (quiet logs, one seed, versions), `parameters` (the papermill
  parameter checks), `report` (headline numbers), `estimate` (error bars), `batching` (chunked
  evaluation)
* `data`: the moons and cardioid samplers with their true densities (02, 03)
* `training`: `fit`, the one training loop, and its safety nets (01, 02)
* `flows`: the FFJORD field, trace estimators, solvers, stacks and evaluation (02)
* `distributions`: the zoo's learnable distributions, `PadEye`, normal mixtures, fitting (01, 03)
* `mdn`: the mixture density networks (03)
* `estimators`: the old `tf.contrib.bayesflow` entropy and Monte Carlo ops on TF2 (04)
* `plotting`: every figure the notebooks draw

A notebook's lesson code is defined in its own cells (tagged `lesson:<module>`); the module it
names holds the same definitions. The developer tooling (papermill runs, golden cells, the
site, sweeps) is not part of the package: it is the top-level `tools` package of a checkout.
"""

from support import runtime  # first: sets TF_CPP_MIN_LOG_LEVEL

runtime.import_tensorflow_quietly()

from support.estimate import Estimate, mean_and_stderr
from support.parameters import (
    ParameterError,
    accepted_by,
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
from support.training import History, TrainingDiverged, fit, make_optimizer

__version__ = "0.1.0"

__all__ = [
    "Estimate",
    "History",
    "ParameterError",
    "accepted_by",
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
    "versions",
]
