"""Helpers shared by the estimator tests: k standard errors, Normal distributions of a dtype."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
K = 4.0


def within_k_stderr(estimate, stderr, truth):
    """Asserts |estimate - truth| < K stderr elementwise, with every stderr positive."""
    estimate, stderr = np.asarray(estimate), np.asarray(stderr)
    assert np.all(stderr > 0), stderr
    np.testing.assert_array_less(np.abs(estimate - truth), K * stderr)


def normal(loc, scale, dtype):
    """A batch of Normals with `loc` and `scale` as tensors of `dtype`."""
    return tfd.Normal(tf.constant(loc, dtype), tf.constant(scale, dtype))
