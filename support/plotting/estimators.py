"""Figures for the entropy and Monte Carlo estimators notebook (04).

Error against n with the `1 / sqrt(n)` guide, estimates as standard scores against their
closed forms, Renyi bounds between the ELBO and the log evidence, the `renyi_alpha`
schedule and the spread of gradient estimators. Each helper takes an `ax` and returns it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["alpha_schedule", "convergence", "gradient_spread", "renyi_bounds", "standard_scores"]


def _array(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {array.shape}")
    return array


def convergence(ax, study: Mapping[str, Sequence[float]], *, label: str = "", guide: bool = True):
    """Log-log plot of the RMS error (markers) and the mean reported standard error (dashed)
    against n, from `estimators.error_versus_n`, with a `1 / sqrt(n)` guide through the
    first error.

    Raises:
      ValueError: if `study` lacks `n`, `rmse` or `stderr`, or their lengths differ.
    """
    missing = {"n", "rmse", "stderr"} - set(study)
    if missing:
        raise ValueError(f"study is missing {sorted(missing)}")
    n, rmse, stderr = (_array(study[key], key) for key in ("n", "rmse", "stderr"))
    if not n.size == rmse.size == stderr.size:
        raise ValueError("study's n, rmse and stderr must have the same length")
    prefix = f"{label}: " if label else ""
    (line,) = ax.loglog(n, rmse, "o-", label=f"{prefix}RMS error")
    ax.loglog(n, stderr, "--", color=line.get_color(), label=f"{prefix}reported std. error")
    if guide:
        ax.loglog(n, rmse[0] * np.sqrt(n[0] / n), ":", color="k", label=r"$\propto 1/\sqrt{n}$")
    ax.set_xlabel("number of samples n")
    ax.set_ylabel("error")
    ax.legend()
    return ax


def standard_scores(ax, names: Sequence[str], estimates, stderrs, truths, *, k: float = 4.0):
    """Each estimate's error in units of its standard error, `(estimate - truth) / stderr`,
    with the +-2 and +-k bands: the picture of "within k standard errors".

    Raises:
      ValueError: if the sequences differ in length or a standard error is not positive.
    """
    estimates, stderrs, truths = (
        _array(v, name)
        for v, name in ((estimates, "estimates"), (stderrs, "stderrs"), (truths, "truths"))
    )
    if not len(names) == estimates.size == stderrs.size == truths.size:
        raise ValueError("names, estimates, stderrs and truths must have the same length")
    if np.any(stderrs <= 0):
        raise ValueError("stderrs must be positive")
    scores = (estimates - truths) / stderrs
    rows = np.arange(len(names))
    ax.axvspan(-k, k, color="0.92", label=f"within {k:g} std. errors")
    ax.axvspan(-2, 2, color="0.82", label="within 2 std. errors")
    ax.axvline(0, color="k", linewidth=1)
    ax.plot(scores, rows, "o", color="C0")
    ax.set_yticks(rows, list(names))
    ax.invert_yaxis()
    ax.set_xlabel("(estimate - reference) / standard error")
    limit = max(k + 1, float(np.max(np.abs(scores))) + 0.5)
    ax.set_xlim(-limit, limit)
    # under the axes: inside them it would cover the points of one corner
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize="small", frameon=False
    )
    return ax


def renyi_bounds(
    ax,
    alphas,
    estimates,
    stderrs,
    exact,
    *,
    elbo: float,
    log_evidence: float,
):
    """Estimated Renyi bounds `L_alpha` (+-2 standard errors) against the exact curve,
    between the ELBO and the log evidence.

    Raises:
      ValueError: if the sequences differ in length.
    """
    alphas, estimates, stderrs, exact = (
        _array(v, name)
        for v, name in (
            (alphas, "alphas"),
            (estimates, "estimates"),
            (stderrs, "stderrs"),
            (exact, "exact"),
        )
    )
    if not alphas.size == estimates.size == stderrs.size == exact.size:
        raise ValueError("alphas, estimates, stderrs and exact must have the same length")
    ax.plot(alphas, exact, "-", color="C0", label=r"exact $L_\alpha$")
    ax.errorbar(alphas, estimates, yerr=2 * stderrs, fmt="o", color="C1", label="renyi_ratio")
    ax.axhline(log_evidence, color="k", linestyle="--", label="log evidence")
    ax.axhline(elbo, color="C2", linestyle=":", label=r"ELBO ($\alpha \to 1$)")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel("nats")
    ax.legend()
    return ax


def alpha_schedule(ax, steps, schedules: Mapping[str, Sequence[float]]):
    """The `renyi_alpha` schedule: alpha against the training step, one line per setting.

    Raises:
      ValueError: if `schedules` is empty or a schedule's length differs from `steps`.
    """
    steps = _array(steps, "steps")
    if not schedules:
        raise ValueError("schedules must hold at least one schedule")
    for label, alphas in schedules.items():
        alphas = _array(alphas, f"schedules[{label!r}]")
        if alphas.size != steps.size:
            raise ValueError(f"schedule {label!r} has {alphas.size} values for {steps.size} steps")
        ax.plot(steps, alphas, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel(r"$\alpha$")
    ax.legend()
    return ax


def gradient_spread(ax, samples: Mapping[str, Sequence[float]], exact: float, *, bins: int = 40):
    """Histograms of repeated gradient estimates, one per estimator, and the exact gradient,
    with the legend under the axes.

    Raises:
      ValueError: if `samples` is empty or a sample set is empty.
    """
    if not samples:
        raise ValueError("samples must hold at least one estimator")
    arrays = {label: _array(values, f"samples[{label!r}]") for label, values in samples.items()}
    everything = np.concatenate(list(arrays.values()))
    edges = np.histogram_bin_edges(everything, bins=bins)
    for label, values in arrays.items():
        ax.hist(values, bins=edges, alpha=0.5, label=f"{label} (sd {values.std(ddof=1):.3g})")
    ax.axvline(exact, color="k", linestyle="--", label="exact gradient")
    ax.set_xlabel("gradient estimate")
    ax.set_ylabel("count")
    # under the axes: inside them it would cover the tallest (narrowest) histogram
    ax.legend(
        fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False
    )
    return ax
