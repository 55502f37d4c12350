"""Closed forms the estimators are checked against, and an error-versus-n study.

Gaussian entropies, KL and Renyi divergences in NumPy float64 (independent of TFP, so they
can serve as test oracles), a conjugate Normal-Normal model whose log evidence, ELBO and
Renyi bounds are known exactly, a quadrature entropy for 1-D densities without a formula,
`error_versus_n`, which measures how an estimator's error shrinks with `n`, and
`error_slope`, the slope of that study's log error against log `n` with its standard error.

Serves notebook 04 (entropy and Monte Carlo estimators).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from support import _checks

__all__ = [
    "NormalNormalModel",
    "entropy_by_quadrature",
    "error_slope",
    "error_versus_n",
    "fits_between_seeds",
    "gaussian_entropy",
    "gaussian_kl",
    "gaussian_renyi_divergence",
    "mvn_entropy",
]


def _positive(value, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return array


def gaussian_entropy(scale) -> np.ndarray:
    """Entropy of `N(loc, scale^2)`: `0.5 log(2 pi e scale^2)` nats, elementwise."""
    scale = _positive(scale, "scale")
    return 0.5 * np.log(2.0 * np.pi * np.e * scale**2)


def mvn_entropy(covariance) -> float:
    """Entropy of a multivariate normal: `0.5 log det(2 pi e covariance)` nats."""
    covariance = np.asarray(covariance, dtype=np.float64)
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise ValueError(f"covariance must be a square matrix, got shape {covariance.shape}")
    sign, logdet = np.linalg.slogdet(2.0 * np.pi * np.e * covariance)
    if sign <= 0:
        raise ValueError("covariance must be positive definite")
    return 0.5 * float(logdet)


def gaussian_kl(q_loc, q_scale, p_loc, p_scale) -> np.ndarray:
    """`KL[N(q_loc, q_scale^2) || N(p_loc, p_scale^2)]`, elementwise."""
    q_scale, p_scale = _positive(q_scale, "q_scale"), _positive(p_scale, "p_scale")
    diff = np.asarray(q_loc, dtype=np.float64) - np.asarray(p_loc, dtype=np.float64)
    return np.log(p_scale / q_scale) + (q_scale**2 + diff**2) / (2.0 * p_scale**2) - 0.5


def gaussian_renyi_divergence(q_loc, q_scale, p_loc, p_scale, alpha) -> np.ndarray:
    """Renyi divergence `D_alpha[q || p] = (alpha - 1)^-1 log int q^alpha p^(1 - alpha)`.

    For univariate normals, elementwise. With `v = alpha p_scale^2 + (1 - alpha) q_scale^2`:
    `alpha (q_loc - p_loc)^2 / (2 v) - log(v / (q_scale^(2 (1 - alpha)) p_scale^(2 alpha)))
    / (2 (alpha - 1))`; infinite when `v <= 0` (possible for `alpha > 1`).
    `renyi_ratio(p.log_prob, q, alpha)` estimates minus this.

    Raises:
      ValueError: if `alpha` is not positive or equals 1, or a scale is not positive.
    """
    q_scale, p_scale = _positive(q_scale, "q_scale"), _positive(p_scale, "p_scale")
    alpha = np.asarray(alpha, dtype=np.float64)
    if np.any(alpha <= 0) or np.any(alpha == 1):
        raise ValueError(f"alpha must be positive and not 1, got {alpha!r}")
    diff = np.asarray(q_loc, dtype=np.float64) - np.asarray(p_loc, dtype=np.float64)
    mixed = alpha * p_scale**2 + (1.0 - alpha) * q_scale**2
    with np.errstate(invalid="ignore", divide="ignore"):
        log_term = np.log(mixed) - 2.0 * (1.0 - alpha) * np.log(q_scale)
        log_term -= 2.0 * alpha * np.log(p_scale)
        value = alpha * diff**2 / (2.0 * mixed) - log_term / (2.0 * (alpha - 1.0))
    return np.where(mixed > 0, value, np.inf)


class NormalNormalModel:
    """A conjugate model with a known evidence: `z ~ N(prior_loc, prior_scale^2)`,
    `x_i | z ~ N(z, noise_scale^2)` for the given observations.

    For every `z`, `log p(x, z) = log p(x) + log p(z | x)`, so for any `q` the ELBO is
    `log p(x) - KL[q || posterior]` and the Renyi bound is `log p(x) - D_alpha[q || posterior]`;
    for a Gaussian `q(z) = N(m, s^2)` both are known exactly.
    """

    def __init__(self, prior_loc: float, prior_scale: float, noise_scale: float, observations):
        self.prior_loc = float(prior_loc)
        self.prior_scale = float(_positive(prior_scale, "prior_scale"))
        self.noise_scale = float(_positive(noise_scale, "noise_scale"))
        data = np.asarray(observations, dtype=np.float64)
        if data.ndim != 1 or data.size == 0:
            raise ValueError(f"observations must be a non-empty 1-D array, got {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("observations must be finite (no NaN or inf)")
        self.observations = data

    def posterior(self) -> tuple[float, float]:
        """`(loc, scale)` of the exact posterior `p(z | x)`."""
        precision = 1.0 / self.prior_scale**2 + self.observations.size / self.noise_scale**2
        loc = (
            self.prior_loc / self.prior_scale**2 + self.observations.sum() / self.noise_scale**2
        ) / precision
        return float(loc), float(precision**-0.5)

    @staticmethod
    def log_joint_bytes(num_samples: int, num_observations: int) -> int:
        """Bytes `log_joint` needs for `num_samples` float64 values of `z`: four
        `[num_samples, num_observations]` temporaries (difference, square, scaled, sum)."""
        return 4 * 8 * num_samples * num_observations

    def log_joint(self, z):
        """`log p(x, z)` for a tensor `z` of any shape (TensorFlow, differentiable)."""
        z = tf.convert_to_tensor(z)
        if not z.dtype.is_floating:
            raise TypeError(f"z must be floating point, got dtype {z.dtype.name}")
        data = tf.constant(self.observations, dtype=z.dtype)
        half_log_two_pi = tf.constant(0.5 * math.log(2.0 * math.pi), z.dtype)

        def log_normal(x, loc, scale):
            scale = tf.constant(scale, z.dtype)
            return -0.5 * tf.square((x - loc) / scale) - tf.math.log(scale) - half_log_two_pi

        prior = log_normal(z, tf.constant(self.prior_loc, z.dtype), self.prior_scale)
        likelihood = tf.reduce_sum(log_normal(data, z[..., tf.newaxis], self.noise_scale), axis=-1)
        return prior + likelihood

    def log_evidence(self) -> float:
        """`log p(x)`, exactly: `log p(x, z) - log p(z | x)` at the posterior mean."""
        loc, scale = self.posterior()
        data = self.observations
        log_prior = (
            -0.5 * math.log(2 * math.pi * self.prior_scale**2)
            - 0.5 * ((loc - self.prior_loc) / self.prior_scale) ** 2
        )
        log_lik = np.sum(
            -0.5 * math.log(2 * math.pi * self.noise_scale**2)
            - 0.5 * ((data - loc) / self.noise_scale) ** 2
        )
        log_post = -0.5 * math.log(2 * math.pi * scale**2)
        return float(log_prior + log_lik - log_post)

    def elbo(self, q_loc: float, q_scale: float) -> float:
        """The exact ELBO of `q = N(q_loc, q_scale^2)`."""
        loc, scale = self.posterior()
        return self.log_evidence() - float(gaussian_kl(q_loc, q_scale, loc, scale))

    def renyi_bound(self, q_loc: float, q_scale: float, alpha: float) -> float:
        """The exact Renyi bound `L_alpha` of `q = N(q_loc, q_scale^2)`."""
        loc, scale = self.posterior()
        divergence = gaussian_renyi_divergence(q_loc, q_scale, loc, scale, alpha)
        return self.log_evidence() - float(divergence)


def entropy_by_quadrature(log_prob: Callable, low: float, high: float, num: int = 20001) -> float:
    """Entropy of a 1-D density by the trapezoid rule on `[low, high]` (float64).

    A reference for densities without a formula (mixtures); `[low, high]` must hold
    essentially all of the mass.

    Raises:
      TypeError: if `num` is not an integer.
      ValueError: if `low >= high` or `num < 3`.
    """
    if not low < high:
        raise ValueError(f"low must be below high, got low={low}, high={high}")
    num = _checks.integer("num", num, min=3)
    grid = np.linspace(low, high, num)
    log_density = np.asarray(log_prob(tf.constant(grid)), dtype=np.float64)
    density = np.exp(log_density)
    integrand = np.where(density > 0, -density * log_density, 0.0)
    return float(np.trapezoid(integrand, grid))


def fits_between_seeds(repeats: int, ns: Sequence[int], spacing: int = 1000) -> None:
    """Checks that an `error_versus_n(..., ns, repeats=repeats, seed=s)` study stays below the
    next study's first seed, `s + spacing`: it uses the `repeats * len(ns)` seeds from `s` on.

    Raises:
      ValueError: if it would reach the next study's seeds (the two would share draws).
    """
    used = int(repeats) * len(ns)
    if used > spacing:
        raise ValueError(
            f"{repeats} repeats at {len(ns)} sample sizes use {used} seeds, more than the "
            f"{spacing} between one study's first seed and the next's"
        )


def error_versus_n(
    estimator: Callable, ns: Sequence[int], truth, *, repeats: int = 10, seed: int = 0
) -> dict[str, np.ndarray]:
    """Root-mean-square error and mean reported standard error of an estimator, per `n`.

    Args:
      estimator: `estimator(n, seed) -> (estimate, stderr)`, numbers or tensors of equal
        shape (e.g. a lambda around any estimator here with `return_stderr=True`).
      ns: increasing sample sizes, positive integers.
      truth: the exact value the estimates aim at (broadcastable to an estimate).
      repeats: independent runs per `n`.
      seed: first seed. Run `r` at the `i`-th `n` gets seed `seed + r + repeats * i`, so no two
        runs share a seed: seeded samplers that return prefixes of one stream (TFP's do) would
        otherwise nest the draws at small `n` inside those at large `n` and correlate the
        errors across `n`.

    Returns:
      A dict of arrays: `n`, `rmse` (over repeats and elements) and `stderr` (the mean
      reported standard error). For an unbiased estimator both fall like `1 / sqrt(n)`.

    Raises:
      TypeError: if `estimator` is not callable, or `ns`, `repeats` or `seed` not integers.
      ValueError: if `ns` is empty, not increasing or not positive, or `repeats < 1`.
    """
    _checks.callable_("estimator", estimator)
    ns = list(_checks.integer_list("ns", list(ns), min=1, min_length=1))
    if any(b <= a for a, b in zip(ns, ns[1:], strict=False)):
        raise ValueError(f"ns must be increasing, got {ns!r}")
    repeats = _checks.positive_int("repeats", repeats)
    seed = _checks.seed("seed", seed)
    truth = np.asarray(truth, dtype=np.float64)
    rmse, stderr = [], []
    for i, n in enumerate(ns):
        errors, reported = [], []
        for r in range(repeats):
            estimate, error = estimator(int(n), seed + r + repeats * i)
            errors.append(np.asarray(estimate, dtype=np.float64) - truth)
            reported.append(np.asarray(error, dtype=np.float64))
        rmse.append(float(np.sqrt(np.mean(np.square(errors)))))
        stderr.append(float(np.mean(reported)))
    return {"n": np.asarray(ns), "rmse": np.asarray(rmse), "stderr": np.asarray(stderr)}


def error_slope(study: dict, repeats: int) -> tuple[float, float]:
    """The slope of `log(rmse)` against `log(n)` in an `error_versus_n` study, and its error.

    Each RMS error comes from `repeats` independent estimates whose errors are close to
    normal (each a mean of `n` draws): then `repeats * (rmse / true error)^2` follows a
    chi-square law with `repeats` degrees of freedom, so `log(rmse)` has the standard error
    `0.5 * sqrt(trigamma(repeats / 2))` (about `1 / sqrt(2 repeats)`) at every `n`, the
    same for all. A weighted straight-line fit then gives the slope and its standard error.
    For an unbiased estimator the slope is `-1/2`.

    Args:
      study: a dict with arrays `n` and `rmse`, as `error_versus_n` returns, at least two
        sample sizes, independent estimates at each (`error_versus_n` seeds them so).
      repeats: the `repeats` the study was run with, an integer of at least 2.

    Returns:
      `(slope, slope_stderr)`, two floats.

    Raises:
      TypeError: if `repeats` is not an integer.
      ValueError: if `repeats < 2`, or `study` holds fewer than two sizes or a non-positive
        `n` or `rmse`.
    """
    from scipy.special import polygamma

    repeats = _checks.positive_int("repeats", repeats)
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2, got {repeats}")
    n = np.asarray(study["n"], dtype=np.float64)
    rmse = np.asarray(study["rmse"], dtype=np.float64)
    if n.size < 2 or n.shape != rmse.shape or np.any(n <= 0) or np.any(rmse <= 0):
        raise ValueError("study must hold two or more positive n with a positive rmse each")
    log_rmse_se = np.full(n.shape, 0.5 * math.sqrt(polygamma(1, repeats / 2)))
    (slope, _), covariance = np.polyfit(
        np.log(n), np.log(rmse), 1, w=1.0 / log_rmse_se, cov="unscaled"
    )
    return float(slope), float(math.sqrt(covariance[0, 0]))
