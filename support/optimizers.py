"""Optimisers with a learning-rate schedule, for training the notebooks' models.

`decaying_adam` is the optimiser `notebooks/02_ffjord_moons.ipynb` and
`benchmarks/bench_ffjord.py` train the FFJORD flow with: Adam whose rate falls along a
cosine. (`support.training.make_optimizer` is the plain constant-rate Adam `fit` defaults to.)
"""

from __future__ import annotations

import tf_keras

from support import _checks

__all__ = ["decaying_adam"]


def decaying_adam(learning_rate: float, decay_steps: int, *, final_fraction: float = 0.05):
    """`tf_keras` Adam whose learning rate follows a cosine from `learning_rate` down to
    `final_fraction * learning_rate` over `decay_steps` steps (then stays there).

    A flow trained with a constant 1e-2 keeps jittering around the optimum; letting the rate
    fall in the second half of training settles it and, for the moons, lowers the held-out
    NLL by about 0.1 nats in the same number of epochs.

    Raises:
      TypeError: for a rate or fraction that is not a number, or a non-integer step count.
      ValueError: for a non-positive rate or step count, or a fraction outside [0, 1].
    """
    learning_rate = _checks.positive_float("learning_rate", learning_rate)
    decay_steps = _checks.positive_int("decay_steps", decay_steps)
    final_fraction = _checks.probability("final_fraction", final_fraction)

    schedule = tf_keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps, alpha=final_fraction
    )
    return tf_keras.optimizers.Adam(learning_rate=schedule)
