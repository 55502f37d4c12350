"""`support.plotting.estimators`: the estimator figures draw what they claim on the given axes
and refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest

from support import plotting


def test_convergence_draws_error_stderr_and_a_one_over_root_n_guide(ax):
    study = {"n": [10, 100, 1000], "rmse": [0.3, 0.1, 0.03], "stderr": [0.3, 0.1, 0.03]}
    assert plotting.convergence(ax, study, label="E[X]") is ax
    guide = ax.get_lines()[2]
    np.testing.assert_allclose(guide.get_ydata(), 0.3 * np.sqrt(10 / np.array([10, 100, 1000])))
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_convergence_refuses_an_incomplete_study(ax):
    with pytest.raises(ValueError, match="missing"):
        plotting.convergence(ax, {"n": [1], "rmse": [1.0]})


def test_standard_scores_places_each_estimate_at_its_score(ax):
    plotting.standard_scores(ax, ["a", "b"], [1.2, -0.5], [0.1, 0.25], [1.0, 0.0])
    np.testing.assert_allclose(ax.get_lines()[-1].get_xdata(), [2.0, -2.0])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]


def test_standard_scores_refuses_non_positive_stderr(ax):
    with pytest.raises(ValueError, match="stderrs must be positive"):
        plotting.standard_scores(ax, ["a"], [1.0], [0.0], [1.0])


def test_renyi_bounds_draws_exact_curve_and_both_limits(ax):
    plotting.renyi_bounds(
        ax, [0.2, 0.5], [-3.1, -3.3], [0.01, 0.01], [-3.1, -3.3], elbo=-3.6, log_evidence=-3.0
    )
    levels = {round(line.get_ydata()[0], 3) for line in ax.get_lines()}
    assert {-3.6, -3.0} <= levels


def test_renyi_bounds_refuses_mismatched_lengths(ax):
    with pytest.raises(ValueError, match="same length"):
        plotting.renyi_bounds(ax, [0.2], [1.0, 2.0], [0.1], [1.0], elbo=0.0, log_evidence=1.0)


def test_alpha_schedule_draws_one_line_per_setting(ax):
    plotting.alpha_schedule(ax, [0, 1, 2], {"a": [1.0, 0.5, 0.0], "b": [1.0, 0.8, 0.6]})
    assert len(ax.get_lines()) == 2


def test_alpha_schedule_refuses_a_schedule_of_the_wrong_length(ax):
    with pytest.raises(ValueError, match="has 2 values for 3 steps"):
        plotting.alpha_schedule(ax, [0, 1, 2], {"a": [1.0, 0.5]})


def test_gradient_spread_draws_histograms_and_the_exact_line(ax):
    rng = np.random.default_rng(0)
    plotting.gradient_spread(
        ax, {"score": rng.normal(size=50), "reparam": rng.normal(size=50)}, 0.0
    )
    assert len(ax.patches) > 0
    assert ax.get_lines()[-1].get_xdata()[0] == 0.0
    anchor = ax.get_legend().get_bbox_to_anchor().transformed(ax.transAxes.inverted())
    assert anchor.y1 < 0.0, "the legend sits under the axes, off the histograms"


def test_gradient_spread_refuses_no_estimators(ax):
    with pytest.raises(ValueError, match="at least one"):
        plotting.gradient_spread(ax, {}, 0.0)
