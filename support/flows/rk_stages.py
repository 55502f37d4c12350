"""Runge-Kutta steps taken one stage per loop iteration, and what their backward pass keeps.

In the classic tableaux (Euler, the midpoint method, RK4) every stage reads only the slope of
the stage before it, so a stage needs three things: the step's start, the running sum of
the weighted slopes, and that slope. `stage_advance` is one iteration over that carry
`(state, sum, slope)`; `support.flows.runge_kutta.integrate` runs it in its loops, one field
evaluation per loop body.

Its recomputing backward pass needs each iteration's carry again. Kept whole, that is three
states per stage (twelve per RK4 step). `stage_store` keeps one: the step's start at its
first stage, the slope that enters the stage at the others (four states per RK4 step); the
sum is rebuilt from the step's slopes, in the order the forward loop added them, so the
rebuilt carry equals the forward one.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["chained_stages", "stage_advance", "stage_store"]


def chained_stages(tableau):
    """For a tableau whose every stage reads only the slope of the stage before it (Euler,
    the midpoint method, classic RK4), that slope's coefficient in each stage; else None."""
    a, _, _ = tableau
    if any(any(row[:-1]) for row in a):
        return None
    return (0.0, *(row[-1] for row in a))


def stage_advance(field, start, step, tableau, chained):
    """Iteration `k` over `(state, sum, slope)` as stage `k % stages` of step `k // stages`:
    the field at the stage's time on `state + step * chained[stage] * slope` (the previous
    stage's slope), `step * b[stage]` times it added to `sum`, and after the last stage
    `state` moved on by `sum`, which is cleared: `_rk_step`'s sums, in stage order."""
    _, b, c = tableau
    stages = len(c)
    dtype = start.dtype
    previous, weights, offsets = (tf.constant(x, dtype) for x in (chained, b, c))

    def advance(k, carry, extra):
        state, total, slope = carry
        stage = k % stages
        time = start + (tf.cast(k // stages, dtype) + tf.gather(offsets, stage)) * step
        into, weight = step * tf.gather(previous, stage), step * tf.gather(weights, stage)
        stage_state = tf.nest.map_structure(lambda y, s: y + into * s, state, slope)
        slope = field(time, stage_state, **extra)
        total = tf.nest.map_structure(lambda t, s: t + weight * s, total, slope)
        done = tf.cast(tf.equal(stage, stages - 1), dtype)  # 1 after the step's last stage
        state = tf.nest.map_structure(lambda y, t: y + done * t, state, total)
        total = tf.nest.map_structure(lambda t: (1.0 - done) * t, total)
        return state, total, slope

    return advance


def stage_store(step, tableau, num_leaves):
    """`(keep, restore)` for the recomputing loop over `stage_advance`'s carry, flattened
    (`num_leaves` leaves of the state, then of the sum, then of the slope).

    `keep(k, leaves)` is what iteration `k` stores: the state's leaves at a step's first
    stage, the slope's at the others. `restore(k, read)` rebuilds iteration `k`'s carry from
    `read(i)`, the leaves stored at iteration `i`: the step's start, the slope entering
    stage `k % stages` (zeros at the first stage, where its coefficient is zero), and the sum
    of the slopes before it weighted by `step * b`."""
    _, b, c = tableau
    stages = len(c)
    weights = [step * tf.constant(w, step.dtype) for w in b]

    def keep(k, leaves):
        first = tf.equal(k % stages, 0)
        state, slope = leaves[:num_leaves], leaves[2 * num_leaves :]
        return [tf.where(first, y, s) for y, s in zip(state, slope, strict=True)]

    def restore(k, read):
        stage, base = k % stages, k - k % stages
        state = read(base)
        total = [tf.zeros_like(y) for y in state]
        for i in range(1, stages):  # the slope stage i - 1 made, counted once stage i begins
            counted = tf.cast(i <= stage, step.dtype) * weights[i - 1]
            total = [t + counted * s for t, s in zip(total, read(base + i), strict=True)]
        entering = read(k)
        later = stage > 0
        slope = [tf.where(later, s, tf.zeros_like(s)) for s in entering]
        return state + total + slope

    return keep, restore
