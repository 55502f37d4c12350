"""`report_estimate` shows each element beside its closed form and checks k standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from support import estimators as est


def test_report_estimate_prints_each_element_and_returns_scores(capsys):
    scores = est.report_estimate("H", [1.0, 2.2], [0.1, 0.1], [1.1, 2.0], labels=["a", "b"])
    np.testing.assert_allclose(scores, [-1.0, 2.0])
    out = capsys.readouterr().out
    assert "H [a]: 1.00 ± 0.10  (closed form: 1.10)" in out
    assert "H [b]: 2.20" in out


def test_report_estimate_shows_digits_down_to_the_standard_error(capsys):
    est.report_estimate("log evidence", -1429.19234, 0.0032, -1429.19031)
    est.report_estimate("tail", 2.827e-7, 4.8e-9, 2.867e-7)
    out = capsys.readouterr().out
    assert "log evidence: -1429.1923 ± 0.0032  (closed form: -1429.1903)" in out
    assert "tail: 2.827e-07 ± 4.8e-09  (closed form: 2.867e-07)" in out


def test_report_estimate_fails_beyond_k_standard_errors():
    with pytest.raises(AssertionError, match="more than 4"):
        est.report_estimate("KL", 1.5, 0.1, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stderr": 0.0}, "stderr must be positive"),
        ({"stderr": [0.1, 0.1]}, "stderr must match"),
        ({"labels": ["a", "b"]}, "labels must have 1"),
        ({"k": 0}, "k must be positive"),
    ],
)
def test_report_estimate_refuses_bad_input(kwargs, message):
    arguments = {"name": "x", "estimate": 1.0, "stderr": 0.1, "truth": 1.0, **kwargs}
    with pytest.raises(ValueError, match=message):
        est.report_estimate(**arguments)
