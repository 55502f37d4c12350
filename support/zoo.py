"""Learnable ("trainable") distributions built from variables and bijectors.

Six builders, from a single Gaussian to mixtures whose first weight or first component is
held fixed, and `PadEye`, the bijector that holds a mixture's first component at the
identity covariance. Every builder returns a `tfd.Distribution` whose
`trainable_variables` are exactly the free parameters: fit it by maximum likelihood with
`fit_maximum_likelihood`.

Serves notebook 01 (distribution zoo).
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support.training import History, fit

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "PadEye",
    "describe",
    "effective_parameters",
    "example_targets",
    "fit_maximum_likelihood",
    "initial_locs_from",
    "match_components",
    "mean_nll",
    "mixture_full_covariance",
    "mixture_full_covariance_first_fixed",
    "mixture_spherical",
    "mixture_spherical_first_weight_fixed",
    "mvn_diag",
    "mvn_scaled_identity",
    "num_tril_entries",
]


def num_tril_entries(num_rows: int) -> int:
    """Entries in the lower triangle of a `num_rows x num_rows` matrix."""
    return num_rows * (num_rows + 1) // 2


def _tril_rows(num_entries: tf.Tensor) -> tf.Tensor:
    """Inverse of `num_tril_entries` for a (possibly dynamic) integer tensor."""
    entries = tf.cast(num_entries, tf.float64)
    return tf.cast(tf.round(tf.sqrt(0.25 + 2.0 * entries) - 0.5), tf.int32)


class PadEye(tfb.Bijector):
    """Prepends, along axis -2, the unconstrained row that `tril_bijector` maps to `I`.

    With `tril_bijector = tfb.FillScaleTriL()`, a `[..., k, d(d+1)/2]` tensor of unconstrained
    lower-triangular entries becomes `[..., k + 1, d(d+1)/2]` whose first row is the identity
    scale: chained before the tril bijector, the first mixture component's covariance is held
    at `I` while the others stay free. The inverse drops that row. Both directions have a zero
    log-det-Jacobian (the new row is a constant). Works with unknown batch and event sizes:
    `d` is computed from the last dimension at run time.

    Args:
      tril_bijector: the bijector that maps unconstrained entries to a scale matrix
        (default: `FillScaleTriL` with a softplus diagonal, in the input's dtype); its
        inverse gives the row to prepend.
      validate_args: passed to `tfb.Bijector`.
      name: the bijector's name.
    """

    def __init__(self, tril_bijector=None, validate_args: bool = False, name: str = "pad_eye"):
        parameters = dict(locals())
        if tril_bijector is not None and not isinstance(tril_bijector, tfb.Bijector):
            raise TypeError(
                f"tril_bijector must be a tfp Bijector, got {type(tril_bijector).__name__}"
            )
        self._tril_bijector = tril_bijector
        super().__init__(
            forward_min_event_ndims=2,
            inverse_min_event_ndims=2,
            is_constant_jacobian=True,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @property
    def tril_bijector(self):
        return self._tril_bijector

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    def _identity_row(self, x):
        shape = tf.shape(x)
        rows = _tril_rows(shape[-1])
        eye = tf.eye(rows, dtype=x.dtype)
        tril = self._tril_bijector or _fill_scale_tril(x.dtype)
        row = tf.reshape(tril.inverse(eye), [1, -1])
        return tf.broadcast_to(row, tf.concat([shape[:-2], [1], shape[-1:]], axis=0))

    def _forward(self, x):
        return tf.concat([self._identity_row(x), x], axis=-2)

    def _inverse(self, y):
        return y[..., 1:, :]

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], dtype=x.dtype)

    def _inverse_log_det_jacobian(self, y):
        return tf.zeros([], dtype=y.dtype)

    @staticmethod
    def _shift_rows(shape: tf.TensorShape, delta: int) -> tf.TensorShape:
        if shape.rank is None:
            return shape
        dims = shape.as_list()
        if dims[-2] is not None:
            dims[-2] += delta
        return tf.TensorShape(dims)

    def _forward_event_shape(self, input_shape):
        return self._shift_rows(tf.TensorShape(input_shape), +1)

    def _inverse_event_shape(self, output_shape):
        return self._shift_rows(tf.TensorShape(output_shape), -1)

    def _forward_event_shape_tensor(self, input_shape):
        return tf.concat([input_shape[:-2], input_shape[-2:-1] + 1, input_shape[-1:]], axis=0)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.concat([output_shape[:-2], output_shape[-2:-1] - 1, output_shape[-1:]], axis=0)


# ---------------------------------------------------------------------------- validation


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number, got {value!r}")
    return float(value)


def _dtype(dtype) -> tf.DType:
    dtype = tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"dtype must be a floating dtype, got {dtype.name}")
    return dtype


def _initial_loc(initial_loc, num_components: int, event_size: int, dtype):
    """`initial_loc` as a `[num_components, event_size]` tensor, or None if not given."""
    if initial_loc is None:
        return None
    loc = np.asarray(initial_loc, dtype=dtype.as_numpy_dtype)
    if loc.shape != (num_components, event_size) or not np.all(np.isfinite(loc)):
        raise ValueError(
            f"initial_loc must be finite with shape [{num_components}, {event_size}] "
            f"(num_components, event_size), got shape {loc.shape}"
        )
    return tf.constant(loc)


def _zeros_or(initial_loc, num_components: int, event_size: int, dtype):
    loc = _initial_loc(initial_loc, num_components, event_size, dtype)
    return tf.zeros([num_components, event_size], dtype) if loc is None else loc


def _fill_scale_tril(dtype) -> tfb.Bijector:
    """`FillScaleTriL` (softplus diagonal plus a small shift) with constants of `dtype`."""
    return tfb.FillScaleTriL(diag_bijector=tfb.Softplus(), diag_shift=tf.constant(1e-5, dtype))


def _geometric_logits(num_components: int, decay: float, dtype) -> tf.Tensor:
    """Logits `-log(decay) * [0, 1, ..., K-1]`: equal weights for decay 1, shrinking above."""
    return -np.log(decay) * tf.range(num_components, dtype=dtype)


# ---------------------------------------------------------------------------- builders


def mvn_scaled_identity(event_size: int = 4, *, initial_scale: float = 1.0, dtype=tf.float32):
    """A Gaussian with a learnable mean and one learnable scale shared by every dimension.

    Trainable variables: `loc` `[event_size]` (starts at 0) and `scale` `[1]` (stored as its
    log through `tfb.Exp`, so it stays positive).
    """
    event_size = _positive_int("event_size", event_size)
    initial_scale = _positive_real("initial_scale", initial_scale)
    dtype = _dtype(dtype)
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros([event_size], dtype), name="loc"),
            scale=tfp.util.TransformedVariable(
                tf.fill([1], tf.constant(initial_scale, dtype)), bijector=tfb.Exp(), name="scale"
            ),
        ),
        reinterpreted_batch_ndims=1,
        name="mvn_scaled_identity",
    )


def mvn_diag(event_size: int = 4, *, initial_scale: float = 1.0, dtype=tf.float32):
    """A Gaussian with a learnable mean and a learnable scale per dimension (Softplus)."""
    event_size = _positive_int("event_size", event_size)
    initial_scale = _positive_real("initial_scale", initial_scale)
    dtype = _dtype(dtype)
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros([event_size], dtype), name="loc"),
            scale=tfp.util.TransformedVariable(
                tf.fill([event_size], tf.constant(initial_scale, dtype)),
                bijector=tfb.Softplus(),
                name="scale",
            ),
        ),
        reinterpreted_batch_ndims=1,
        name="mvn_diag",
    )


def _spherical_components(loc, num_components, initial_scale, dtype):
    return tfd.Independent(
        tfd.Normal(
            loc=loc,
            scale=tfp.util.TransformedVariable(
                tf.fill([num_components, 1], tf.constant(initial_scale, dtype)),
                bijector=tfb.Softplus(),
                name="scale",
            ),
        ),
        reinterpreted_batch_ndims=1,
    )


def mixture_spherical(
    event_size: int = 4,
    num_components: int = 3,
    *,
    initial_scale: float = 10.0,
    logit_decay: float = 1.0,
    seed: int = 0,
    initial_loc=None,
    dtype=tf.float32,
):
    """A mixture of spherical Gaussians: learnable weights, means and one scale per component.

    Means start at `initial_loc` (`[num_components, event_size]`) or, by default, at
    standard-normal draws from `seed`; scales at `initial_scale`; logits at
    `-log(logit_decay) * k` (equal weights for the default 1).
    """
    event_size = _positive_int("event_size", event_size)
    num_components = _positive_int("num_components", num_components)
    initial_scale = _positive_real("initial_scale", initial_scale)
    logit_decay = _positive_real("logit_decay", logit_decay)
    dtype = _dtype(dtype)
    loc = _initial_loc(initial_loc, num_components, event_size, dtype)
    if loc is None:
        loc = tf.random.stateless_normal([num_components, event_size], seed=[seed, 0], dtype=dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(_geometric_logits(num_components, logit_decay, dtype), name="logits")
        ),
        components_distribution=_spherical_components(
            tf.Variable(loc, name="loc"), num_components, initial_scale, dtype
        ),
        name="mixture_spherical",
    )


def mixture_spherical_first_weight_fixed(
    event_size: int = 4,
    num_components: int = 3,
    *,
    initial_scale: float = 10.0,
    logit_decay: float = 1.5,
    seed: int = 0,
    initial_loc=None,
    dtype=tf.float32,
):
    """A spherical mixture whose first logit is held at 0; only the other K-1 are learned.

    The logits are a `TransformedVariable` of K-1 free values through `tfb.Pad`, which
    prepends the fixed 0. Means start at `initial_loc` or, by default, at Rademacher (+-1)
    draws from `seed`.
    """
    event_size = _positive_int("event_size", event_size)
    num_components = _positive_int("num_components", num_components, minimum=2)
    initial_scale = _positive_real("initial_scale", initial_scale)
    logit_decay = _positive_real("logit_decay", logit_decay)
    dtype = _dtype(dtype)
    loc = _initial_loc(initial_loc, num_components, event_size, dtype)
    if loc is None:
        loc = tfp.random.rademacher([num_components, event_size], seed=[seed, 1], dtype=dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                _geometric_logits(num_components, logit_decay, dtype),
                bijector=tfb.Pad(paddings=[[1, 0]], constant_values=0),
                name="logits",
            )
        ),
        components_distribution=_spherical_components(
            tf.Variable(loc, name="loc"), num_components, initial_scale, dtype
        ),
        name="mixture_spherical_first_weight_fixed",
    )


def mixture_full_covariance(
    event_size: int = 4,
    num_components: int = 3,
    *,
    initial_scale: float = 10.0,
    logit_decay: float = 1.0,
    initial_loc=None,
    dtype=tf.float32,
):
    """A mixture of full-covariance Gaussians (scale_tril through `tfb.FillScaleTriL`).

    Means start at `initial_loc` (default 0) and each scale at `initial_scale * I`; the
    scale variable holds the
    `d(d+1)/2` unconstrained lower-triangular entries of each component.
    """
    event_size = _positive_int("event_size", event_size)
    num_components = _positive_int("num_components", num_components)
    initial_scale = _positive_real("initial_scale", initial_scale)
    logit_decay = _positive_real("logit_decay", logit_decay)
    dtype = _dtype(dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(_geometric_logits(num_components, logit_decay, dtype), name="logits")
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tf.Variable(_zeros_or(initial_loc, num_components, event_size, dtype), name="loc"),
            scale_tril=tfp.util.TransformedVariable(
                initial_scale * tf.eye(event_size, batch_shape=[num_components], dtype=dtype),
                bijector=_fill_scale_tril(dtype),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance",
    )


def mixture_full_covariance_first_fixed(
    event_size: int = 4,
    num_components: int = 3,
    *,
    initial_scale: float = 10.0,
    logit_decay: float = 1.0,
    initial_loc=None,
    dtype=tf.float32,
):
    """A full-covariance mixture whose first weight and first component are held fixed.

    Component 0 is N(0, I) and its logit is 0: `tfb.Pad` prepends the zero logit and the zero
    mean, and `PadEye` prepends the identity scale before `FillScaleTriL`. Only the other
    K-1 components' logits, means and scales are trainable. `initial_loc`, if given, is
    `[num_components, event_size]`; its first row is ignored (component 0 sits at 0).
    """
    event_size = _positive_int("event_size", event_size)
    num_components = _positive_int("num_components", num_components, minimum=2)
    initial_scale = _positive_real("initial_scale", initial_scale)
    logit_decay = _positive_real("logit_decay", logit_decay)
    dtype = _dtype(dtype)
    tril = _fill_scale_tril(dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                _geometric_logits(num_components, logit_decay, dtype),
                bijector=tfb.Pad(paddings=[(1, 0)]),
                name="logits",
            )
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tfp.util.TransformedVariable(
                _zeros_or(initial_loc, num_components, event_size, dtype),
                bijector=tfb.Pad(paddings=[(1, 0)], axis=-2),
                name="loc",
            ),
            scale_tril=tfp.util.TransformedVariable(
                initial_scale * tf.eye(event_size, batch_shape=[num_components], dtype=dtype),
                bijector=tfb.Chain([tril, PadEye(tril)]),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance_first_fixed",
    )


# ---------------------------------------------------------------------------- fitting


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
    samples = np.asarray(samples)
    event_size = distribution.event_shape[-1]
    if samples.ndim != 2 or (event_size is not None and samples.shape[1] != event_size):
        raise ValueError(
            f"samples must have shape [n, {event_size}] to match the distribution's event "
            f"shape, got {samples.shape}"
        )
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite (found NaN or inf)")
    batch_size = _positive_int("batch_size", batch_size)
    epochs = _positive_int("epochs", epochs)
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

    Uses scikit-learn's `KMeans` (k-means++ seeding, several restarts). Started at random
    instead, two components can share a cluster and stay stuck there, a local optimum of
    the likelihood that gradient descent does not leave.

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

    samples = np.asarray(samples, dtype=float)
    num_components = _positive_int("num_components", num_components)
    if samples.ndim != 2 or samples.shape[0] < num_components:
        raise ValueError(
            f"samples must be [n, event_size] with n >= num_components, got {samples.shape}"
        )
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples must be finite (found NaN or inf)")
    if first is not None:
        first = np.asarray(first, dtype=float)
        if first.shape != samples.shape[1:]:
            raise ValueError(f"first must have shape {samples.shape[1:]}, got {first.shape}")
    kmeans = KMeans(n_clusters=num_components, n_init=4, random_state=seed).fit(samples)
    centres = kmeans.cluster_centers_
    if first is not None:
        nearest = int(np.argmin(np.linalg.norm(centres - first, axis=-1)))
        centres = np.concatenate([first[None], np.delete(centres, nearest, axis=0)])
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


# ---------------------------------------------------------------------------- showing


def describe(distribution, decimals: int = 4) -> str:
    """The distribution and its trainable variables (name, shape, values rounded), as text."""
    lines = [str(distribution)]
    with np.printoptions(precision=decimals, suppress=True, floatmode="fixed"):
        for variable in distribution.trainable_variables:
            values = np.round(variable.numpy(), decimals) + 0.0  # no "-0."
            lines.append(f"  {variable.name} {tuple(variable.shape)}")
            lines.extend("    " + row for row in str(values).splitlines())
    return "\n".join(lines)


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


def example_targets(event_size: int = 4, num_components: int = 3, *, seed: int = 0) -> dict:
    """A known target for each builder, named as the builders are, to fit and compare with.

    The mixtures' components sit at least 6 units apart (their scales are at most 1.5) so a
    fit can tell them apart; the target for
    `mixture_full_covariance_first_fixed` has N(0, I) as its first component, which that
    model holds fixed, so it can match it exactly.
    """
    event_size = _positive_int("event_size", event_size)
    num_components = _positive_int("num_components", num_components, minimum=2)
    rng = np.random.default_rng(seed)
    loc = rng.normal(size=event_size).astype(np.float32)
    scales = rng.uniform(0.3, 2.0, size=event_size).astype(np.float32)
    centres = np.zeros((num_components, event_size), np.float32)
    for k in range(1, num_components):
        for _ in range(1000):  # a centre 6 from the origin and at least 6 from the others
            direction = rng.normal(size=event_size)
            centres[k] = 6.0 * direction / np.linalg.norm(direction)
            if np.min(np.linalg.norm(centres[:k] - centres[k], axis=-1)) >= 6.0:
                break
    weights = rng.dirichlet(3.0 * np.ones(num_components)).astype(np.float32)
    spread = rng.uniform(0.5, 1.5, size=(num_components, 1)).astype(np.float32)
    tril = np.tril(rng.normal(scale=0.3, size=(num_components, event_size, event_size)))
    idx = np.arange(event_size)
    tril[:, idx, idx] = rng.uniform(0.5, 1.2, size=(num_components, event_size))
    tril = tril.astype(np.float32)
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
        "mixture_spherical_first_weight_fixed": spherical(),
        "mixture_full_covariance": tfd.MixtureSameFamily(
            tfd.Categorical(probs=weights), tfd.MultivariateNormalTriL(centres, tril)
        ),
        "mixture_full_covariance_first_fixed": tfd.MixtureSameFamily(
            tfd.Categorical(probs=weights), tfd.MultivariateNormalTriL(centres, tril_first_fixed)
        ),
    }


def mean_nll(distribution, samples) -> float:
    """Mean negative log-likelihood of `samples` under `distribution`, in nats."""
    return float(-tf.reduce_mean(distribution.log_prob(samples)).numpy())
