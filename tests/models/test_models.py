"""Tests for gan/models/dcgan.py: shapes, layer widths, DCGAN initialisation, mixed precision."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan.models import dcgan


def _output_shapes(image_size, num_channels, latent_dim=100, ngf=8, ndf=8):
    generator = dcgan.Generator(image_size, num_channels, ngf, latent_dim)
    discriminator = dcgan.Discriminator(ndf)
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
    generator = dcgan.Generator(64, 3, 64, 100)
    z = jnp.zeros((2, 100))
    g_vars = jax.eval_shape(lambda: generator.init(jax.random.PRNGKey(0), z, train=False))
    assert g_vars["params"]["Dense_0"]["kernel"].shape == (100, 4 * 4 * 512)
    widths = [g_vars["params"][f"UpConv_{i}"]["kernel"].shape for i in range(4)]
    assert widths == [(4, 4, 512, 256), (4, 4, 256, 128), (4, 4, 128, 64), (4, 4, 64, 3)]

    discriminator = dcgan.Discriminator(64)
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
    generator = dcgan.Generator(64, 3, 64, 100)
    g_vars = jax.jit(lambda key: generator.init(key, jnp.zeros((1, 100)), train=False))(
        jax.random.PRNGKey(0)
    )
    kernel = np.asarray(g_vars["params"]["UpConv_0"]["kernel"])
    assert abs(kernel.mean()) < 1e-3 and kernel.std() == pytest.approx(0.02, rel=0.02)
    scale = np.asarray(g_vars["params"]["BatchNorm_1"]["scale"])
    assert scale.mean() == pytest.approx(1.0, abs=0.01) and scale.std() == pytest.approx(
        0.02, rel=0.2
    )
    assert not np.any(np.asarray(g_vars["params"]["BatchNorm_1"]["bias"]))


def test_bfloat16_compute_stays_close_to_float32():
    """Same parameters, operands rounded to bfloat16: outputs agree to bf16 precision."""
    z = jax.random.normal(jax.random.PRNGKey(1), (4, 16))
    fp32, bf16 = (
        dcgan.Generator(32, 3, 8, 16, dtype=dtype) for dtype in (jnp.float32, jnp.bfloat16)
    )
    g_vars = jax.jit(lambda key: fp32.init(key, z, train=False))(jax.random.PRNGKey(0))
    images = {
        m.dtype: jax.jit(lambda v, m=m: m.apply(v, z, train=False))(g_vars) for m in (fp32, bf16)
    }
    assert images[jnp.bfloat16].dtype == jnp.float32
    np.testing.assert_allclose(images[jnp.bfloat16], images[jnp.float32], atol=0.05)
    assert not np.allclose(images[jnp.bfloat16], images[jnp.float32], atol=1e-6)  # really bf16


def _init_and_apply(generator: dcgan.Generator, z: jax.Array):
    g_vars = jax.jit(lambda key: generator.init(key, z, train=False))(jax.random.PRNGKey(0))
    return g_vars, jax.jit(lambda v, z: generator.apply(v, z, train=False))(g_vars, z)


def test_self_modulated_generator_starts_as_the_dcgan_and_lets_z_set_every_layers_gains():
    z = jax.random.normal(jax.random.PRNGKey(1), (4, 16))
    plain_vars, _ = _init_and_apply(dcgan.Generator(32, 3, 8, 16), z)
    modulated = dcgan.Generator(32, 3, 8, 16, self_modulation=True)
    g_vars, images = _init_and_apply(modulated, z)
    norms = [k for k in g_vars["params"] if k.startswith("SelfModulatedBatchNorm")]
    assert len(norms) == len([k for k in plain_vars["params"] if k.startswith("BatchNorm")])
    # The gains start near DCGAN's BatchNorm scales: 1 + N(0, 0.02)-small terms.
    mlp = g_vars["params"][norms[1]]
    hidden = jax.nn.relu(z @ mlp["Dense_0"]["kernel"] + mlp["Dense_0"]["bias"])
    gains = 1.0 + hidden @ mlp["scale"]["kernel"] + mlp["scale"]["bias"]
    assert np.allclose(gains, 1.0, atol=0.05) and not np.allclose(gains, 1.0, atol=1e-6)
    assert images.shape == (4, 32, 32, 3)
    # In inference each image depends on its own z alone, through every layer.
    _, other = _init_and_apply(modulated, z[::-1])
    np.testing.assert_allclose(other[::-1], images, atol=1e-5)


def test_pixel_noise_is_a_pure_function_of_z_and_differs_between_images():
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 16))
    generator = dcgan.Generator(32, 3, 8, 16, pixel_noise=True)
    g_vars, _ = _init_and_apply(generator, z)
    # Strengths start at 0 (the plain DCGAN); set them to see the noise.
    params = jax.tree.map(lambda x: x, g_vars["params"])
    last = max(k for k in params if k.startswith("PixelNoise"))
    params[last]["strength"] = jnp.ones_like(params[last]["strength"])
    noisy = {**g_vars, "params": params}
    apply = jax.jit(lambda v, z: generator.apply(v, z, train=False))
    first, again = apply(noisy, z), apply(noisy, z)
    np.testing.assert_array_equal(first, again)  # no random stream: z decides the noise
    quiet = apply(g_vars, z)
    residual = np.arctanh(np.clip(np.asarray(first), -0.999, 0.999)) - np.arctanh(
        np.clip(np.asarray(quiet), -0.999, 0.999)
    )
    assert 0.8 < residual.std() < 1.2  # unit noise before the tanh
    assert not np.allclose(residual[0], residual[1], atol=0.1)  # each image its own noise


def test_packing_discriminator_judges_consecutive_images_together():
    images = jnp.arange(4.0).reshape(4, 1, 1, 1) * jnp.ones((4, 2, 2, 3))
    packed = dcgan.pack(images, 2)
    assert packed.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(packed[:, 0, 0], [[0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3]])

    discriminator = dcgan.Discriminator(ndf=4, norm="layer", packing=2)
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 32, 32, 3), minval=-1.0)
    variables = discriminator.init(jax.random.PRNGKey(1), x, train=False)
    assert variables["params"]["Conv_0"]["kernel"].shape[-2] == 6  # two RGB images per input
    logits = discriminator.apply(variables, x, train=False)
    assert logits.shape == (2,)
    np.testing.assert_allclose(discriminator.apply(variables, x[:2], train=False), logits[:1])
    swapped = discriminator.apply(variables, x[jnp.array([0, 2, 1, 3])], train=False)
    assert not np.allclose(swapped, logits)  # which images share a pack matters
    alone = discriminator.apply(variables, dcgan.packed_alone(x, 2), train=False)
    assert alone.shape == (4,)
    np.testing.assert_allclose(
        alone[0], discriminator.apply(variables, x[jnp.array([0, 0])], train=False)[0]
    )


def test_code_head_gives_each_packed_image_its_own_row():
    """Q's logits: one row per image, a pack's rows depending on that pack alone."""
    discriminator = dcgan.Discriminator(ndf=4, norm="layer", packing=2, code_categories=3)
    x = jax.random.uniform(jax.random.PRNGKey(0), (4, 32, 32, 3), minval=-1.0)
    variables = discriminator.init(jax.random.PRNGKey(1), x, train=False)

    def code_logits(images):
        _, sown = discriminator.apply(variables, images, train=False, mutable=["intermediates"])
        return sown["intermediates"]["code_logits"][0]

    logits = code_logits(x)
    assert logits.shape == (4, 3)
    changed = code_logits(x.at[3].set(0.0))
    np.testing.assert_allclose(changed[:2], logits[:2])
    assert not np.allclose(changed[2:], logits[2:])


def test_g_and_q_alone_learn_to_agree_on_random_codes():
    """The code's path, G's conditional BatchNorm -> image -> D's head Q, can carry it: G and
    Q trained on InfoGAN's cross-entropy alone go from chance (ln 4) to telling fresh codes
    apart (at least one of their two bits: below ln 2 + a margin, whatever the threads' order
    of summation does to the path there)."""
    generator = dcgan.Generator(image_size=32, ngf=8, latent_dim=16, num_classes=4)
    discriminator = dcgan.Discriminator(ndf=8, norm="layer", code_categories=4)
    z = jnp.zeros((1, 16))
    g_vars = generator.init(jax.random.PRNGKey(0), z, train=False, labels=jnp.zeros(1, int))
    d_vars = discriminator.init(jax.random.PRNGKey(1), jnp.zeros((1, 32, 32, 3)), train=False)
    params = (g_vars["params"], d_vars["params"])
    tx = optax.adam(2e-3, b1=0.5)

    def cross_entropy(params, key):
        z = jax.random.normal(key, (32, 16))
        codes = jax.random.randint(jax.random.fold_in(key, 1), (32,), 0, 4)
        images, _ = generator.apply(
            {"params": params[0], "batch_stats": g_vars["batch_stats"]},
            z,
            train=True,
            labels=codes,
            mutable=["batch_stats"],
        )
        _, sown = discriminator.apply(
            {"params": params[1]}, images, train=True, mutable=["intermediates"]
        )
        logits = sown["intermediates"]["code_logits"][0]
        return optax.softmax_cross_entropy_with_integer_labels(logits, codes).mean()

    @jax.jit
    def update(params, opt_state, key):
        value, grads = jax.value_and_grad(cross_entropy)(params, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    opt_state, values = tx.init(params), []
    for i in range(200):
        params, opt_state, value = update(params, opt_state, jax.random.PRNGKey(100 + i))
        values.append(float(value))
    assert abs(values[0] - np.log(4)) < 0.1
    assert np.mean(values[-25:]) < 0.65 * np.log(4)
