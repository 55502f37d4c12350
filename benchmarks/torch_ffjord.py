"""The FFJORD paper's 2-D toy training in PyTorch + torchdiffeq: the benchmark's second anchor.

Written for this benchmark after the set-up of `train_toy.py` in the paper's repository
(rtqichen/ffjord), with that script's defaults (see `benchmarks/README.md` for each one and
the file it comes from): one continuous normalizing flow whose state derivative is an MLP of
ConcatSquash layers 2 -> 64 -> 64 -> 64 -> 2 with tanh between them; data at time 0, the
base N(0, I) at a learned end time T (started at 0.5, trained through sqrt(T)); the exact
("brute force") divergence; `odeint_adjoint` with dopri5 at rtol = atol = 1e-5 (the adjoint
pass at the same tolerances); Adam at 1e-3 with weight decay 1e-5; batches of 100.

The benchmark trains it on its own data (`bench_ffjord._data`) and scores it with its own
evaluator, which takes TensorFlow state derivatives: `tf_mirror` gives TensorFlow callables
that compute the same field from the PyTorch weights, with time reversed and rescaled to the
evaluator's [0, 1] (TFP's FFJORD runs from the base at 0 to the data at 1). TensorFlow is
imported only inside `tf_mirror`, so the benchmark can keep that import off the clock.

Used by `benchmarks/bench_ffjord.py --with-torch`; tested in `tests/benchmarks/test_bench_torch.py`.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

__all__ = ["CONFIG", "Flow", "epochs", "make_train_step", "setup", "tf_mirror"]

#: `train_toy.py`'s defaults, as used here.
CONFIG = {
    "HIDDEN_DIMS": (64, 64, 64),
    "LAYER_TYPE": "concatsquash",
    "NONLINEARITY": "tanh",
    "NUM_BLOCKS": 1,
    "TIME_LENGTH": 0.5,
    "TRAIN_T": True,
    "DIVERGENCE": "brute_force",
    "SOLVER": "dopri5",
    "ATOL": 1e-5,
    "RTOL": 1e-5,
    "ADJOINT": True,
    "BATCH_SIZE": 100,
    "LEARNING_RATE": 1e-3,
    "WEIGHT_DECAY": 1e-5,
    "BASE": "standard normal",
}


class ConcatSquashLinear(nn.Module):
    """`linear(x) * sigmoid(gate(t)) + bias(t)`: time gates and shifts every unit."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out)
        self.gate = nn.Linear(1, dim_out)
        self.shift = nn.Linear(1, dim_out, bias=False)

    def forward(self, t, x):
        t = t.reshape(1, 1)
        return self.linear(x) * torch.sigmoid(self.gate(t)) + self.shift(t)


class Field(nn.Module):
    """The state derivative f(t, z): ConcatSquash layers with tanh between them."""

    def __init__(self, hidden_dims=CONFIG["HIDDEN_DIMS"], dim: int = 2):
        super().__init__()
        sizes = [dim, *hidden_dims, dim]
        self.layers = nn.ModuleList(
            ConcatSquashLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )

    def forward(self, t, z):
        for k, layer in enumerate(self.layers):
            z = layer(t, z)
            if k < len(self.layers) - 1:
                z = torch.tanh(z)
        return z


class Dynamics(nn.Module):
    """(dz/dt, d(delta log p)/dt) = (f, -tr(df/dz)), the trace exact; counts its calls."""

    def __init__(self, field: Field):
        super().__init__()
        self.field = field
        self.calls = 0

    def forward(self, t, state):
        z = state[0]
        self.calls += 1
        if not (torch.is_grad_enabled() and z.requires_grad):
            # The forward solve runs without autograd: a fresh leaf to differentiate against
            # (the adjoint pass calls with autograd on, z a function of its state).
            z = z.detach().requires_grad_(True)
        with torch.enable_grad():
            dz = self.field(t, z)
            trace = sum(
                torch.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
                for i in range(z.shape[1])
            )
        return dz, -trace.reshape(-1, 1)


class Block(nn.Module):
    """One continuous normalizing flow from the data (time 0) to the base (time T)."""

    def __init__(self, hidden_dims=CONFIG["HIDDEN_DIMS"], time_length=CONFIG["TIME_LENGTH"]):
        super().__init__()
        self.dynamics = Dynamics(Field(hidden_dims))
        self.sqrt_end_time = nn.Parameter(torch.tensor(math.sqrt(time_length)))
        if not CONFIG["TRAIN_T"]:
            self.sqrt_end_time.requires_grad_(False)

    @property
    def end_time(self):
        return self.sqrt_end_time * self.sqrt_end_time

    def forward(self, z, delta_logp, *, adjoint=True, rtol=CONFIG["RTOL"], atol=CONFIG["ATOL"]):
        times = torch.stack([torch.zeros_like(self.end_time), self.end_time]).to(z)
        solve = odeint_adjoint if adjoint else odeint
        z_t, logp_t = solve(
            self.dynamics, (z, delta_logp), times, rtol=rtol, atol=atol, method=CONFIG["SOLVER"]
        )
        return z_t[-1], logp_t[-1]


