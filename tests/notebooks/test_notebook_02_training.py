"""Notebook 02 trains the chain it shows.

The page's cells, run in this process at a small size up to the one that defines
`training_loss` (what `support.fit` trains): with the fixed-step solver and the exact trace
it is the fused loss, checked by the page against the chain; with Hutchinson's trace there is
no fused loss, and it must be the loss of the page's own `train_distribution` (the penalised
chain built in the training cell), not a chain `support` builds behind the page.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from notebook_cells import cell_python

from support.flows.ffjord import FFJORDFlow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "02_ffjord_moons.ipynb"
SMALL = {
    "NUM_TRAIN": 256,
    "BATCH_SIZE": 64,
    "NUM_FLOWS": 2,
    "HIDDEN_SIZES": [8],
    "EPOCHS": 2,
    "NUM_HELD_OUT": 64,
    "GRID_SIZE": 30,
}
SKIPPED = ("plt.show()", "Image(")  # drawing
PRINTING = "nbval-check-output"  # the golden cells only print


def _run_page_until(text: str, parameters: dict, edits: dict | None = None) -> dict:
    """Runs the code cells in page order, the parameters overridden, up to the cell holding
    `text`; cells that only draw or print are left out. `edits` replaces text in the cells, as
    a learner editing the page would (each must be found)."""
    cells = [c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]
    edits = dict(edits or {})
    namespace: dict = {"__name__": "__notebook__"}
    for cell in cells:
        source = cell.source
        for old in [old for old in edits if old in source]:
            source = source.replace(old, edits.pop(old))
        printing = PRINTING in cell.metadata.get("tags", [])
        if (printing or any(mark in source for mark in SKIPPED)) and text not in source:
            continue
        exec(compile(cell_python(source), str(NOTEBOOK), "exec"), namespace)  # noqa: S102
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(parameters)  # after the defaults, as papermill injects them
        if text in source:
            assert not edits, f"not in the cells before {text!r}: {list(edits)}"
            return namespace
    raise AssertionError(f"no code cell of {NOTEBOOK.name} contains {text!r}")


def _refused(*_args, **_kwargs):
    raise AssertionError("support built its own training chain instead of the page's")


@pytest.mark.slow
def test_without_a_fused_loss_fit_trains_the_pages_penalised_chain(monkeypatch):
    monkeypatch.setattr(FFJORDFlow, "with_trace", _refused)  # the chain support would build
    page = _run_page_until("def training_loss(", {**SMALL, "TRACE": "hutchinson"})
    assert not page["fused"] and page["KINETIC"] > 0  # the default penalty, no fused loss
    batch = next(iter(page["dataset"]))

    page["generator"].reset_from_seed(7)  # the same probes for both
    trained = page["training_loss"](batch).numpy()
    page["generator"].reset_from_seed(7)
    chain = -tf.reduce_mean(page["train_distribution"].log_prob(batch)).numpy()
    page["generator"].reset_from_seed(7)
    plain = -tf.reduce_mean(page["distribution"].log_prob(batch)).numpy()
    np.testing.assert_allclose(trained, chain, rtol=1e-6)
    assert trained > plain + 1e-4, (trained, plain)  # the penalty is in what fit trains


@pytest.mark.slow
def test_with_the_fused_loss_fit_trains_it_after_the_page_checked_it(monkeypatch):
    calls = []
    fused_loss = FFJORDFlow.loss
    monkeypatch.setattr(FFJORDFlow, "loss", lambda *a, **k: calls.append(1) or fused_loss(*a, **k))
    page = _run_page_until("def training_loss(", SMALL)
    assert page["fused"]  # the page checks it against the chain in its closing section
    calls.clear()
    batch = next(iter(page["dataset"]))
    trained = page["training_loss"](batch)
    assert calls, "training_loss did not use the fused loss"
    chain = -tf.reduce_mean(page["train_distribution"].log_prob(batch))
    np.testing.assert_allclose(trained.numpy(), chain.numpy(), rtol=1e-4)


@pytest.mark.slow
def test_a_learner_who_swaps_in_tfps_hutchinson_trains_and_is_scored_with_it():
    edit = {"traces.augmentation_for(TRACE, generator)": "tfb.ffjord.trace_jacobian_hutchinson"}
    page = _run_page_until("def training_loss(", SMALL, edit)
    assert page["flow"].trace == "hutchinson"  # read from the chain, not from TRACE
    assert not page["fused"]  # the fused loss computes the exact trace: not used
    batch = next(iter(page["dataset"]))
    tf.random.set_seed(7)  # TFP's estimator draws its probes from the global seed
    trained = page["training_loss"](batch).numpy()
    tf.random.set_seed(7)
    chain = -tf.reduce_mean(page["train_distribution"].log_prob(batch)).numpy()
    np.testing.assert_allclose(trained, chain, rtol=1e-6)
