"""One Runge-Kutta stage per iteration (`support.flows.rk_stages`): the carry the recomputing
backward pass rebuilds is the forward one, from one stored state per stage."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from support.flows.rk_stages import chained_stages, stage_advance, stage_store
from support.flows.runge_kutta import METHODS, integrate


def _field(t, state):
    z, w = state
    return tf.sin(z) * (1.0 + t) - 0.3 * z, tf.reduce_sum(z * z, axis=-1) - w


def _forward_carries(method, num_steps, seed):
    """Every iteration's input carry, flattened, from running `stage_advance` eagerly."""
    rng = np.random.default_rng(seed)
    tableau = METHODS[method]
    start, step = tf.constant(0.2, tf.float64), tf.constant(0.15, tf.float64)
    state = (tf.constant(rng.normal(size=(5, 2))), tf.constant(rng.normal(size=5)))
    advance = stage_advance(_field, start, step, tableau, chained_stages(tableau))
    carry = (state, *[tf.nest.map_structure(tf.zeros_like, state)] * 2)
    carries = []
    for k in range(num_steps * len(tableau[2])):
        carries.append(tf.nest.flatten(carry))
        carry = advance(tf.constant(k), carry, {})
    return carries, step, tableau


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_rebuilt_carry_is_the_forward_one(method, seed):
    carries, step, tableau = _forward_carries(method, num_steps=3, seed=seed)
    keep, restore = stage_store(step, tableau, num_leaves=2)
    stored = [keep(tf.constant(k), leaves) for k, leaves in enumerate(carries)]
    stages = len(tableau[2])
    for k, leaves in enumerate(carries):
        rebuilt = restore(tf.constant(k), lambda i: stored[int(i)])
        assert len(rebuilt) == len(leaves) == 6
        state_and_sum = 4  # the state's and the sum's leaves: equal bit for bit
        for got, want in zip(rebuilt[:state_and_sum], leaves[:state_and_sum], strict=True):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
        if k % stages:  # the slope entering a later stage
            for got, want in zip(rebuilt[state_and_sum:], leaves[state_and_sum:], strict=True):
                np.testing.assert_array_equal(got.numpy(), want.numpy())
        else:  # at a step's first stage the slope is multiplied by zero: rebuilt as zeros
            assert all(not np.any(x.numpy()) for x in rebuilt[state_and_sum:])
    if method == "rk4":  # the sums rebuilt above were not all zero
        assert all(np.any(carries[k][2].numpy()) for k in range(1, stages))


def test_each_stage_keeps_one_state():
    carries, step, tableau = _forward_carries("rk4", num_steps=2, seed=0)
    keep, _ = stage_store(step, tableau, num_leaves=2)
    for k, leaves in enumerate(carries):
        kept = keep(tf.constant(k), leaves)
        want = leaves[:2] if k % 4 == 0 else leaves[4:]
        assert len(kept) == 2
        for got, expected in zip(kept, want, strict=True):
            np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_a_traced_rk4_solve_stores_four_states_per_step():
    # What the forward loop of `integrate` allocates for its backward pass: the sizes and
    # element shapes of its TensorArrays in the traced graph.
    num_steps, batch = 6, 7

    @tf.function
    def solve(z):
        state = (z, tf.zeros([batch], tf.float64))
        return integrate(
            _field,
            tf.constant(0.0, tf.float64),
            tf.constant(1.0, tf.float64),
            state,
            num_steps=num_steps,
        )

    graph = solve.get_concrete_function(tf.TensorSpec([batch, 2], tf.float64)).graph
    # TensorArrays in a traced while loop are TensorLists: (element shape, size) inputs.
    lists = [op for op in graph.get_operations() if op.type == "TensorListReserve"]
    assert lists, "the recomputing solve stores its states in TensorArrays"
    stored = 0
    for op in lists:
        shape, size = (tf.get_static_value(x) for x in op.inputs)
        stored += int(size) * int(np.prod(shape))
    state_size = batch * 2 + batch
    assert stored == 4 * num_steps * state_size  # not 12 (state, sum and slope per stage)
