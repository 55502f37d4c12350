"""Every figure the notebooks draw. Each helper takes an `ax` (or axes) and returns it.

One module per topic, all re-exported here so a notebook writes `plotting.<name>(...)`:

* `support.plotting.common`: training curves and shared styling (every notebook)
"""

from support.plotting.common import *  # noqa: F403
from support.plotting.common import __all__ as _common

__all__ = [*_common]
