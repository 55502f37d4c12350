"""The FFJORD tutorial's configuration (TFP's FFJORD demo), rebuilt as the benchmark's baseline.

Everything that sets the tutorial's speed and result is kept as it was published (see
`docs/reference.md`): 8192 moons points with noise 0.06 as float32; the `tf.data`
pipeline from_tensor_slices -> prefetch -> cache -> shuffle(8192) -> batch(256); a
`N(0, 0.8^2 I)` base; four stacked `tfb.FFJORD` bijectors whose state derivative is an MLP
2 x (Linear(8), tanh) + Linear(2) with time concatenated to the state and broadcast to the
state's static shape; `tfp.math.ode.DormandPrince(atol=1e-5)` (default rtol 1e-3, gradients
by the adjoint method); the exact trace (`trace="hutchinson"`: TFP's Hutchinson estimate
instead, the benchmark's baseline_hutchinson path); Sonnet's Adam at 1e-2; loss
-mean(log_prob(batch)); a `tf.function` train step without XLA (XLA cannot compile the
adjoint). The field is `support.flows.ode.DemoMLPODE` and the numbers are
`support.flows.ffjord.DEMO`: the one definition of the demo's set-up, which notebook 02 trains
with `-p RECIPE demo`.

Two things are added that do not change the computation: the data is seeded (the tutorial
sets no seed) so both benchmark paths see the same points, and the solver's forward
function-evaluation count is returned from the train step.

Used by `benchmarks/bench_ffjord.py`; the notebook it stands for is
`notebooks/02_ffjord_moons.ipynb`.
"""

from __future__ import annotations

import numpy as np
import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from support.flows.ffjord import DEMO
from support.flows.ode import DemoMLPODE
from support.flows.traces import check_trace

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = [
    "BATCH_SIZE",
    "DATASET_SIZE",
    "LEARNING_RATE",
    "NUM_FLOWS",
    "TRACES",
    "build_baseline",
    "make_dataset",
    "make_train_step",
]

# The demo's set-up, from the one definition notebook 02's `-p RECIPE demo` uses too.
DATASET_SIZE = 8192
BATCH_SIZE = DEMO["BATCH_SIZE"]
NUM_FLOWS = DEMO["NUM_FLOWS"]
HIDDEN_SIZES = DEMO["HIDDEN_SIZES"]
LEARNING_RATE = DEMO["LEARNING_RATE"]
ATOL = DEMO["ATOL"]


class _CountingSolve:
    """Wraps `solver.solve` to keep each call's forward evaluation count (a graph tensor)."""

    def __init__(self, solver):
        self._solver = solver
        self.counts: list = []

    def __call__(self, **kwargs):
        results = self._solver.solve(**kwargs)
        self.counts.append(results.diagnostics.num_ode_fn_evaluations)
        return results


def make_dataset(points: np.ndarray, batch_size: int = BATCH_SIZE) -> tf.data.Dataset:
    """The tutorial's pipeline: slices -> prefetch -> cache -> shuffle(8192) -> batch."""
    dataset = tf.data.Dataset.from_tensor_slices(points.astype(np.float32))
    dataset = dataset.prefetch(tf.data.experimental.AUTOTUNE).cache()
    return dataset.shuffle(DATASET_SIZE).batch(batch_size)


#: The demo's trace (its default) and the estimator it offers instead, by the names notebook 02's
#: `TRACE` takes: TFP's own functions, not the project's.
TRACES = {
    "exact": tfb.ffjord.trace_jacobian_exact,
    "hutchinson": tfb.ffjord.trace_jacobian_hutchinson,
}


def build_baseline(num_flows: int = NUM_FLOWS, atol: float = ATOL, trace: str = "exact"):
    """The tutorial's flow, with `trace` (a name in `TRACES`) as its trace augmentation.

    Returns:
      `(distribution, state_derivatives, counter)`: the `TransformedDistribution`, the
      MLPs (one per FFJORD, they hold the variables) and the evaluation counter.
    """
    trace = check_trace(trace)
    base = tfd.MultivariateNormalDiag(
        loc=np.zeros(2, np.float32), scale_diag=np.full(2, 0.8, np.float32)
    )
    counter = _CountingSolve(tfp.math.ode.DormandPrince(atol=atol, rtol=DEMO["RTOL"]))
    fields = [DemoMLPODE(hidden_sizes=HIDDEN_SIZES, output_size=2) for _ in range(num_flows)]
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=counter,
            trace_augmentation_fn=TRACES[trace],
        )
        for field in fields
    ]
    distribution = tfd.TransformedDistribution(base, tfb.Chain(bijectors[::-1]))
    return distribution, fields, counter


def make_train_step(distribution, counter, learning_rate: float = LEARNING_RATE):
    """The tutorial's `tf.function` train step (Sonnet Adam), returning `(loss, nfe)`."""
    optimizer = snt.optimizers.Adam(learning_rate)

    @tf.function
    def train_step(batch):
        counter.counts.clear()
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(distribution.log_prob(batch))
        variables = tape.watched_variables()
        gradients = tape.gradient(loss, variables)
        optimizer.apply(gradients, variables)
        return loss, tf.add_n([tf.cast(c, tf.int32) for c in counter.counts])

    return train_step
