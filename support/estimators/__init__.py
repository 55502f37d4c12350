"""The `tf.contrib.bayesflow` entropy and Monte Carlo ops, restored on TF 2 and tested.

Serves notebook 04 (entropy and Monte Carlo estimators). Modules:

* `monte_carlo`: `expectation`, `expectation_importance_sampler`,
  `expectation_importance_sampler_logspace` (and their helpers `_get_samples`,
  `_sample_mean`, `_logspace_mean`)
* `entropy`: `entropy_shannon`, `elbo_ratio`, `ELBOForms`
* `renyi`: `renyi_ratio`, `renyi_alpha`
* `surrogate`: `surrogate_loss` with explicit `StochasticNode`s, `score_function`,
  `get_mean_baseline`, `gradient_samples`
* `closed_forms`: Gaussian entropies and divergences, a conjugate model with a known
  evidence, quadrature entropy, `error_versus_n`, `error_slope`
* `reporting`: `report_estimate`, an estimate beside its closed form, checked

Every estimator keeps the original argument names (`f`, `log_p`, `q`, `z`, `n`, `seed`,
`form`, `alpha`), reduces over the sample axis only and takes `return_stderr=True` to also
return its Monte Carlo standard error.

Notebook 04 defines these ops in its own code cells (tagged `lesson:<module>`); the modules
hold the same definitions, character for character, each wrapped with argument checks
(`arguments.checked`) that the page does not show.
"""

from support.estimators.closed_forms import (
    NormalNormalModel,
    entropy_by_quadrature,
    error_slope,
    error_versus_n,
    fits_between_seeds,
    gaussian_entropy,
    gaussian_kl,
    gaussian_renyi_divergence,
    mvn_entropy,
)
from support.estimators.entropy import ELBOForms, elbo_ratio, entropy_shannon
from support.estimators.monte_carlo import (
    expectation,
    expectation_importance_sampler,
    expectation_importance_sampler_logspace,
)
from support.estimators.renyi import renyi_alpha, renyi_ratio
from support.estimators.reporting import report_estimate
from support.estimators.surrogate import (
    MeanBaseline,
    StochasticNode,
    get_mean_baseline,
    gradient_samples,
    score_function,
    surrogate_loss,
)

__all__ = [
    "ELBOForms",
    "MeanBaseline",
    "NormalNormalModel",
    "StochasticNode",
    "elbo_ratio",
    "entropy_by_quadrature",
    "entropy_shannon",
    "error_slope",
    "error_versus_n",
    "fits_between_seeds",
    "expectation",
    "expectation_importance_sampler",
    "expectation_importance_sampler_logspace",
    "gaussian_entropy",
    "gaussian_kl",
    "gaussian_renyi_divergence",
    "get_mean_baseline",
    "gradient_samples",
    "mvn_entropy",
    "renyi_alpha",
    "renyi_ratio",
    "report_estimate",
    "score_function",
    "surrogate_loss",
]