class Flow(nn.Module):
    """The stacked blocks (the paper's default: one) and the standard normal base."""

    def __init__(self, num_blocks=CONFIG["NUM_BLOCKS"], hidden_dims=CONFIG["HIDDEN_DIMS"]):
        super().__init__()
        self.blocks = nn.ModuleList(Block(hidden_dims) for _ in range(num_blocks))

    def log_prob(self, x, **solve):
        """log p(x) = log N(z(T); 0, I) + integral of tr(df/dz) dt, per point."""
        z, delta_logp = x, torch.zeros(x.shape[0], 1, dtype=x.dtype)
        for block in self.blocks:
            z, delta_logp = block(z, delta_logp, **solve)
        log_base = -0.5 * (z**2).sum(1) - z.shape[1] * 0.5 * math.log(2 * math.pi)
        return log_base - delta_logp[:, 0]

    def calls(self) -> int:
        return sum(block.dynamics.calls for block in self.blocks)


def setup(seed: int, num_blocks: int = CONFIG["NUM_BLOCKS"]) -> Flow:
    """Seeds PyTorch, lets it use every core, and builds the flow (PyTorch's default init)."""
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    return Flow(num_blocks)


def make_train_step(
    flow: Flow, learning_rate=CONFIG["LEARNING_RATE"], decay=CONFIG["WEIGHT_DECAY"]
):
    """Adam on -mean log p(batch), gradients by the adjoint; returns `(loss, forward calls)`."""
    optimizer = torch.optim.Adam(flow.parameters(), lr=learning_rate, weight_decay=decay)

    def train_step(batch):
        optimizer.zero_grad()
        for block in flow.blocks:
            block.dynamics.calls = 0
        loss = -flow.log_prob(batch).mean()
        forward_calls = flow.calls()  # before the backward pass adds the adjoint's calls
        loss.backward()
        optimizer.step()
        return loss.detach(), forward_calls

    return train_step


def epochs(points: np.ndarray, count: int, *, seed: int, batch_size=CONFIG["BATCH_SIZE"]):
    """`count` epochs, each a callable giving one fresh shuffled pass in batches of `batch_size`.

    An epoch is one pass over the points: 8192 // 100 = 81 batches, the 92 left over after
    this epoch's shuffle wait for the next.
    """
    data = torch.from_numpy(np.asarray(points, np.float32))
    generator = torch.Generator().manual_seed(seed)

    def one_epoch():
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data) - batch_size + 1, batch_size):
            yield data[order[start : start + batch_size]]

    return (one_epoch for _ in range(count))


def tf_mirror(flow: Flow):
    """TensorFlow state derivatives computing `flow`'s fields from its current weights.

    Returns `(fields, sync)`: `fields` in the order the benchmark's evaluator stacks them
    (the one next to the base first), each f_tf(s, z) = -T f(T (1 - s), z), so that TFP's
    FFJORD, from the base at s = 0 to the data at s = 1, follows the same path as the PyTorch
    block from the base at t = T back to the data at t = 0; `sync()` copies the PyTorch
    weights into the mirror's variables (call it before each evaluation).
    """
    import tensorflow as tf

    def numpy_weights(block):
        weights = [block.sqrt_end_time.detach().numpy()]
        for layer in block.dynamics.field.layers:
            for module in (layer.linear, layer.gate):
                weights += [module.weight.detach().numpy().T, module.bias.detach().numpy()]
            weights.append(layer.shift.weight.detach().numpy().T)
        return weights

    def make_field(variables):
        sqrt_end_time, layers = variables[0], variables[1:]

        def field(s, z):
            end_time = sqrt_end_time * sqrt_end_time
            t = tf.reshape(end_time * (1.0 - tf.cast(s, z.dtype)), [1, 1])
            for k in range(0, len(layers), 5):
                weight, bias, gate_weight, gate_bias, shift_weight = layers[k : k + 5]
                gate = tf.sigmoid(t @ gate_weight + gate_bias)
                z = (z @ weight + bias) * gate + t @ shift_weight
                if k + 5 < len(layers):
                    z = tf.tanh(z)
            return -end_time * z

        return field

    blocks = list(flow.blocks)[::-1]  # the evaluator's first flow is the one next to the base
    variables = [[tf.Variable(w, dtype=tf.float32) for w in numpy_weights(b)] for b in blocks]

    def sync():
        for block, block_variables in zip(blocks, variables, strict=True):
            for variable, value in zip(block_variables, numpy_weights(block), strict=True):
                variable.assign(value)

    return [make_field(v) for v in variables], sync
