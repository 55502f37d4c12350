"""Every figure the notebooks draw. Each helper takes an `ax` (or axes) and returns it.

One module per topic, all re-exported here so a notebook writes `plotting.<name>(...)`:

* `support.plotting.common`: training curves and shared styling (every notebook)
* `support.plotting.mdn`: data with samples, p(y | x) heatmaps, mixture parameters (03)
* `support.plotting.flows`: flow panels, warps over epochs, density heatmaps (02)
* `support.plotting.zoo`: fit curves and fitted-vs-true parameters (01)
* `support.plotting.estimators`: error against n, standard scores, Renyi bounds, alpha
  schedules, gradient spreads (04)
"""

from support.plotting.common import *  # noqa: F403
from support.plotting.common import __all__ as _common
from support.plotting.estimators import *  # noqa: F403
from support.plotting.estimators import __all__ as _estimators
from support.plotting.flows import *  # noqa: F403
from support.plotting.flows import __all__ as _flows
from support.plotting.mdn import *  # noqa: F403
from support.plotting.mdn import __all__ as _mdn
from support.plotting.zoo import *  # noqa: F403
from support.plotting.zoo import __all__ as _zoo

__all__ = [*_common, *_estimators, *_flows, *_mdn, *_zoo]
