"""An MLP field's value and Jacobian diagonal in one forward pass, and its backward pass.

FFJORD's exact trace needs the diagonal of the field's Jacobian `d f_i / d z_i`. For a
multi-layer perceptron it comes out of the forward pass: the derivative of every hidden unit
with respect to each state coordinate (the *tangents*) is carried through the layers next to
its value, by the chain rule (`mlp_value_and_jacobian_diagonal`).

Training differentiates that pass once more, with respect to the state and the weights.
TensorFlow could do it by itself, but the backward pass written out here (reverse mode
through the layers, using each activation's second derivative, `ACTIVATION_CURVATURES`) is a
smaller graph with fewer, larger ops; what that saves in notebook 02's training step is
measured in `benchmarks/README.md`. It gives the same gradients as TensorFlow's own (tested
against nested gradient tapes for every activation). Only first derivatives are provided:
nothing differentiates the diagonal twice.

When only the trace (the diagonal's sum) is wanted, as in FFJORD's log-density, a field of one
or two hidden layers needs no tangents at all (`mlp_value_and_trace`): the trace is a bilinear
form in the two layers' slopes, `sum(s1 @ M * s2)` with a fixed `[h1, h2]` matrix `M` made of the
weights, one matrix product per evaluation instead of one per state coordinate. TensorFlow
differentiates it; in notebook 02's training step it takes the place of the diagonal
(`benchmarks/README.md`).

Serves `support.flows.ode.MLPODE` and `support.flows.single_solve`.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_CURVATURES",
    "ACTIVATION_SLOPES",
    "mlp_value_and_jacobian_diagonal",
    "mlp_value_and_trace",
]

#: Activations `MLPODE` accepts by name. A smooth one keeps the ODE's solution smooth,
#: which the adaptive solvers rely on; ReLU fields make them take tiny steps.
ACTIVATIONS: dict[str, Callable[[tf.Tensor], tf.Tensor]] = {
    "tanh": tf.math.tanh,
    "softplus": tf.math.softplus,
    "elu": tf.nn.elu,
    "swish": tf.nn.silu,
}

#: The slope of each activation in `ACTIVATIONS`, from its input `x` and output `y`.
ACTIVATION_SLOPES: dict[str, Callable[[tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "tanh": lambda x, y: 1.0 - tf.square(y),
    "softplus": lambda x, y: tf.math.sigmoid(x),
    "elu": lambda x, y: tf.where(x > 0, tf.ones_like(x), y + 1.0),
    "swish": lambda x, y: tf.math.sigmoid(x) * (1.0 + x - y),
}


def _swish_curvature(x, y, s):
    sigmoid = tf.math.sigmoid(x)
    return sigmoid * (1.0 - sigmoid) * (2.0 + x * (1.0 - 2.0 * sigmoid))


#: The slope's own derivative (the activation's second derivative), from the input `x`, the
#: output `y` and the slope `s`: the diagonal's backward pass needs it.
ACTIVATION_CURVATURES: dict[str, Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]] = {
    "tanh": lambda x, y, s: -2.0 * y * s,
    "softplus": lambda x, y, s: s * (1.0 - s),
    "elu": lambda x, y, s: tf.where(x > 0, tf.zeros_like(x), s),
    "swish": _swish_curvature,
}


def mlp_value_and_jacobian_diagonal(weights, biases, t, state, activation: str):
    """An MLP field's value and its Jacobian diagonal from its weights, in one forward pass.

    The network is `[t, z] -> Linear -> activation -> ... -> Linear`: the time as the first
    input column. Gradients (with respect to `state`, `t`, `weights` and `biases`, variables
    or tensors) come from the hand-written backward pass (see the module docstring).

    Args:
      weights: matrices `[1 + size, h1], [h1, h2], ..., [hn, size]` (time row first).
      biases: the matching bias vectors.
      t: scalar time.
      state: `[batch, size]` tensor.
      activation: the hidden layers' activation, a key of `ACTIVATIONS`.

    Returns:
      `(value, diagonal)`, both `[batch, size]`.

    Example:
      >>> w = [tf.ones([3, 4]), tf.ones([4, 2])]
      >>> b = [tf.zeros([4]), tf.zeros([2])]
      >>> value, diagonal = mlp_value_and_jacobian_diagonal(w, b, 0.0, tf.zeros([1, 2]), "tanh")
      >>> value.numpy().tolist(), diagonal.numpy().tolist()
      ([[0.0, 0.0]], [[4.0, 4.0]])
    """
    state = tf.convert_to_tensor(state)
    # Variables are read here, outside the custom gradient: gradients reach them through
    # the reads, in graph and eager mode alike.
    parameters = [tf.convert_to_tensor(p, state.dtype) for p in [*weights, *biases]]
    t = tf.cast(t, state.dtype)  # as `MLPODE.__call__` casts it
    return _value_and_diagonal(len(weights), activation, state, t, *parameters)


def _value_and_diagonal(num_layers, activation, state, t, *parameters):
    act, slope = ACTIVATIONS[activation], ACTIVATION_SLOPES[activation]
    curvature = ACTIVATION_CURVATURES[activation]

    @tf.custom_gradient
    def value_and_diagonal(state, t, *parameters):
        weights, biases = parameters[:num_layers], parameters[num_layers:]
        inputs = [tf.concat([tf.fill([tf.shape(state)[0], 1], t), state], axis=-1)]
        pres, slopes, carried, tangents = [], [], [], []  # per hidden layer
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            pre = tf.matmul(inputs[-1], w) + b
            hidden = act(pre)
            s = slope(pre, hidden)
            # d pre / d z: the state's rows of the first matrix, then the tangents times w.
            into = w[1:][None] if not tangents else tf.einsum("bih,hk->bik", tangents[-1], w)
            pres.append(pre)
            slopes.append(s)
            carried.append(into)
            inputs.append(hidden)
            tangents.append(into * s[:, None, :])  # [batch, coordinate i, unit]: d h / d z_i
        last = tf.transpose(weights[-1])  # [size, units]
        value = tf.matmul(inputs[-1], weights[-1]) + biases[-1]
        diagonal = tf.reduce_sum(tangents[-1] * last[None], axis=-1)  # d value_i / d z_i

        def gradient(value_grad, diagonal_grad):
            # Reverse mode through the layers: `hidden_grad` for the values, `tangent_grad`
            # for the tangents, [batch, i, unit].
            tangent_grad = diagonal_grad[:, :, None] * last[None]
            weight_grads = [
                tf.matmul(inputs[-1], value_grad, transpose_a=True)
                + tf.transpose(tf.reduce_sum(tangents[-1] * diagonal_grad[:, :, None], 0))
            ]
            bias_grads = [tf.reduce_sum(value_grad, 0)]
            hidden_grad = tf.matmul(value_grad, weights[-1], transpose_b=True)
            for layer in reversed(range(num_layers - 1)):
                w, pre, s = weights[layer], pres[layer], slopes[layer]
                into_grad = tangent_grad * s[:, None, :]
                slope_grad = tf.reduce_sum(tangent_grad * carried[layer], axis=1)
                pre_grad = hidden_grad * s + slope_grad * curvature(pre, inputs[layer + 1], s)
                weight_grad = tf.matmul(inputs[layer], pre_grad, transpose_a=True)
                if layer == 0:  # the first matrix's state rows made the first tangents
                    weight_grad += tf.pad(tf.reduce_sum(into_grad, 0), [[1, 0], [0, 0]])
                else:
                    weight_grad += tf.einsum("bih,bik->hk", tangents[layer - 1], into_grad)
                    tangent_grad = tf.einsum("bik,hk->bih", into_grad, w)
                weight_grads.append(weight_grad)
                bias_grads.append(tf.reduce_sum(pre_grad, 0))
                hidden_grad = tf.matmul(pre_grad, w, transpose_b=True)
            state_grad, time_grad = hidden_grad[:, 1:], tf.reduce_sum(hidden_grad[:, 0])
            return (state_grad, time_grad, *weight_grads[::-1], *bias_grads[::-1])

        return (value, diagonal), gradient

    return value_and_diagonal(state, t, *parameters)


def mlp_value_and_trace(weights, biases, t, state, activation: str):
    """An MLP field's value and its Jacobian trace `sum_i d f_i / d z_i`, in one forward pass.

    The network is as in `mlp_value_and_jacobian_diagonal`. With one hidden layer (slopes
    `s1`, the first matrix's state rows `A`, the last matrix `C`) the Jacobian is
    `C^T diag(s1) A^T`, so its trace is `s1 @ v` with `v[m] = sum_i A[i, m] C[m, i]`. With two
    (the middle matrix `B`, slopes `s2`) it is `C^T diag(s2) B^T diag(s1) A^T`, whose trace is
    `sum_{m, k} s1[m] M[m, k] s2[k]` with `M = (A^T C^T) * B`: one `[batch, h1] x [h1, h2]`
    product, whatever the state's size. Deeper networks sum `mlp_value_and_jacobian_diagonal`'s
    diagonal. Gradients are TensorFlow's own (they need the activation's second derivative,
    which TensorFlow takes from the slope).

    Args:
      weights: matrices `[1 + size, h1], ..., [hn, size]` (time row first).
      biases: the matching bias vectors.
      t: scalar time.
      state: `[batch, size]` tensor.
      activation: the hidden layers' activation, a key of `ACTIVATIONS`.

    Returns:
      `(value, trace)`, shaped `[batch, size]` and `[batch]`.

    Example:
      >>> w = [tf.ones([3, 4]), tf.ones([4, 4]), tf.ones([4, 2])]
      >>> b = [tf.zeros([4]), tf.zeros([4]), tf.zeros([2])]
      >>> value, trace = mlp_value_and_trace(w, b, 0.0, tf.zeros([1, 2]), "tanh")
      >>> value.numpy().tolist(), trace.numpy().tolist()
      ([[0.0, 0.0]], [32.0])
    """
    if len(weights) not in (2, 3):
        value, diagonal = mlp_value_and_jacobian_diagonal(weights, biases, t, state, activation)
        return value, tf.reduce_sum(diagonal, axis=-1)
    state = tf.convert_to_tensor(state)
    weights = [tf.convert_to_tensor(w, state.dtype) for w in weights]
    biases = [tf.convert_to_tensor(b, state.dtype) for b in biases]
    act, slope = ACTIVATIONS[activation], ACTIVATION_SLOPES[activation]
    t = tf.cast(t, state.dtype)
    hidden = tf.concat([tf.fill([tf.shape(state)[0], 1], t), state], axis=-1)
    slopes = []
    for w, b in zip(weights[:-1], biases[:-1], strict=True):
        pre = tf.matmul(hidden, w) + b
        hidden = act(pre)
        slopes.append(slope(pre, hidden))
    value = tf.matmul(hidden, weights[-1]) + biases[-1]
    # A^T C^T: [h1, size] x [size, hn], the state's path around the hidden layers.
    around = tf.matmul(weights[0][1:], weights[-1], transpose_a=True, transpose_b=True)
    if len(weights) == 2:
        return value, tf.linalg.matvec(slopes[0], tf.linalg.diag_part(around))
    return value, tf.reduce_sum(tf.matmul(slopes[0], around * weights[1]) * slopes[1], axis=-1)
