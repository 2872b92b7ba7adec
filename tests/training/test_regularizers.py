"""Tests for gan/training/regularizers.py: penalties against closed forms and finite differences,
spectral normalisation against numpy's SVD, the EMA formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from flax import traverse_util

from gan.models import spectral_norm
from gan.models.dcgan import Discriminator
from gan.training import regularizers

IMAGES = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, 2))
WEIGHTS = jax.random.normal(jax.random.PRNGKey(1), (4, 4, 2))


def quadratic_d(weights):
    """D(x) = sum(w * x^2) per image, whose input gradient 2 w x is known in closed form."""
    return lambda images: jnp.sum(weights * images**2, axis=(1, 2, 3))


def test_gradient_penalty_matches_closed_form():
    real, fake, rng = IMAGES, -0.5 * IMAGES + 0.3, jax.random.PRNGKey(2)
    got = regularizers.gradient_penalty(quadratic_d(WEIGHTS), real, fake, rng)
    fraction = np.asarray(jax.random.uniform(rng, (3, 1, 1, 1)))
    x_hat = fraction * np.asarray(real) + (1 - fraction) * np.asarray(fake)
    norms = np.linalg.norm((2 * np.asarray(WEIGHTS) * x_hat).reshape(3, -1), axis=1)
    assert float(got) == pytest.approx(np.mean((norms - 1) ** 2), rel=1e-5)


def test_gradient_penalty_gradient_matches_finite_differences():
    """The penalty is trained through a gradient of a gradient: check that derivative."""
    real, fake, rng = IMAGES, 0.2 * IMAGES, jax.random.PRNGKey(3)

    def penalty(scale):
        return regularizers.gradient_penalty(quadratic_d(scale * WEIGHTS), real, fake, rng)

    eps = 1e-2
    numeric = (penalty(0.3 + eps) - penalty(0.3 - eps)) / (2 * eps)
    assert float(jax.grad(penalty)(0.3)) == pytest.approx(float(numeric), rel=1e-3)


def test_r1_penalty_is_the_squared_input_gradient_norm_on_real_images():
    linear = lambda images: jnp.sum(WEIGHTS * images, axis=(1, 2, 3))  # noqa: E731
    got = regularizers.r1_penalty(linear, IMAGES)
    assert float(got) == pytest.approx(float(np.sum(np.asarray(WEIGHTS) ** 2)), rel=1e-5)
    quadratic = regularizers.r1_penalty(quadratic_d(WEIGHTS), IMAGES)
    want = np.mean(np.sum((2 * np.asarray(WEIGHTS) * np.asarray(IMAGES)) ** 2, axis=(1, 2, 3)))
    assert float(quadratic) == pytest.approx(want, rel=1e-5)


def test_spectral_norm_sigma_converges_to_the_largest_singular_value():
    discriminator = Discriminator(ndf=4, spectral_norm=True, norm="none")
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 32, 32, 3))
    variables = discriminator.init(jax.random.PRNGKey(5), x, train=False)

    @jax.jit
    def power_iterations(stats):
        def body(stats, _):
            _, updates = discriminator.apply(
                {"params": variables["params"], "batch_stats": stats},
                x,
                train=True,
                mutable=["batch_stats"],
            )
            return updates["batch_stats"], None

        return jax.lax.scan(body, stats, None, length=100)[0]

    stats = traverse_util.flatten_dict(power_iterations(variables["batch_stats"]), sep="/")
    kernels = traverse_util.flatten_dict(variables["params"], sep="/")
    assert len(kernels) == 4  # every conv of the 32 px D, all spectrally normalised
    for index, (name, kernel) in enumerate(sorted(kernels.items())):
        matrix = np.asarray(kernel).reshape(-1, kernel.shape[-1])
        sigma = stats[f"SpectralNorm_{index}/{name}/sigma"]
        assert float(sigma) == pytest.approx(np.linalg.svd(matrix, compute_uv=False)[0], rel=1e-3)


class SpectralDense(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        return spectral_norm.spectral_normalized(nn.Dense(8, use_bias=False), x, train)


def test_spectral_norm_bounds_the_layer_gain():
    """After normalisation no input direction is stretched by more than a factor 1."""
    module, x = SpectralDense(), jax.random.normal(jax.random.PRNGKey(6), (8, 8))
    variables = module.init(jax.random.PRNGKey(7), x, train=False)
    for _ in range(30):
        _, updates = module.apply(variables, x, train=True, mutable=["batch_stats"])
        variables = {"params": variables["params"], **updates}
    matrix = module.apply(variables, jnp.eye(8), train=False)  # the normalised kernel
    assert np.linalg.svd(np.asarray(matrix), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    raw = np.asarray(variables["params"]["Dense_0"]["kernel"])
    assert np.linalg.svd(raw, compute_uv=False)[0] > 1.5  # so the normalisation did something


def test_ema_update_warms_up_then_uses_its_decay():
    ema = {"w": jnp.array([1.0, 2.0])}
    params = {"w": jnp.array([3.0, 0.0])}
    late = regularizers.ema_update(ema, params, 0.9, jnp.asarray(1000))
    np.testing.assert_allclose(late["w"], [1.2, 1.8], rtol=1e-6)  # 0.9 * ema + 0.1 * params
    first = regularizers.ema_update(ema, params, 0.9, jnp.asarray(0))
    np.testing.assert_allclose(first["w"], [2.8, 0.2], rtol=1e-6)  # decay 1/10 at step 0


def test_ema_forgets_the_initial_weights_in_a_short_run():
    """After 500 updates towards fixed weights, the initial ones weigh
    prod_t min(0.999, (1 + t) / (10 + t)) = 9! / (501 ... 509) = 1.7e-19, not 0.999^500 = 0.61."""
    ema = {"w": jnp.array([1.0])}
    for step in range(500):
        ema = regularizers.ema_update(ema, {"w": jnp.array([0.0])}, 0.999, jnp.asarray(step))
    assert float(ema["w"][0]) < 1e-6


def packed_quadratic_d(weights):
    """`quadratic_d` on packs of two consecutive images: one logit per pack."""
    return lambda images: quadratic_d(weights)(images).reshape(-1, 2).sum(axis=1)


def test_penalties_of_a_packing_d_are_per_pack():
    """D's input is a pack, so R1 and WGAN-GP take each pack's whole gradient, and a pack's
    images move together between real and fake."""
    images = jax.random.normal(jax.random.PRNGKey(6), (4, 4, 4, 2))
    per_image = np.sum((2 * np.asarray(WEIGHTS) * np.asarray(images)) ** 2, axis=(1, 2, 3))
    got = regularizers.r1_penalty(packed_quadratic_d(WEIGHTS), images)
    assert float(got) == pytest.approx(per_image.reshape(2, 2).sum(1).mean(), rel=1e-5)

    fake, rng = -0.5 * images + 0.3, jax.random.PRNGKey(7)
    got = regularizers.gradient_penalty(packed_quadratic_d(WEIGHTS), images, fake, rng)
    fraction = np.repeat(np.asarray(jax.random.uniform(rng, (2, 1, 1, 1))), 2, axis=0)
    x_hat = fraction * np.asarray(images) + (1 - fraction) * np.asarray(fake)
    norms = np.linalg.norm((2 * np.asarray(WEIGHTS) * x_hat).reshape(2, -1), axis=1)
    assert float(got) == pytest.approx(np.mean((norms - 1) ** 2), rel=1e-5)
