"""A kinetic-energy penalty for training FFJORD flows, through `tfb.FFJORD`'s own arguments.

A flow trained with a fixed-step solver can learn a field that its few steps follow badly
in places: the fixed steps then score the flow better than the continuous flow it defines
(notebook 02's solver check catches it). Penalising the field's kinetic energy along each
path, `int_0^1 |f(t, z(t))|^2 dt` (Finlay et al. 2020), favours straight paths at an even
speed, which a few Runge-Kutta steps follow well.

`tfb.FFJORD` already integrates one extra quantity next to the state: the trace of the
field's Jacobian, which its `trace_augmentation_fn` computes. `with_kinetic_penalty` wraps
that function so the integrand also carries `-weight * f**2`: the inverse pass (data to
base, as `log_prob` runs it) then returns `log p(x) - weight * E(x)`, E the path's kinetic
energy, and `-mean(log_prob)` over a batch is the penalised training loss. The one extra
term rides in the solve that runs anyway. A chain built with it is a training objective,
not a density: sample and score with the chain built without it (same fields, same
variables). `support.flows.single_solve.log_prob` computes the same objective in its fused loss.

Serves `notebooks/02_ffjord_moons.ipynb` (`KINETIC`) and `support.flows.single_solve`.

#### References

[1]: Finlay, C., Jacobsen, J.-H., Nurbekyan, L. and Oberman, A. M. How to train your
     neural ODE: the world of Jacobian and kinetic regularization. ICML 2020.
     https://arxiv.org/abs/2002.02798
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from support import _checks

__all__ = ["penalised_trace", "with_kinetic_penalty"]


def penalised_trace(trace: tf.Tensor, derivative: tf.Tensor, weight: float) -> tf.Tensor:
    """The integrand of the penalised log-det: `trace - weight * derivative**2`, per dimension
    (what `with_kinetic_penalty` integrates; `support.flows.single_solve` integrates its sum over
    the dimensions, the trace minus `weight` times the squared speed)."""
    return trace - tf.cast(weight, derivative.dtype) * tf.square(derivative)


def with_kinetic_penalty(trace_augmentation_fn: Callable, weight: float) -> Callable:
    """A `trace_augmentation_fn` for `tfb.FFJORD`: `trace_augmentation_fn`'s, penalised.

    The returned function augments a field as `trace_augmentation_fn` does and subtracts
    `weight * derivative**2` (per dimension, as the trace comes) from the trace: FFJORD's
    inverse log-det-Jacobian, and so `log_prob`, drop by `weight` times the path's kinetic
    energy. With `weight` 0 it is `trace_augmentation_fn` itself.

    Args:
      trace_augmentation_fn: any of `tfb.FFJORD`'s, e.g. `tfb.ffjord.trace_jacobian_exact`
        or `support.flows.traces.trace_jacobian_exact_fast`.
      weight: the penalty's weight, a finite number >= 0.

    Raises:
      TypeError: if `trace_augmentation_fn` is not callable or `weight` is not a number.
      ValueError: if `weight` is negative or not finite.

    Example:
      >>> import tensorflow_probability as tfp
      >>> exact = tfp.bijectors.ffjord.trace_jacobian_exact
      >>> with_kinetic_penalty(exact, 0.0) is exact
      True
    """
    _checks.callable_("trace_augmentation_fn", trace_augmentation_fn)
    weight = _checks.real("weight", weight, min=0)
    if weight == 0:
        return trace_augmentation_fn

    def penalised(ode_fn, state_shape, dtype):
        augmented = trace_augmentation_fn(ode_fn, state_shape, dtype)

        def augmented_ode_fn(time, state_log_det_jac, **kwargs):
            derivative, trace = augmented(time, state_log_det_jac, **kwargs)
            return derivative, penalised_trace(trace, derivative, weight)

        return augmented_ode_fn

    return penalised
