"""Data sets the notebooks learn from, with their true densities.

One module per data set, re-exported here so a notebook writes `data.<name>(...)`.
"""

from support.data.cardioid import *  # noqa: F403
from support.data.cardioid import __all__ as _cardioid
from support.data.moons import *  # noqa: F403
from support.data.moons import __all__ as _moons

__all__: list[str] = [*_cardioid, *_moons]
