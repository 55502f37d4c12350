"""Learnable ("trainable") distributions built from variables and bijectors.

Six builders, from a single Gaussian to mixtures whose first weight or first component is
held fixed (through `tfb.Pad` and `support.bijectors.PadEye`, re-exported here). Every
builder returns a `tfd.Distribution` whose `trainable_variables` are exactly the free
parameters; `support.fitting` fits and inspects them.

Serves notebook 01 (distribution zoo).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.bijectors import PadEye, fill_scale_tril, num_tril_entries

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "PadEye",
    "mixture_full_covariance",
    "mixture_full_covariance_first_fixed",
    "mixture_spherical",
    "mixture_spherical_first_weight_fixed",
    "mvn_diag",
    "mvn_scaled_identity",
    "num_tril_entries",
]

# ---------------------------------------------------------------------------- validation


def _mixture_arguments(
    event_size,
    num_components,
    initial_scale,
    logit_decay,
    dtype,
    *,
    min_components: int,
    full_covariance: bool = False,
):
    """The mixture builders' shared arguments, checked, and their size against memory."""
    event_size = _checks.positive_int("event_size", event_size)
    num_components = _checks.integer("num_components", num_components, min=min_components)
    initial_scale = _checks.positive_float("initial_scale", initial_scale)
    logit_decay = _checks.positive_float("logit_decay", logit_decay)
    dtype = _checks.floating_dtype("dtype", dtype)
    per_component = event_size * (event_size + 1) if full_covariance else event_size + 1
    # each variable is held twice while it is built (its initial value and the variable)
    _checks.fits_in_memory(
        "event_size and num_components",
        2 * dtype.size * num_components * per_component,
        what=f"{num_components} components of dimension {event_size}",
    )
    return event_size, num_components, initial_scale, logit_decay, dtype


def _initial_loc(initial_loc, num_components: int, event_size: int, dtype):
    """`initial_loc` as a `[num_components, event_size]` tensor, or None if not given."""
    if initial_loc is None:
        return None
    loc = _checks.finite_array("initial_loc", initial_loc, dtype=dtype.as_numpy_dtype)
    what = f"[{num_components}, {event_size}] (num_components, event_size)"
    _checks.shape("initial_loc", loc, (num_components, event_size), what=what)
    return tf.constant(loc)


def _zeros_or(initial_loc, num_components: int, event_size: int, dtype):
    loc = _initial_loc(initial_loc, num_components, event_size, dtype)
    return tf.zeros([num_components, event_size], dtype) if loc is None else loc


def _geometric_logits(num_components: int, decay: float, dtype) -> tf.Tensor:
    """Logits `-log(decay) * [0, 1, ..., K-1]`: equal weights for decay 1, shrinking above."""
    return -np.log(decay) * tf.range(num_components, dtype=dtype)


# ---------------------------------------------------------------------------- builders


def mvn_scaled_identity(event_size: int = 4, *, initial_scale: float = 1.0, dtype=tf.float32):
    """A Gaussian with a learnable mean and one learnable scale shared by every dimension.

    Trainable variables: `loc` `[event_size]` (starts at 0) and `scale` `[1]` (stored as its
    log through `tfb.Exp`, so it stays positive).
    """
    event_size = _checks.positive_int("event_size", event_size)
    initial_scale = _checks.positive_float("initial_scale", initial_scale)
    dtype = _checks.floating_dtype("dtype", dtype)
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
    event_size = _checks.positive_int("event_size", event_size)
    initial_scale = _checks.positive_float("initial_scale", initial_scale)
    dtype = _checks.floating_dtype("dtype", dtype)
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
    event_size, num_components, initial_scale, logit_decay, dtype = _mixture_arguments(
        event_size, num_components, initial_scale, logit_decay, dtype, min_components=1
    )
    seed = _checks.seed("seed", seed)
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
    event_size, num_components, initial_scale, logit_decay, dtype = _mixture_arguments(
        event_size, num_components, initial_scale, logit_decay, dtype, min_components=2
    )
    seed = _checks.seed("seed", seed)
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
    event_size, num_components, initial_scale, logit_decay, dtype = _mixture_arguments(
        event_size,
        num_components,
        initial_scale,
        logit_decay,
        dtype,
        min_components=1,
        full_covariance=True,
    )
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(_geometric_logits(num_components, logit_decay, dtype), name="logits")
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tf.Variable(_zeros_or(initial_loc, num_components, event_size, dtype), name="loc"),
            scale_tril=tfp.util.TransformedVariable(
                initial_scale * tf.eye(event_size, batch_shape=[num_components], dtype=dtype),
                bijector=fill_scale_tril(dtype),
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
    event_size, num_components, initial_scale, logit_decay, dtype = _mixture_arguments(
        event_size,
        num_components,
        initial_scale,
        logit_decay,
        dtype,
        min_components=2,
        full_covariance=True,
    )
    tril = fill_scale_tril(dtype)
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
