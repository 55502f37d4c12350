"""Optimisers with a learning-rate schedule and a running average of the weights.

`decaying_adam` is the optimiser `notebooks/02_ffjord_moons.ipynb` and
`benchmarks/bench_ffjord.py` train the FFJORD flow with: Adam whose rate falls along a
cosine, optionally keeping an exponential moving average of the weights (Polyak averaging,
`tf_keras`'s `use_ema`), each variable updated by one fused op (`FusedAdam`).
`averaged_weights` puts such an average into the variables for a while (to evaluate or plot
the averaged model) and `use_averages` for good; `support.fit` calls both.
(`support.training.steps.make_optimizer` is the plain constant-rate Adam `fit` defaults to.)
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import tf_keras

from support import _checks

__all__ = ["FusedAdam", "averaged_weights", "decaying_adam", "keeps_average", "use_averages"]


class FusedAdam(tf_keras.optimizers.Adam):
    """`tf_keras` Adam whose update of a variable is one op: TensorFlow's fused Adam kernel.

    The arithmetic is Keras Adam's (`alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`, then
    `m`, `v` and `variable -= alpha * m / (sqrt(v) + epsilon)`), equal to float32 rounding;
    the slots, the moving average, the schedule, the checkpoints and `get_config` are Keras
    Adam's. Only the graph is smaller: Keras writes each variable's update as about twenty
    ops, so a traced training step of many small variables spends a share of its tracing on
    the optimizer (measured in benchmarks/README.md, "What was tried").
    Sparse gradients, `amsgrad` and `adaptive_epsilon` take Keras's own update.
    """

    def update_step(self, gradient, variable):
        if (
            isinstance(gradient, tf.IndexedSlices)
            or self.amsgrad
            or getattr(self, "adaptive_epsilon", False)
        ):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = _as(self.beta_1, dtype), _as(self.beta_2, dtype)
        index = self._index_dict[self._var_key(variable)]
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(self.learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=_as(self.epsilon, dtype),
            grad=gradient,
        )


def _as(value, dtype):
    """`value` in `dtype`; a Python float directly (`tf.cast` would round it to float32)."""
    return tf.cast(value, dtype) if tf.is_tensor(value) else tf.constant(value, dtype)


def decaying_adam(
    learning_rate: float,
    decay_steps: int,
    *,
    final_fraction: float = 0.05,
    average: float | None = None,
):
    """`tf_keras` Adam (as `FusedAdam`) whose learning rate follows a cosine from `learning_rate`
    down to `final_fraction * learning_rate` over `decay_steps` steps (then stays there).

    A flow trained with a constant 1e-2 keeps jittering around the optimum; letting the rate
    fall in the second half of training settles it and, for the moons, lowers the held-out
    NLL by about 0.1 nats in the same number of epochs.

    `average` (a momentum in [0, 1), None for none) makes the optimizer also keep an
    exponential moving average of the weights: after each update, `average * mean + (1 -
    average) * weights`, so about the last `1 / (1 - average)` steps count. Early in training,
    while the rate is high, the weights jitter from step to step around where they are heading
    and their average is a better model than the latest weights; `support.fit` shows the
    average to `on_epoch_end` and leaves it in the variables when it is done.

    Raises:
      TypeError: for a rate, fraction or average that is not a number, or a non-integer
        step count.
      ValueError: for a non-positive rate or step count, a fraction outside [0, 1] or an
        average outside [0, 1).
    """
    learning_rate = _checks.positive_float("learning_rate", learning_rate)
    decay_steps = _checks.positive_int("decay_steps", decay_steps)
    final_fraction = _checks.probability("final_fraction", final_fraction)
    if average is not None:
        average = _checks.real("average", average, min=0, lt=1)

    schedule = tf_keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps, alpha=final_fraction
    )
    if average is None:
        return FusedAdam(learning_rate=schedule)
    return FusedAdam(learning_rate=schedule, use_ema=True, ema_momentum=average)


def keeps_average(optimizer) -> bool:
    """Whether `optimizer` keeps a moving average of the weights (`tf_keras`'s `use_ema`)."""
    return bool(getattr(optimizer, "use_ema", False))


def use_averages(optimizer, variables) -> None:
    """Sets `variables` to `optimizer`'s moving averages of them, if it keeps any (as
    `tf_keras`'s `Model.fit` does at the end of training); otherwise leaves them as they are.

    The optimizer must have been built with `variables` (it is once it has updated them, or
    after `optimizer.build(variables)`).
    """
    if keeps_average(optimizer):
        optimizer.finalize_variable_values(list(variables))


@contextlib.contextmanager
def averaged_weights(optimizer, variables):
    """Within the block, `variables` hold `optimizer`'s moving averages of them (if it keeps
    any; otherwise they are left alone); on leaving, their own values come back, so training
    can go on from them::

        with averaged_weights(optimizer, flow.trainable_variables):
            nll = flow_eval.held_out_nll(flow, points).mean   # the averaged model's NLL
    """
    variables = list(variables)
    if not keeps_average(optimizer):
        yield
        return
    own = [v.read_value() for v in variables]
    use_averages(optimizer, variables)
    try:
        yield
    finally:
        for variable, value in zip(variables, own, strict=True):
            variable.assign(value)
