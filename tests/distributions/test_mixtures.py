"""Tests of support.distributions.mixtures: a normal mixture's weights, means and deviations."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_probability as tfp

from support.distributions.mixtures import mixture_params

tfd = tfp.distributions


def test_mixture_params_match_a_hand_built_mixture_of_normals_exactly():
    weights = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], np.float64)
    means = np.array([[-1.0, 0.0, 2.0], [3.0, -2.0, 0.5]])
    scales = np.array([[0.1, 1.0, 2.5], [0.3, 0.7, 1.1]])
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(probs=weights), tfd.Normal(loc=means, scale=scales)
    )
    params = mixture_params(mixture)
    np.testing.assert_array_equal(params.weights, weights)
    np.testing.assert_array_equal(params.means, means)
    np.testing.assert_array_equal(params.stddevs, scales)


def test_mixture_params_squeeze_independent_normals_with_one_dimensional_events():
    weights = np.array([[0.25, 0.75]] * 4)
    means = np.arange(8.0).reshape(4, 2, 1)
    scales = np.full((4, 2, 1), 0.5)
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(probs=weights),
        tfd.Independent(tfd.Normal(means, scales), reinterpreted_batch_ndims=1),
    )
    params = mixture_params(mixture)
    assert params.weights.shape == params.means.shape == params.stddevs.shape == (4, 2)
    np.testing.assert_array_equal(params.means, means[..., 0])
    np.testing.assert_array_equal(params.stddevs, scales[..., 0])


def test_mixture_params_keep_the_event_axis_of_multivariate_components():
    batch, components, dims = (2, 3), 4, 2
    rng = np.random.default_rng(0)
    locs = rng.normal(size=(*batch, components, dims))
    scales = rng.uniform(0.5, 2.0, size=(*batch, components, dims))
    logits = rng.normal(size=(*batch, components))
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits), tfd.MultivariateNormalDiag(locs, scales)
    )
    params = mixture_params(mixture)
    assert params.weights.shape == (*batch, components)
    assert params.means.shape == params.stddevs.shape == (*batch, components, dims)
    np.testing.assert_allclose(params.weights.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(params.means, locs)
    np.testing.assert_allclose(params.stddevs, scales)


@pytest.mark.parametrize(
    "distribution",
    [
        tfd.Normal(0.0, 1.0),
        tfd.MixtureSameFamily(tfd.Categorical(logits=[0.0, 0.0]), tfd.Logistic([0.0, 1.0], 1.0)),
        tfd.MixtureSameFamily(
            tfd.Categorical(logits=[0.0, 0.0]),
            tfd.Independent(tfd.Laplace([[0.0], [1.0]], 1.0), reinterpreted_batch_ndims=1),
        ),
        np.zeros(3),
    ],
    ids=["normal", "mixture-of-logistics", "mixture-of-independent-laplace", "array"],
)
def test_mixture_params_reject_anything_but_a_mixture_of_normals(distribution):
    with pytest.raises(TypeError, match="distribution must be a"):
        mixture_params(distribution)
