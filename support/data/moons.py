"""The two moons: a seeded sampler, a fixed-shape `tf.data` pipeline and the true density.

Used by `notebooks/02_ffjord_moons.ipynb`. The layout is scikit-learn's `make_moons`: an
upper unit half circle centred at (0, 0) and a lower one centred at (1, 0.5), flipped. A
point picks either arc with probability 1/2, an angle uniformly along it, and then gets
isotropic Gaussian noise. Because we know that recipe, we know the density exactly (up to a
one-dimensional integral over the angle, done by Gauss-Legendre quadrature), and with it the
entropy: the lowest average negative log-likelihood any model can reach on fresh points.
"""

from __future__ import annotations

import numpy as np

from support import _checks
from support.estimate import Estimate, mean_and_stderr

__all__ = [
    "MOONS_BEST_GAUSSIAN_NLL",
    "MOONS_ENTROPY",
    "moons",
    "moons_dataset",
    "moons_entropy",
    "moons_grid_bytes",
    "moons_log_prob",
]

#: Differential entropy of the moons with noise 0.06, in nats (Monte Carlo over 1e6 points,
#: standard error 0.0007; -integral of p log p on a 0.03 grid gives 0.4770): the floor under
#: any model's held-out NLL.
MOONS_ENTROPY = 0.478
#: Held-out NLL of the best single full-covariance Gaussian for noise 0.06, in nats: the
#: entropy of the Gaussian with the moons' mean and covariance, 1/2 log det(2 pi e Sigma)
#: (closed form, 1.8872), to three decimals.
MOONS_BEST_GAUSSIAN_NLL = 1.887

_CENTRES = np.array([[0.0, 0.0], [1.0, 0.5]])
_SIGNS = np.array([1.0, -1.0])  # the lower arc is the upper one turned upside down


def moons(num_samples: int, *, noise: float = 0.06, seed: int = 0, dtype=np.float32):
    """Draws `num_samples` points from the two moons.

    Args:
      num_samples: number of points, a positive integer.
      noise: standard deviation of the isotropic Gaussian noise, positive.
      seed: seed of the NumPy generator; the same seed gives the same points.
      dtype: NumPy dtype of the result.

    Returns:
      A `[num_samples, 2]` array.

    Raises:
      TypeError: if `num_samples` or `seed` is not an integer, or `noise` not a number.
      ValueError: for a non-positive `num_samples` or `noise`, or a negative `seed`.
    """
    num_samples = _checks.positive_int("num_samples", num_samples)
    noise = _checks.positive_float("noise", noise)
    seed = _checks.seed("seed", seed)
    rng = np.random.default_rng(seed)
    arc = rng.integers(0, 2, size=num_samples)
    angle = rng.uniform(0.0, np.pi, size=num_samples)
    on_arc = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * _SIGNS[arc, None]
    points = _CENTRES[arc] + on_arc + noise * rng.standard_normal((num_samples, 2))
    return points.astype(dtype)


def moons_grid_bytes(grid_size: int) -> int:
    """Bytes notebook 02 holds for its `grid_size x grid_size` density heatmaps.

    About 128 bytes a grid point: the float64 mesh and its stacked points, the true and the
    model's log densities (exact and Hutchinson) and their exponentials, and the float32
    copies the flow evaluates.
    """
    return 128 * grid_size * grid_size


