"""Developer tooling of the notebook suite, behind the nox sessions: not part of `support`.

`python -m tools <command>` (see `tools/__main__.py`):

* `run`: executes the notebooks with papermill into `build/notebooks/` (`nox -s notebooks`,
  the main job, which then builds the site from them);
* `prepare`: injects the smoke parameters without executing, into `build/prepared/`, for
  `pytest --nbval-lax` (`nox -s tests`);
* `goldens`: re-records the golden cells (tagged `nbval-check-output`) from a smoke run
  (`nox -s goldens`);
* `gallery`: refreshes the README's `docs/gallery/` from a default run (`nox -s gallery`);
* `list`: each notebook's parameters.
* `sweep`: one notebook over a grid of parameters times seeds, here or on Dask
  (`nox -s sweep`; the package `tools/sweep/`);
* `l10n`: updates the translations' catalogs (`locales/`) and translated notebooks
  (`notebooks/<lang>/`) from the English, checks them and counts what is translated
  (`nox -s l10n`; the package `tools/l10n/`).

Modules: `notebooks` (finding notebooks, the one parser of a parameters cell, smoke sets,
papermill), `goldens`, `gallery`, and `site` with `site_results` (the static site of the
executed notebooks, its results page and each notebook's key figure: `python -m tools.site`,
`nox -s site`). The tooling lives in a source checkout only: it is not in the wheel. The site's
modules need neither TensorFlow nor `support`: they keep their own copy of the headline
format a kernel writes (`support.report`), and a test pins the two together.
"""
