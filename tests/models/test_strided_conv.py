"""Tests for gan/models/strided_conv.py: the matrix-product convolutions equal Flax's convolutions.

Outputs, first derivatives (input and kernel) and the second derivatives that WGAN-GP and R1
take through D all agree with `nn.Conv` / `nn.ConvTranspose` to float32 precision; bfloat16
operands agree to bfloat16 precision.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan.models import strided_conv

REFERENCE_DOWN = nn.Conv(3, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), use_bias=False)
REFERENCE_UP = nn.ConvTranspose(3, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
PAIRS = {  # ours, the Flax layer with the same parameter and meaning
    "down": (strided_conv.DownConv(3), REFERENCE_DOWN),
    "up": (strided_conv.UpConv(3), REFERENCE_UP),
}


def _weighted_sum(module, params, x, weights):
    return jnp.sum(module.apply(params, x) ** 2 * weights)


@pytest.mark.parametrize(
    "kind, shape",
    [("down", (2, 8, 8, 5)), ("down", (1, 4, 12, 2)), ("up", (2, 4, 4, 5)), ("up", (1, 3, 6, 2))],
)
def test_output_and_gradients_equal_flax(kind, shape):
    ours, reference = PAIRS[kind]
    x = jax.random.normal(jax.random.PRNGKey(1), shape)
    params = jax.jit(reference.init)(jax.random.PRNGKey(2), x)
    out = jax.jit(ours.apply)(params, x)
    expected = jax.jit(reference.apply)(params, x)
    scale = 2 if kind == "up" else 0.5
    assert out.shape == (shape[0], int(shape[1] * scale), int(shape[2] * scale), 3)
    np.testing.assert_allclose(out, expected, atol=1e-5)

    weights = jax.random.normal(jax.random.PRNGKey(3), out.shape)
    grad = jax.jit(jax.grad(_weighted_sum, argnums=(1, 2)), static_argnums=0)
    got, want = grad(ours, params, x, weights), grad(reference, params, x, weights)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", ["down", "up"])
def test_second_derivatives_equal_flax(kind):
    """d/dkernel of ||d out / d x||^2, the shape of a gradient penalty."""
    ours, reference = PAIRS[kind]
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 4))
    params = jax.jit(reference.init)(jax.random.PRNGKey(2), x)

    def penalty(module, params):
        input_grad = jax.grad(lambda x: jnp.sum(jnp.tanh(module.apply(params, x))))(x)
        return jnp.sum(input_grad**2)

    got = jax.jit(jax.grad(penalty, argnums=1), static_argnums=0)(ours, params)
    want = jax.jit(jax.grad(penalty, argnums=1), static_argnums=0)(reference, params)
    np.testing.assert_allclose(
        got["params"]["kernel"], want["params"]["kernel"], rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("kind", ["down", "up"])
def test_bfloat16_operands_agree_to_bfloat16_precision(kind):
    ours, reference = PAIRS[kind]
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 16))
    params = jax.jit(reference.init)(jax.random.PRNGKey(2), x)
    mixed = ours.clone(dtype=jnp.bfloat16)
    out, expected = jax.jit(mixed.apply)(params, x), jax.jit(reference.apply)(params, x)
    assert out.dtype == jnp.float32  # accumulated in float32
    relative = float(jnp.linalg.norm(out - expected) / jnp.linalg.norm(expected))
    assert 1e-5 < relative < 1e-2  # rounded operands, not exact, yet close

    weights = jax.random.normal(jax.random.PRNGKey(3), out.shape)
    grad = jax.jit(jax.grad(_weighted_sum, argnums=(1, 2)), static_argnums=0)
    for g, w in zip(
        jax.tree.leaves(grad(mixed, params, x, weights)),
        jax.tree.leaves(grad(reference, params, x, weights)),
        strict=True,
    ):
        assert g.dtype == jnp.float32
        assert float(jnp.linalg.norm(g - w) / jnp.linalg.norm(w)) < 2e-2


def test_up_conv_matches_pytorch_convention():
    """A delta input spreads the flipped kernel over the output, as ConvTranspose2d(4, 2, 1)."""
    x = jnp.zeros((1, 3, 3, 1)).at[0, 1, 1, 0].set(1.0)
    kernel = jnp.arange(16.0).reshape(4, 4, 1, 1)
    out = strided_conv.UpConv(1).apply({"params": {"kernel": kernel}}, x)[0, :, :, 0]
    # Input pixel (1, 1) lands on output rows/cols 2*1 - 1 + k for k = 0..3 of the flipped kernel.
    np.testing.assert_array_equal(out[1:5, 1:5], np.arange(16.0).reshape(4, 4)[::-1, ::-1])
    assert float(jnp.abs(out).sum()) == float(kernel.sum())


def test_space_to_depth_round_trips():
    x = jnp.arange(2 * 4 * 6 * 3.0).reshape(2, 4, 6, 3)
    s2d = strided_conv.space_to_depth(x)
    assert s2d.shape == (2, 2, 3, 12)
    np.testing.assert_array_equal(
        s2d[0, 0, 0], jnp.concatenate([x[0, 0, 0], x[0, 0, 1], x[0, 1, 0], x[0, 1, 1]])
    )
    np.testing.assert_array_equal(strided_conv.depth_to_space(s2d), x)