def moons_dataset(points, batch_size: int, *, seed: int = 0, shuffle: bool = True):
    """A `tf.data.Dataset` of fixed-shape batches of `points`, reshuffled every epoch.

    Every batch has exactly `batch_size` rows (the ragged remainder is dropped), so a
    `tf.function` training step traces once. The points are held in memory and shuffled
    as a whole, so an epoch boundary costs no buffer refill.

    Args:
      points: `[n, 2]` array of finite values.
      batch_size: rows per batch, a positive integer no larger than `n`.
      seed: shuffling seed.
      shuffle: reshuffle the points at every epoch.

    Returns:
      A `tf.data.Dataset` yielding `[batch_size, 2]` tensors, `n // batch_size` per epoch.

    Raises:
      ValueError: for a bad shape, non-finite values or a bad `batch_size`.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"points must have shape [n, 2] with n > 0, got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("points must be finite (found NaN or inf)")
    batch_size = _checks.positive_int("batch_size", batch_size)
    seed = _checks.seed("seed", seed)
    if batch_size > points.shape[0]:
        raise ValueError(
            f"batch_size must be at most the number of points ({points.shape[0]}), got {batch_size}"
        )
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(points)
    if shuffle:
        dataset = dataset.shuffle(points.shape[0], seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def moons_log_prob(
    points,
    *,
    noise: float = 0.06,
    num_nodes: int = 256,
    chunk_size: int = 4096,
) -> np.ndarray:
    """The true log density of the moons at `points` (NumPy, float64).

    `p(x) = 1/2 sum_arcs 1/pi integral_0^pi N(x; c + s (cos a, sin a), noise^2 I) da`,
    integrated over the angle `a` by Gauss-Legendre quadrature in log space.

    Args:
      points: `[n, 2]` array.
      noise: the Gaussian noise's standard deviation, positive.
      num_nodes: quadrature nodes per arc. The default resolves noise down to about 0.03.
      chunk_size: points per vectorised block (bounds memory to `chunk_size * num_nodes`).

    Returns:
      A `[n]` float64 array of log densities.

    Raises:
      ValueError: for a bad shape, NaN values, non-positive `noise`, `num_nodes` or
        `chunk_size`.
    """
    noise = _checks.positive_float("noise", noise)
    num_nodes = _checks.positive_int("num_nodes", num_nodes)
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape [n, 2], got {points.shape}")
    if np.any(np.isnan(points)):
        raise ValueError("points must not contain NaN")
    nodes, weights = np.polynomial.legendre.leggauss(num_nodes)
    angles = 0.5 * np.pi * (nodes + 1.0)  # map [-1, 1] -> [0, pi]
    # (1/pi) * (pi/2) * w_i: the uniform angle density times the interval's Jacobian.
    log_weights = np.log(0.5 * weights) + np.log(0.5)  # and 1/2 for the choice of arc
    arcs = (
        _CENTRES[:, None, :]
        + _SIGNS[:, None, None] * np.stack([np.cos(angles), np.sin(angles)], axis=-1)[None]
    ).reshape(-1, 2)  # [2 * num_nodes, 2]
    log_weights = np.tile(log_weights, 2)
    log_norm = -np.log(2.0 * np.pi * noise**2)
    out = np.empty(points.shape[0])
    for start in range(0, points.shape[0], chunk_size):
        block = points[start : start + chunk_size]
        squared = np.sum((block[:, None, :] - arcs[None]) ** 2, axis=-1)
        terms = log_weights - 0.5 * squared / noise**2
        peak = terms.max(axis=1, keepdims=True)
        out[start : start + chunk_size] = (
            peak[:, 0] + np.log(np.exp(terms - peak).sum(axis=1)) + log_norm
        )
    return out


def moons_entropy(num_samples: int = 100_000, *, noise: float = 0.06, seed: int = 0) -> Estimate:
    """Monte Carlo estimate of the moons' differential entropy, in nats.

    Args:
      num_samples: points to average `-log p` over, at least 2.
      noise: the Gaussian noise's standard deviation, positive.
      seed: sampling seed.

    Returns:
      An `Estimate(entropy, standard_error)` (`support.estimate`).

    Raises:
      ValueError: for `num_samples < 2` or non-positive `noise`.
    """
    num_samples = _checks.positive_int("num_samples", num_samples)
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2, got {num_samples}")
    points = moons(num_samples, noise=noise, seed=seed, dtype=np.float64)
    return mean_and_stderr(-moons_log_prob(points, noise=noise))
