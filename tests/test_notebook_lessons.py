"""Each notebook's lesson is on its page: the TFP calls it teaches appear in its code cells.

Reads the committed notebooks (nothing runs); the notebook runs themselves check that the
calls give the right numbers.
"""

import re
from pathlib import Path

import nbformat
import pytest

import support.estimators

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_04 = ROOT / "notebooks" / "04_entropy_monte_carlo.ipynb"

# The bayesflow ops restored in support.estimators, each of which the notebook's table maps
# to TFP 0.25 (or says that TFP has none).
RESTORED_OPS = (
    "expectation",
    "expectation_importance_sampler",
    "expectation_importance_sampler_logspace",
    "entropy_shannon",
    "elbo_ratio",
    "renyi_ratio",
    "renyi_alpha",
    "surrogate_loss",
    "get_mean_baseline",
)


def _cells(path, cell_type):
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == cell_type]


def _code_04():
    return "\n".join(_cells(NOTEBOOK_04, "code"))


@pytest.mark.parametrize(
    "call",
    [
        "tfp.monte_carlo.expectation(",
        "tfp.vi.monte_carlo_variational_loss(",
        "tfp.vi.kl_reverse",
        "tfp.vi.amari_alpha(",
        "tfp.vi.squared_hellinger(",
        ".entropy()",
        "tfd.kl_divergence(",
        "tfp.math.ode.DormandPrince(",
        "tfp.math.ode.BDF(",
    ],
)
def test_notebook_04_runs_tfps_own_equivalent_in_a_code_cell(call):
    assert call in _code_04(), f"notebook 04 never calls {call}"


def test_notebook_04_feeds_tfps_loss_the_same_samples_through_its_seed():
    code = _code_04()
    assert "tfp.random.split_seed(" in code
    assert "use_reparameterization=False" in code  # the score-function gradient, TFP's way


def test_notebook_04_table_maps_every_restored_op_to_tfp():
    table_rows = [
        line
        for text in _cells(NOTEBOOK_04, "markdown")
        for line in text.splitlines()
        if line.startswith("| `")
    ]
    for op in RESTORED_OPS:
        assert op in support.estimators.__all__, f"{op} is not a restored op any more"
        rows = [row for row in table_rows if re.match(rf"\| `-?{op}\(", row) or f"`{op}`" in row]
        assert rows, f"no table row for {op} in notebook 04"
    assert any("tf.contrib.integrate.odeint" in row for row in table_rows)


def test_notebook_04_asserts_the_error_falls_like_one_over_root_n():
    code = _code_04()
    assert "np.polyfit(" in code
    assert re.search(r"assert abs\(slope \+ 0\.5\) <= \d+(\.\d+)? \* slope_se", code)


@pytest.mark.parametrize(
    "claim",
    [
        "assert not np.isfinite(float(plain_mgf))",  # held by the parameter rule alone
        "matches TFP's registered KL",  # checked TFP, not the notebook's op
    ],
)
def test_notebook_04_has_no_claim_that_cannot_fail(claim):
    assert claim not in _code_04()
