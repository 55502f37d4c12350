"""Developer tooling of the notebook suite, behind the nox sessions: not part of `support`.

`python -m tools <command>` (see `tools/__main__.py`):

* `run`: executes the notebooks with papermill into `build/notebooks/`, renders each to HTML
  and writes the report `build/index.html` (`nox -s notebooks`, the main job);
* `prepare`: injects the smoke parameters without executing, into `build/prepared/`, for
  `pytest --nbval-lax` (`nox -s tests`);
* `goldens`: re-records the golden cells (`# NBVAL_CHECK_OUTPUT`) from a smoke run
  (`nox -s goldens`);
* `gallery`: refreshes the README's `docs/gallery/` from a default run (`nox -s gallery`);
* `report`: rewrites the report from executed notebooks; `list`: each notebook's parameters.

Modules: `notebooks` (finding notebooks, the one parser of a parameters cell, smoke sets,
papermill), `goldens`, `report` (collecting headlines and figures, the HTML page),
`gallery`, and `site` with `site_results` (the static site: `python -m tools.site`,
`nox -s site`). The tooling lives in a source checkout only: it is not in the wheel, and it reads
`support` only for the headline format a kernel writes (`support.report`).
"""
