"""Fitting learnable distributions by maximum likelihood, and looking inside them.

`fit_maximum_likelihood` trains any distribution's variables on samples with `support.fit`;
`example_targets` gives a known target for each `support.distributions.zoo` builder;
`initial_locs_from` gives k-means centres, and `start_near_data` moves a built mixture's means
there and its scales to 1; `match_components` undoes mixture relabelling; `effective_parameters`
gives the parameters a model uses; `held_out_nll` scores a model on fresh samples (an `Estimate`
with its standard error) and `mean_nll` is the plain average.

Serves notebook 01 (distribution zoo).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.estimate import Estimate, mean_and_stderr
from support.training import History, fit

tfd = tfp.distributions

__all__ = [
    "effective_parameters",
    "example_targets",
    "fit_maximum_likelihood",
    "held_out_nll",
    "initial_locs_from",
    "match_components",
    "mean_nll",
    "samples_bytes",
    "start_near_data",
]


def fit_maximum_likelihood(
    distribution,
    samples,
    *,
    epochs: int = 20,
    batch_size: int = 256,
    learning_rate: float = 0.05,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Fits `distribution`'s trainable variables to `samples` by maximum likelihood.

    Minimises the mean negative log-likelihood over shuffled mini-batches with `fit`.

    Raises:
      ValueError: for samples that are not `[n, event_size]` finite values, or non-positive
        sizes, before any training.
    """
    samples = _checks.finite_array("samples", samples)
    event_size = distribution.event_shape[-1]
    _checks.shape(
        "samples",
        samples,
        (None, event_size),
        what=f"[n, {event_size}] (the distribution's event shape)",
    )
    batch_size = _checks.positive_int("batch_size", batch_size)
    epochs = _checks.positive_int("epochs", epochs)
    seed = _checks.seed("seed", seed)
    if batch_size > samples.shape[0]:
        raise ValueError(
            f"batch_size ({batch_size}) must not exceed the {samples.shape[0]} samples"
        )
    dataset = (
        tf.data.Dataset.from_tensor_slices(samples.astype(distribution.dtype.as_numpy_dtype))
        .shuffle(samples.shape[0], seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    return fit(
        lambda batch: -tf.reduce_mean(distribution.log_prob(batch)),
        distribution.trainable_variables,
        dataset,
        epochs=epochs,
        learning_rate=learning_rate,
        progress=progress,
        description=distribution.name,
    )


def initial_locs_from(samples, num_components: int, *, seed: int = 0, first=None) -> np.ndarray:
    """Starting means for a mixture, where the data are: the centres of a k-means fit.

    Uses scikit-learn's `KMeans` with `n_init=4`: four runs, each seeded by k-means++ and
    iterated until the centres move less than scikit-learn's default tolerance or for at most
    300 iterations (its `max_iter`), of which the one with the smallest within-cluster sum of
    squares is kept.
    Started at random instead, two components can share a cluster and stay stuck there, a
    local optimum of the likelihood that gradient descent does not leave.

    Args:
      samples: `[n, event_size]` data, n >= num_components.
      num_components: number of centres.
      seed: seed of the k-means fit.
      first: optional fixed first centre (the mean of a component a model holds fixed): it
        replaces the k-means centre nearest to it and comes first.

    Returns:
      A `[num_components, event_size]` array.
    """
    from sklearn.cluster import KMeans

    samples = _checks.finite_array("samples", samples)
    num_components = _checks.positive_int("num_components", num_components)
    seed = _checks.seed("seed", seed)
    if samples.ndim != 2 or samples.shape[0] < num_components:
        raise ValueError(
            f"samples must be [n, event_size] with n >= num_components, got {samples.shape}"
        )
    if first is not None:
        first = _checks.finite_array("first", first)
        _checks.shape("first", first, samples.shape[1:])
    kmeans = KMeans(n_clusters=num_components, n_init=4, random_state=seed).fit(samples)
    centres = kmeans.cluster_centers_
    if first is not None:
        nearest = int(np.argmin(np.linalg.norm(centres - first, axis=-1)))
        centres = np.concatenate([first[None], np.delete(centres, nearest, axis=0)])
    return centres


def _assignable(name: str, value):
    """`value` if it can take a new value (a `tf.Variable` or a `TransformedVariable`)."""
    if not isinstance(value, tf.Variable | tfp.util.TransformedVariable):
        raise TypeError(
            f"the mixture's {name} must be a tf.Variable or tfp.util.TransformedVariable, got "
            f"{type(value).__name__}"
        )
    return value


def start_near_data(mixture, samples, *, seed: int = 0) -> np.ndarray:
    """Moves a built mixture's starting point to the data: means at k-means centres, scales 1.

    The component means become the centres of `initial_locs_from(samples, K, seed=seed)`
    and every component's scale becomes 1 (an identity `scale_tril` for full covariances).
    Each is set with the parameter's own `assign`, which takes the constrained value: a
    `tf.Variable` stores it as it is, a `TransformedVariable` stores its bijector's inverse.
    The logits are left as they are. When the means pin the first component (a
    `TransformedVariable` holding fewer rows than there are components, as `tfb.Pad` makes
    it), its mean stays and replaces the k-means centre nearest to it.

    Args:
      mixture: a `tfd.MixtureSameFamily` whose components are `tfd.Independent(tfd.Normal)`
        or `tfd.MultivariateNormalTriL` with assignable `loc` and scale.
      samples: `[n, event_size]` data, n >= the number of components.
      seed: seed of the k-means fit.

    Returns:
      The `[K, event_size]` means assigned.

    Raises:
      TypeError: for a distribution that is not such a mixture, or parameters that cannot
        be assigned, before the k-means fit.
      ValueError: for bad `samples` or `seed` (from `initial_locs_from`).
    """
    if not isinstance(mixture, tfd.MixtureSameFamily):
        raise TypeError(f"mixture must be a tfd.MixtureSameFamily, got {type(mixture).__name__}")
    components = mixture.components_distribution
    if isinstance(components, tfd.Independent) and isinstance(components.distribution, tfd.Normal):
        components = components.distribution
        scale = _assignable("scale", components.scale)
    elif isinstance(components, tfd.MultivariateNormalTriL):
        scale = _assignable("scale_tril", components.scale_tril)
    else:
        raise TypeError(
            "mixture's components must be tfd.Independent(tfd.Normal) or "
            f"tfd.MultivariateNormalTriL, got {type(components).__name__}"
        )
    loc = _assignable("loc", components.loc)
    means = tf.convert_to_tensor(loc)
    free = getattr(loc, "pretransformed_input", loc)  # fewer rows: the first one is pinned
    first = means[0].numpy() if free.shape[0] < means.shape[0] else None
    centres = initial_locs_from(samples, means.shape[0], seed=seed, first=first)
    loc.assign(centres.astype(means.dtype.as_numpy_dtype))
    ones = tf.ones_like(tf.convert_to_tensor(scale))
    full = isinstance(components, tfd.MultivariateNormalTriL)  # scale_tril: the identity
    scale.assign(tf.linalg.diag(ones[..., 0]) if full else ones)
    return centres


def match_components(true_locs, fitted_locs) -> np.ndarray:
    """The order of fitted components that best matches the true ones (mixtures are only
    identified up to a relabelling). Returns `order` with `fitted_locs[order] ~ true_locs`.
    """
    from scipy.optimize import linear_sum_assignment

    true_locs, fitted_locs = np.asarray(true_locs), np.asarray(fitted_locs)
    if true_locs.shape != fitted_locs.shape or true_locs.ndim != 2:
        raise ValueError(
            "true_locs and fitted_locs must both have shape [components, event_size], got "
            f"{true_locs.shape} and {fitted_locs.shape}"
        )
    cost = np.linalg.norm(true_locs[:, None, :] - fitted_locs[None, :, :], axis=-1)
    _, order = linear_sum_assignment(cost)
    return order


# ---------------------------------------------------------------------------- inspecting


def effective_parameters(distribution) -> dict[str, np.ndarray]:
    """The parameters a distribution actually uses, fixed parts included, as NumPy arrays.

    Keys: `loc` and `scale` (a Gaussian); `weights`, `logits`, `loc` and `scale` (a mixture,
    with `scale` the per-component scale vector or lower-triangular matrix).
    """
    if isinstance(distribution, tfd.MixtureSameFamily):
        logits = tf.convert_to_tensor(distribution.mixture_distribution.logits_parameter())
        components = distribution.components_distribution
        if isinstance(components, tfd.Independent):
            components = components.distribution
            scale = tf.broadcast_to(tf.convert_to_tensor(components.scale), components.batch_shape)
        else:
            scale = tf.convert_to_tensor(components.scale_tril)
        return {
            "logits": logits.numpy(),
            "weights": tf.nn.softmax(logits).numpy(),
            "loc": tf.convert_to_tensor(components.loc).numpy(),
            "scale": scale.numpy(),
        }
    return {"loc": distribution.mean().numpy(), "scale": distribution.stddev().numpy()}


_CENTRE_DRAWS = 1000  # random directions tried per mixture component before giving up


def example_targets(event_size: int = 4, num_components: int = 3, *, seed: int = 0) -> dict:
    """A known target for each builder, named as the builders are, to fit and compare with.

    The mixtures' components sit at least 6 units apart, more than three of their largest
    standard deviations along any coordinate, so a fit can tell them apart; the target for
    `mixture_full_covariance_first_fixed` has N(0, I) as its first component, which that
    model holds fixed, so it can match it exactly.

    Raises:
      ValueError: for a bad `event_size`, `num_components` or `seed`; when no placement
        of `num_components` centres 6 apart turns up (too many components for `event_size`,
        e.g. four in one dimension); or when a full-covariance component's standard deviation
        along some coordinate reaches 2, a third of that distance (its random off-diagonal
        entries add up in many dimensions).
    """
    event_size = _checks.positive_int("event_size", event_size)
    num_components = _checks.integer("num_components", num_components, min=2)
    seed = _checks.seed("seed", seed)
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=event_size).astype(np.float32)
    scales = rng.uniform(0.3, 2.0, size=event_size).astype(np.float32)
    centres = np.zeros((num_components, event_size), np.float32)
    for k in range(1, num_components):
        for _ in range(_CENTRE_DRAWS):  # a centre 6 from the origin and at least 6 from the others
            direction = rng.normal(size=event_size)
            centres[k] = 6.0 * direction / np.linalg.norm(direction)
            # float32 rounding can put a valid draw a hair under 6
            if np.min(np.linalg.norm(centres[:k] - centres[k], axis=-1)) >= 6.0 - 1e-4:
                break
        else:
            raise ValueError(
                f"found no placement of num_components={num_components} centres 6 apart (each 6 "
                f"from the origin) in event_size={event_size} dimensions: {_CENTRE_DRAWS} random "
                f"directions for component {k} all came closer than 6 to another; use fewer "
                "components or more dimensions (random placement stops short of the most centres "
                "that fit: near the most it usually places, another seed may place them; not when "
                "they cannot fit at all, such as four in one dimension)"
            )
    weights = rng.dirichlet(3.0 * np.ones(num_components)).astype(np.float32)
    spread = rng.uniform(0.5, 1.5, size=(num_components, 1)).astype(np.float32)
    tril = np.tril(rng.normal(scale=0.3, size=(num_components, event_size, event_size)))
    idx = np.arange(event_size)
    tril[:, idx, idx] = rng.uniform(0.5, 1.2, size=(num_components, event_size))
    tril = tril.astype(np.float32)
    widest = float(np.sqrt(np.square(tril).sum(axis=-1)).max())  # the rows of L: each sd
    pairs = np.triu_indices(num_components, 1)
    closest = float(np.linalg.norm(centres[:, None] - centres[None], axis=-1)[pairs].min())
    if closest <= 3.0 * widest:
        advice = (
            "fewer dimensions or components, or another seed"
            if num_components > 2
            else "fewer dimensions or another seed"
        )
        raise ValueError(
            f"in event_size={event_size} dimensions a full-covariance component has a standard "
            f"deviation of {widest:.2f} along a coordinate, so centres {closest:.2f} apart are "
            f"not three of them apart, as notebook 01 requires; use {advice}"
        )
    tril_first_fixed = tril.copy()
    tril_first_fixed[0] = np.eye(event_size, dtype=np.float32)

    def spherical():
        return tfd.MixtureSameFamily(
            tfd.Categorical(probs=weights),
            tfd.Independent(tfd.Normal(centres, spread), reinterpreted_batch_ndims=1),
        )

    return {
        "mvn_scaled_identity": tfd.MultivariateNormalDiag(loc, tf.fill([event_size], 0.7)),
        "mvn_diag": tfd.MultivariateNormalDiag(loc, scales),
        "mixture_spherical": spherical(),
        "mixture_spherical_first_logit_fixed": spherical(),
        "mixture_full_covariance": tfd.MixtureSameFamily(
            tfd.Categorical(probs=weights), tfd.MultivariateNormalTriL(centres, tril)
        ),
        "mixture_full_covariance_first_fixed": tfd.MixtureSameFamily(
            tfd.Categorical(probs=weights), tfd.MultivariateNormalTriL(centres, tril_first_fixed)
        ),
    }


def samples_bytes(num_samples: int, event_size: int) -> int:
    """Bytes notebook 01 holds at once for `num_samples` training and as many held-out
    points of dimension `event_size`: float32 draws, their float64 copies for checking and
    k-means, and the `tf.data` pipeline's copy (about 48 bytes a value)."""
    return 48 * num_samples * event_size


def mean_nll(distribution, samples) -> float:
    """Mean negative log-likelihood of `samples` under `distribution`, in nats."""
    return float(-tf.reduce_mean(distribution.log_prob(samples)).numpy())


def held_out_nll(distribution, points) -> Estimate:
    """Mean negative log-likelihood of held-out `points`, with its standard error (nats).

    Raises:
      ValueError: for fewer than two points.
    """
    if np.ndim(points) == 0 or np.shape(points)[0] < 2:
        raise ValueError(f"points must hold at least two points, got shape {np.shape(points)}")
    return mean_and_stderr(-distribution.log_prob(points).numpy())
