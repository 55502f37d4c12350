"""The small model the training and checkpoint tests fit, and helpers to run and compare it."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from support.training import fit

TRUE_WEIGHTS = np.array([1.0, -2.0, 0.5], dtype="float32")


class Regression(tf.Module):
    """A linear model `x @ w + b` with a mean squared error, on a shuffled dataset."""

    def __init__(self, seed: int, size: int = 256, batch: int = 32, shuffle: bool = True):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(size, 3)).astype("float32")
        y = x @ TRUE_WEIGHTS + 0.1 + rng.normal(scale=0.1, size=size).astype("float32")
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(size, seed=seed % 2**31)
        self.dataset = dataset.batch(batch)
        self.w = tf.Variable(tf.zeros(3), name="w")
        self.b = tf.Variable(0.0, name="b")

    def loss(self, x, y):
        return tf.reduce_mean((tf.linalg.matvec(x, self.w) + self.b - y) ** 2)

    def values(self):
        return [self.w.numpy(), self.b.numpy()]


def run(model, **kwargs):
    kwargs.setdefault("progress", False)
    return fit(model.loss, [model.w, model.b], model.dataset, **kwargs)


def stop_at(epoch, error=KeyboardInterrupt):
    def callback(done, history):
        if done == epoch:
            raise error("stop")
        return done

    return callback


def assert_bit_identical(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def nan_at_step(model, bad_step):
    """The model's loss, except that step `bad_step` (1-based) returns NaN."""
    calls = tf.Variable(0)

    def loss(x, y):
        calls.assign_add(1)
        poison = tf.where(tf.equal(calls, bad_step), np.float32("nan"), 0.0)
        return model.loss(x, y) + poison

    return loss
