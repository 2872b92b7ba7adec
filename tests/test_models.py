"""Tests for gan/models.py: shapes, DCGAN initialisation, and the exact phase upsampling."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import models


def _output_shapes(image_size, num_channels, latent_dim=100, ngf=8, ndf=8):
    generator = models.Generator(image_size, num_channels, ngf, latent_dim)
    discriminator = models.Discriminator(ndf)
    z = jnp.zeros((2, latent_dim))
    g_vars = jax.eval_shape(lambda: generator.init(jax.random.PRNGKey(0), z, train=False))
    fake = jax.eval_shape(lambda v: generator.apply(v, z, train=False), g_vars)
    d_vars = jax.eval_shape(
        lambda x: discriminator.init(jax.random.PRNGKey(0), x, train=False), fake
    )
    logits = jax.eval_shape(lambda v, x: discriminator.apply(v, x, train=False), d_vars, fake)
    return fake.shape, logits.shape, g_vars, d_vars


@pytest.mark.parametrize("image_size", [32, 64, 128])
@pytest.mark.parametrize("num_channels", [1, 3])
def test_generator_and_discriminator_shapes(image_size, num_channels):
    fake, logits, g_vars, d_vars = _output_shapes(image_size, num_channels, latent_dim=7)
    assert fake == (2, image_size, image_size, num_channels)
    assert logits == (2,)
    assert set(g_vars) == {"params", "batch_stats"}  # statistics live in their own collection
    assert set(d_vars) == {"params", "batch_stats"}


def test_dcgan_64_layer_widths_match_the_paper():
    generator = models.Generator(64, 3, 64, 100)
    z = jnp.zeros((2, 100))
    g_vars = jax.eval_shape(lambda: generator.init(jax.random.PRNGKey(0), z, train=False))
    assert g_vars["params"]["Dense_0"]["kernel"].shape == (100, 4 * 4 * 512)
    widths = [g_vars["params"][f"PhaseConvTranspose_{i}"]["kernel"].shape for i in range(4)]
    assert widths == [(4, 4, 512, 256), (4, 4, 256, 128), (4, 4, 128, 64), (4, 4, 64, 3)]

    discriminator = models.Discriminator(64)
    x = jnp.zeros((2, 64, 64, 3))
    d_vars = jax.eval_shape(lambda: discriminator.init(jax.random.PRNGKey(0), x, train=False))
    _, features = jax.eval_shape(
        lambda v: discriminator.apply(v, x, train=False, mutable=["intermediates"]), d_vars
    )
    shapes = {k: v[0].shape for k, v in features["intermediates"].items()}
    assert shapes["features_32x32x64"] == (2, 32, 32, 64)
    assert shapes["features_16x16x128"] == (2, 16, 16, 128)
    assert (
        "BatchNorm_0" in d_vars["params"]
        and len([k for k in d_vars["params"] if k.startswith("BatchNorm")]) == 3
    )  # none after the first conv


def test_initialisation_follows_dcgan():
    generator = models.Generator(64, 3, 64, 100)
    g_vars = jax.jit(lambda key: generator.init(key, jnp.zeros((1, 100)), train=False))(
        jax.random.PRNGKey(0)
    )
    kernel = np.asarray(g_vars["params"]["PhaseConvTranspose_0"]["kernel"])
    assert abs(kernel.mean()) < 1e-3 and kernel.std() == pytest.approx(0.02, rel=0.02)
    scale = np.asarray(g_vars["params"]["BatchNorm_1"]["scale"])
    assert scale.mean() == pytest.approx(1.0, abs=0.01) and scale.std() == pytest.approx(
        0.02, rel=0.2
    )
    assert not np.any(np.asarray(g_vars["params"]["BatchNorm_1"]["bias"]))


@pytest.mark.parametrize("shape", [(2, 4, 4, 5), (1, 3, 6, 2)])
def test_phase_conv_transpose_equals_conv_transpose(shape):
    """Same kernel in both: forward outputs and all gradients agree to float precision."""
    x = jax.random.normal(jax.random.PRNGKey(1), shape)
    phase = models.PhaseConvTranspose(features=3)
    reference = nn.ConvTranspose(
        3, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False
    )
    params = jax.jit(phase.init)(jax.random.PRNGKey(2), x)
    out = jax.jit(phase.apply)(params, x)
    expected = jax.jit(reference.apply)(params, x)
    assert out.shape == (shape[0], 2 * shape[1], 2 * shape[2], 3)
    np.testing.assert_allclose(out, expected, atol=1e-5)

    weights = jax.random.normal(jax.random.PRNGKey(3), out.shape)
    loss = lambda module: lambda p, x: jnp.sum(module.apply(p, x) ** 2 * weights)  # noqa: E731
    grads = jax.jit(jax.grad(loss(phase), argnums=(0, 1)))(params, x)
    expected_grads = jax.jit(jax.grad(loss(reference), argnums=(0, 1)))(params, x)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected_grads), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_phase_conv_transpose_matches_pytorch_convention():
    """A delta input spreads the flipped kernel over the output, as ConvTranspose2d(4, 2, 1)."""
    x = jnp.zeros((1, 3, 3, 1)).at[0, 1, 1, 0].set(1.0)
    kernel = jnp.arange(16.0).reshape(4, 4, 1, 1)
    out = models.PhaseConvTranspose(1).apply({"params": {"kernel": kernel}}, x)[0, :, :, 0]
    # Input pixel (1, 1) lands on output rows/cols 2*1 - 1 + k for k = 0..3 of the flipped kernel.
    np.testing.assert_array_equal(out[1:5, 1:5], np.arange(16.0).reshape(4, 4)[::-1, ::-1])
    assert float(jnp.abs(out).sum()) == float(kernel.sum())
