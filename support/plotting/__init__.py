"""Every figure the notebooks draw. Each helper takes an `ax` (or axes) and returns it.

One module per topic, all re-exported here so a notebook writes `plotting.<name>(...)`:

* `support.plotting.common`: training curves and shared styling (every notebook)
* `support.plotting.mdn`: data with samples, p(y | x) heatmaps, mixture parameters (03)
"""

from support.plotting.common import *  # noqa: F403
from support.plotting.common import __all__ as _common
from support.plotting.mdn import *  # noqa: F403
from support.plotting.mdn import __all__ as _mdn

__all__ = [*_common, *_mdn]
