"""The TFP code each notebook teaches is in its code cells, where the learner reads it.

Each notebook's checks live in functions named after it. They read the stored notebook (no
execution) except where a cell's own code is run to see what it builds.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MDN_NOTEBOOK = ROOT / "notebooks" / "03_mdn_cardioid.ipynb"


def _code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _cell_containing(cells: list[str], text: str) -> str:
    found = [source for source in cells if text in source]
    assert found, f"no code cell contains {text!r}"
    return found[0]


# Notebook 03: the MDN built, trained and read the way the question did.


def test_mdn_notebook_code_cells_build_train_and_read_a_tfp_mixture_normal():
    code = "\n".join(_code_cells(MDN_NOTEBOOK))
    for text in [
        "tfp.layers.MixtureNormal(",
        "MixtureNormal.params_size(",
        "tf_keras.Sequential(",
        ".compile(",
        "-rv.log_prob(y)",
        ".fit(",
        "x[:, np.newaxis]",
        "mixture_distribution.probs_parameter()",
        "components_distribution.mean()",
        "components_distribution.variance()",
        "components_distribution.stddev()",
        "convert_to_tensor_fn=tfd.Distribution.mean",
    ]:
        assert text in code, f"notebook 03's code cells do not contain {text!r}"


def test_mdn_notebook_model_is_built_in_a_cell_of_its_own_not_by_a_support_builder():
    cells = _code_cells(MDN_NOTEBOOK)
    assert not any("build_mdn(" in source for source in cells)
    model_cell = _cell_containing(cells, "model = tf_keras.Sequential(")
    assert "tfp.layers.MixtureNormal(" in model_cell
    assert "model.summary(" in model_cell


def test_mdn_notebook_default_model_summary_lists_a_mixture_normal_layer(capsys):
    import numpy as np  # noqa: F401  (names the cells use)
    import tensorflow_probability as tfp
    import tf_keras

    cells = _code_cells(MDN_NOTEBOOK)
    parameters = next(c for c in nbformat.read(MDN_NOTEBOOK, as_version=4).cells if
                      "parameters" in c.metadata.get("tags", []))  # fmt: skip
    namespace = {"np": np, "tfp": tfp, "tf_keras": tf_keras, "tfpl": tfp.layers,
                 "tfd": tfp.distributions}  # fmt: skip
    exec(parameters.source, namespace)  # the defaults, as stored
    exec(_cell_containing(cells, "model = tf_keras.Sequential("), namespace)
    summary = capsys.readouterr().out
    assert "(MixtureNormal)" in summary, summary
    model = namespace["model"]
    assert isinstance(model.layers[-1], tfp.layers.MixtureNormal)
    assert [layer.units for layer in model.layers[:-2]] == namespace["HIDDEN_SIZES"]
    size = tfp.layers.MixtureNormal.params_size(namespace["NUM_COMPONENTS"], [1])
    assert model.layers[-2].units == size


def test_mdn_notebook_checks_the_tested_wrapper_against_the_raw_calls():
    cell = _cell_containing(_code_cells(MDN_NOTEBOOK), "mdn.mixture_params(gm)")
    for name in ["weights", "means", "stddevs"]:
        assert re.search(rf"assert_\w+\(at_1\.{name}, {name}", cell), name


def test_mdn_notebook_sanity_checks_are_not_true_by_construction():
    cell = _cell_containing(_code_cells(MDN_NOTEBOOK), "all sanity checks passed")
    assert "weights.sum(" not in cell  # a softmax always sums to one
    assert "SCALE_FLOOR" not in cell  # a floored scale is always above its floor
    assert "gap.mean > -4 * gap.stderr" in cell  # the paired gap, not two summed errors
    assert "true_bottom" in cell  # the weights put the true mass on the bottom branch
