"""Learnable ("trainable") distributions built from variables and bijectors.

Six builders, from a single Gaussian to mixtures whose first weight or first component is
held fixed (`tfb.Pad`, and `PadEye` from `support.distributions.bijectors`, re-exported here);
each returns a `tfd.Distribution` whose `trainable_variables` are exactly its free parameters.
Each body is plain TFP, the lesson notebook 01 shows with `support.show_source`; the argument
checks run before it, in the `_checked` decorator, out of the code the learner reads.

Serves notebook 01 (distribution zoo).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.distributions.bijectors import PadEye

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
]

# ---------------------------------------------------------------------------- validation


def _check_arguments(arguments: dict, *, min_components: int, full_covariance: bool) -> dict:
    """A builder's arguments (all of them, defaults applied), checked and normalised."""
    checked = dict(arguments)
    checked["event_size"] = event_size = _checks.positive_int("event_size", arguments["event_size"])
    mixture = "num_components" in arguments
    if mixture:
        checked["num_components"] = _checks.integer(
            "num_components", arguments["num_components"], min=min_components
        )
    checked["initial_scale"] = _checks.positive_float("initial_scale", arguments["initial_scale"])
    if mixture:
        checked["logit_decay"] = _checks.positive_float("logit_decay", arguments["logit_decay"])
    checked["dtype"] = dtype = _checks.floating_dtype("dtype", arguments["dtype"])
    if "seed" in arguments:
        checked["seed"] = _checks.seed("seed", arguments["seed"])
    if not mixture:
        return checked
    num_components = checked["num_components"]
    per_component = event_size * (event_size + 1) if full_covariance else event_size + 1
    # each variable is held twice while it is built (its initial value and the variable)
    _checks.fits_in_memory(
        "event_size and num_components",
        2 * dtype.size * num_components * per_component,
        what=f"{num_components} components of dimension {event_size}",
    )
    if arguments["initial_loc"] is not None:
        loc = _checks.finite_array(
            "initial_loc", arguments["initial_loc"], dtype=dtype.as_numpy_dtype
        )
        what = f"[{num_components}, {event_size}] (num_components, event_size)"
        _checks.shape("initial_loc", loc, (num_components, event_size), what=what)
        checked["initial_loc"] = tf.constant(loc)
    return checked


def _checked(*, min_components: int = 1, full_covariance: bool = False):
    """Checks a builder's arguments (errors name the argument) before its body runs.

    `min_components`: the fewest components accepted; `full_covariance`: a `d x d` scale each.
    """

    def decorate(build):
        signature = inspect.signature(build)

        @functools.wraps(build)
        def checked_build(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = _check_arguments(
                bound.arguments, min_components=min_components, full_covariance=full_covariance
            )
            return build(**arguments)

        return checked_build

    return decorate


# ---------------------------------------------------------------------------- builders


@_checked()
def mvn_scaled_identity(event_size: int = 4, *, initial_scale: float = 1.0, dtype=tf.float32):
    """A Gaussian with a learnable mean and one learnable scale shared by every dimension.

    Trainable variables: `loc` `[event_size]` (starts at 0) and `scale` `[1]` (stored as its
    log through `tfb.Exp`, so it stays positive).
    """
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros([event_size], dtype), name="loc"),
            scale=tfp.util.TransformedVariable(
                initial_scale * tf.ones([1], dtype), bijector=tfb.Exp(), name="scale"
            ),
        ),
        reinterpreted_batch_ndims=1,
        name="mvn_scaled_identity",
    )


@_checked()
def mvn_diag(event_size: int = 4, *, initial_scale: float = 1.0, dtype=tf.float32):
    """A Gaussian with a learnable mean and a learnable scale per dimension (Softplus)."""
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros([event_size], dtype), name="loc"),
            scale=tfp.util.TransformedVariable(
                initial_scale * tf.ones([event_size], dtype), bijector=tfb.Softplus(), name="scale"
            ),
        ),
        reinterpreted_batch_ndims=1,
        name="mvn_diag",
    )


@_checked()
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
    standard-normal draws from `seed`; scales at `initial_scale`; logit k at
    `k * log(1 / logit_decay)` (equal weights for the default 1).
    """
    if initial_loc is None:  # random means, the same for the same seed
        initial_loc = tf.random.stateless_normal(
            [num_components, event_size], [seed, 0], dtype=dtype
        )
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(
                np.log(1 / logit_decay) * tf.range(num_components, dtype=dtype), name="logits"
            )
        ),
        components_distribution=tfd.Independent(
            tfd.Normal(
                loc=tf.Variable(initial_loc, name="loc"),
                scale=tfp.util.TransformedVariable(  # one scale per component
                    initial_scale * tf.ones([num_components, 1], dtype),
                    bijector=tfb.Softplus(),
                    name="scale",
                ),
            ),
            reinterpreted_batch_ndims=1,
        ),
        name="mixture_spherical",
    )


@_checked(min_components=2)
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
    if initial_loc is None:  # random +-1 means, the same for the same seed
        initial_loc = tfp.random.rademacher([num_components, event_size], dtype, seed=[seed, 1])
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                np.log(1 / logit_decay) * tf.range(num_components, dtype=dtype),
                bijector=tfb.Pad(paddings=[[1, 0]]),  # prepends the fixed logit 0
                name="logits",
            )
        ),
        components_distribution=tfd.Independent(
            tfd.Normal(
                loc=tf.Variable(initial_loc, name="loc"),
                scale=tfp.util.TransformedVariable(
                    initial_scale * tf.ones([num_components, 1], dtype),
                    bijector=tfb.Softplus(),
                    name="scale",
                ),
            ),
            reinterpreted_batch_ndims=1,
        ),
        name="mixture_spherical_first_weight_fixed",
    )


@_checked(full_covariance=True)
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
    scale variable holds the `d(d+1)/2` unconstrained lower-triangular entries of each
    component.
    """
    if initial_loc is None:
        initial_loc = tf.zeros([num_components, event_size], dtype)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(
                np.log(1 / logit_decay) * tf.range(num_components, dtype=dtype), name="logits"
            )
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tf.Variable(initial_loc, name="loc"),
            scale_tril=tfp.util.TransformedVariable(
                initial_scale * tf.eye(event_size, batch_shape=[num_components], dtype=dtype),
                # free entries -> lower-triangular L with a positive (softplus) diagonal
                bijector=tfb.FillScaleTriL(
                    diag_bijector=tfb.Softplus(), diag_shift=tf.constant(1e-5, dtype)
                ),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance",
    )


@_checked(min_components=2, full_covariance=True)
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
    if initial_loc is None:
        initial_loc = tf.zeros([num_components, event_size], dtype)
    tril = tfb.FillScaleTriL(diag_bijector=tfb.Softplus(), diag_shift=tf.constant(1e-5, dtype))
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                np.log(1 / logit_decay) * tf.range(num_components, dtype=dtype),
                bijector=tfb.Pad(paddings=[(1, 0)]),  # prepends the fixed logit 0
                name="logits",
            )
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tfp.util.TransformedVariable(
                initial_loc,
                bijector=tfb.Pad(paddings=[(1, 0)], axis=-2),  # prepends the mean 0 as a row
                name="loc",
            ),
            scale_tril=tfp.util.TransformedVariable(
                initial_scale * tf.eye(event_size, batch_shape=[num_components], dtype=dtype),
                # right to left: PadEye prepends the row that `tril` maps to I, then `tril`
                bijector=tfb.Chain([tril, PadEye(tril)]),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance_first_fixed",
    )
