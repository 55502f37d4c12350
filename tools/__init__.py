"""Developer tooling behind the nox sessions; not imported by the notebooks."""
