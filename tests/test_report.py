"""Tests of support.report: the headline numbers a notebook shows and tags for the results page."""

import pytest

from support import report
from support.estimate import Estimate


def test_headline_outside_a_kernel_prints_value_and_reference(capsys):
    record = report.headline(
        "held-out NLL", 0.5123, reference=0.478, reference_name="entropy floor", unit="nats"
    )
    out = capsys.readouterr().out
    assert "held-out NLL: 0.5123 nats" in out
    assert "entropy floor: 0.478" in out
    assert record["value"] == pytest.approx(0.5123)


def test_headline_shows_the_standard_error():
    assert "± 0.01" in report._headline_text(
        {"name": "x", "value": 1.0, "stderr": 0.01, "unit": "", "reference": None}
    )


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": "", "value": 1.0}, "name"),
        ({"name": "x", "value": "abc"}, "value"),
        ({"name": "x", "value": 1.0, "reference": [1, 2]}, "reference"),
        ({"name": "x", "value": 1.0, "stderr": object()}, "stderr"),
    ],
)
def test_headline_rejects_bad_input_by_name(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        report.headline(**kwargs)


def test_headline_takes_an_estimate_with_its_standard_error(capsys):
    record = report.headline("held-out NLL", Estimate(0.51, 0.016), unit="nats")
    assert (record["value"], record["stderr"]) == (0.51, 0.016)
    assert "held-out NLL: 0.51 ± 0.016 nats" in capsys.readouterr().out
    with pytest.raises(ValueError, match="stderr"):
        report.headline("x", Estimate(0.51, 0.016), stderr=0.1)


def test_format_number_keeps_four_significant_digits_and_non_finite_values():
    assert report.format_number(0.084694187) == "0.08469"
    assert report.format_number(float("nan")) == "nan"
    assert report.format_number(None) == ""


def test_headline_with_decimals_prints_every_number_with_that_many(capsys):
    report.headline("gap", Estimate(0.0027871, 0.00142), reference=1.23456, decimals=3)
    assert "gap: 0.003 ± 0.001  (reference: 1.235)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="decimals"):
        report.headline("gap", 1.0, decimals=-1)
