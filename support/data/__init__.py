"""Data sets the notebooks learn from, with their true densities.

One module per data set, re-exported here so a notebook writes `data.<name>(...)`.
"""

__all__: list[str] = []
