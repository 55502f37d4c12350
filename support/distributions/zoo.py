"""Learnable ("trainable") distributions built from variables and bijectors.

Six builders, from a single Gaussian to mixtures whose first logit or first component is held fixed
(`tfb.Pad`, and `support.distributions.bijectors.PadEye`, re-exported here); each returns a
`tfd.Distribution` whose `trainable_variables` are exactly its free parameters. Notebook 01 defines
each builder in a code cell tagged `lesson:support.distributions.zoo`, and this module holds the
same definitions (`python -m tools lessons` checks that they match). Here each one is wrapped by
`_checked`, which checks the sizes (errors name the argument) before the body runs.

Serves notebook 01 (distribution zoo).
"""

from __future__ import annotations

import functools
import inspect

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
    "mixture_spherical_first_logit_fixed",
    "mvn_diag",
    "mvn_scaled_identity",
]

# ---------------------------------------------------------------------------- validation


def _checked(*, min_components: int = 1, full_covariance: bool = False):
    """Checks a builder's sizes (errors name the argument) before its body runs.

    `event_size` must be an integer >= 1 and `num_components` (a mixture's) one >=
    `min_components`; a mixture whose variables would not fit in memory (`full_covariance`:
    a `d x d` scale per component) is refused naming both sizes.
    """

    def decorate(build):
        signature = inspect.signature(build)

        @functools.wraps(build)
        def checked_build(*args, **kwargs):
            arguments = signature.bind(*args, **kwargs).arguments
            event_size = _checks.positive_int("event_size", arguments["event_size"])
            if "num_components" not in arguments:
                return build(event_size)
            num_components = _checks.integer(
                "num_components", arguments["num_components"], min=min_components
            )
            per_component = event_size * (event_size + 1) if full_covariance else event_size + 1
            # float32 variables, each held twice while it is built (initial value and variable)
            _checks.fits_in_memory(
                "event_size and num_components",
                2 * 4 * num_components * per_component,
                what=f"{num_components} components of dimension {event_size}",
            )
            return build(event_size, num_components)

        return checked_build

    return decorate


# ---------------------------------------------------------------------------- builders
# The notebook's lesson cells: edit them there and copy with `python -m tools lessons --write`.


@_checked()
def mvn_scaled_identity(event_size):
    """A Gaussian with a learnable mean and one learnable scale shared by every dimension."""
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros(event_size), name="loc"),
            scale=tfp.util.TransformedVariable(tf.ones([1]), bijector=tfb.Exp(), name="scale"),
        ),
        reinterpreted_batch_ndims=1,  # a batch of event_size Normals -> one event_size-vector
        name="mvn_scaled_identity",
    )


@_checked()
def mvn_diag(event_size):
    """A Gaussian with a learnable mean and a learnable scale per dimension."""
    return tfd.Independent(
        tfd.Normal(
            loc=tf.Variable(tf.zeros(event_size), name="loc"),
            scale=tfp.util.TransformedVariable(
                tf.ones(event_size), bijector=tfb.Softplus(), name="scale"
            ),
        ),
        reinterpreted_batch_ndims=1,
        name="mvn_diag",
    )


@_checked()
def mixture_spherical(event_size, num_components):
    """A mixture of spherical Gaussians: learnable weights, means and one scale per component."""
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(tf.zeros(num_components), name="logits")  # equal weights
        ),
        components_distribution=tfd.Independent(
            tfd.Normal(
                loc=tf.Variable(tf.random.normal([num_components, event_size]), name="loc"),
                scale=tfp.util.TransformedVariable(
                    10.0 * tf.ones([num_components, 1]),  # one scale per component
                    bijector=tfb.Softplus(),
                    name="scale",
                ),
            ),
            reinterpreted_batch_ndims=1,
        ),
        name="mixture_spherical",
    )


@_checked(min_components=2)
def mixture_spherical_first_logit_fixed(event_size, num_components):
    """A spherical mixture whose first logit is held at 0: only the others are learned."""
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                # logits fall linearly, so the weights decay geometrically
                -tf.math.log(1.5) * tf.range(num_components, dtype=tf.float32),
                bijector=tfb.Pad(paddings=[[1, 0]]),  # prepends the fixed logit 0
                name="logits",
            )
        ),
        components_distribution=tfd.Independent(
            tfd.Normal(
                loc=tf.Variable(
                    tfp.random.rademacher([num_components, event_size], tf.float32), name="loc"
                ),
                scale=tfp.util.TransformedVariable(
                    10.0 * tf.ones([num_components, 1]), bijector=tfb.Softplus(), name="scale"
                ),
            ),
            reinterpreted_batch_ndims=1,
        ),
        name="mixture_spherical_first_logit_fixed",
    )


@_checked(full_covariance=True)
def mixture_full_covariance(event_size, num_components):
    """A mixture of full-covariance Gaussians, each scale_tril through `tfb.FillScaleTriL`."""
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tf.Variable(tf.zeros(num_components), name="logits")
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tf.Variable(tf.zeros([num_components, event_size]), name="loc"),
            scale_tril=tfp.util.TransformedVariable(
                10.0 * tf.eye(event_size, batch_shape=[num_components]),
                # free entries -> lower-triangular L with a positive (softplus) diagonal
                bijector=tfb.FillScaleTriL(),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance",
    )


@_checked(min_components=2, full_covariance=True)
def mixture_full_covariance_first_fixed(event_size, num_components):
    """A full-covariance mixture whose first logit (0) and first component (N(0, I)) are fixed."""
    tril = tfb.FillScaleTriL()
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(
            logits=tfp.util.TransformedVariable(
                tf.zeros(num_components),
                bijector=tfb.Pad(paddings=[(1, 0)]),  # prepends the fixed logit 0
                name="logits",
            )
        ),
        components_distribution=tfd.MultivariateNormalTriL(
            loc=tfp.util.TransformedVariable(
                tf.zeros([num_components, event_size]),
                bijector=tfb.Pad(paddings=[(1, 0)], axis=-2),  # prepends the mean 0 as a row
                name="loc",
            ),
            scale_tril=tfp.util.TransformedVariable(
                10.0 * tf.eye(event_size, batch_shape=[num_components]),
                # right to left: PadEye prepends the row that `tril` maps to I, then `tril`
                bijector=tfb.Chain([tril, PadEye(tril)]),
                name="scale_tril",
            ),
        ),
        name="mixture_full_covariance_first_fixed",
    )
