"""Tests for gan/models/resnet.py: shapes at 32 and 64 px, the paper's widths, D's spectral norm."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

from gan.models import resnet


def _count(params) -> int:
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


@pytest.mark.parametrize("size", resnet.IMAGE_SIZES)
def test_shapes_and_output_range(size):
    generator = resnet.ResNetGenerator(image_size=size, num_channels=3, ngf=2, latent_dim=8)
    discriminator = resnet.ResNetDiscriminator(ndf=2)
    z = jax.random.normal(jax.random.PRNGKey(0), (3, 8))
    g_vars = generator.init(jax.random.PRNGKey(1), z, train=False)
    images, _ = generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
    assert images.shape == (3, size, size, 3)
    assert float(jnp.max(jnp.abs(images))) <= 1.0
    d_vars = discriminator.init(jax.random.PRNGKey(2), images, train=False)
    logits = discriminator.apply(d_vars, images, train=False)
    assert logits.shape == (3,)


def test_paper_widths_at_32_px():
    """SNGAN's CIFAR networks: 256 channels throughout G, 128 throughout D (ngf = ndf = 64)."""
    generator = resnet.ResNetGenerator(image_size=32, ngf=64, latent_dim=128)
    discriminator = resnet.ResNetDiscriminator(ndf=64)
    z, x = jnp.zeros((1, 128)), jnp.zeros((1, 32, 32, 3))
    g_shapes = jax.eval_shape(lambda: generator.init(jax.random.PRNGKey(0), z, train=False))
    d_shapes = jax.eval_shape(lambda: discriminator.init(jax.random.PRNGKey(0), x, train=False))
    g_kernels = {
        k: v.shape for k, v in traverse_util.flatten_dict(g_shapes["params"], sep="/").items()
    }
    assert g_kernels["Dense_0/kernel"] == (128, 4 * 4 * 256)
    assert g_kernels["GeneratorBlock_2/Conv_1/kernel"] == (3, 3, 256, 256)
    assert g_kernels["Conv_0/kernel"] == (3, 3, 256, 3)
    d_params = traverse_util.flatten_dict(d_shapes["params"], sep="/")
    assert d_params["DiscriminatorBlock_3/Conv_1/kernel"].shape == (3, 3, 128, 128)
    assert d_params["Dense_0/kernel"].shape == (128, 1)
    # Every D layer with a kernel (2 convs + 1 shortcut in the two downsampling blocks, 2 convs
    # in the others, the dense layer) keeps a spectral-norm estimate.
    sigmas = [
        k for k in traverse_util.flatten_dict(d_shapes["batch_stats"]) if k[-1].endswith("sigma")
    ]
    kernels = [k for k in d_params if k.endswith("kernel")]
    assert len(sigmas) == len(kernels) == 11
    assert 4.0e6 < _count(g_shapes["params"]) < 4.5e6  # the paper's 4.3M generator


def test_every_generator_parameter_gets_a_gradient():
    generator = resnet.ResNetGenerator(image_size=32, ngf=2, latent_dim=8)
    discriminator = resnet.ResNetDiscriminator(ndf=2)
    z = jax.random.normal(jax.random.PRNGKey(0), (4, 8))
    g_vars = generator.init(jax.random.PRNGKey(1), z, train=False)
    d_vars = discriminator.init(jax.random.PRNGKey(2), jnp.zeros((1, 32, 32, 3)), train=False)

    def loss(g_params):
        images, _ = generator.apply(
            {**g_vars, "params": g_params}, z, train=True, mutable=["batch_stats"]
        )
        logits, _ = discriminator.apply(d_vars, images, train=True, mutable=["batch_stats"])
        return jnp.mean(logits)

    grads = jax.grad(loss)(g_vars["params"])
    assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(grads))


def test_the_class_changes_what_both_conditional_networks_compute():
    """Miyato & Koyama's conditional ResNets: G's BatchNorms take a scale and offset per class,
    D projects its summed features onto a spectrally normalised class embedding."""
    generator = resnet.ResNetGenerator(
        image_size=32, ngf=2, latent_dim=4, num_classes=3, class_shares=True
    )
    discriminator = resnet.ResNetDiscriminator(ndf=2, num_classes=3)
    z, labels = jnp.ones((3, 4)), jnp.arange(3)
    g_vars = generator.init(jax.random.PRNGKey(0), z, train=False, labels=labels)
    g_params = traverse_util.flatten_dict(g_vars["params"], sep="/")
    assert g_params["GeneratorBlock_0/ConditionalBatchNorm_0/Embed_0/embedding"].shape == (3, 8)
    assert not any("BatchNorm_0/scale" in name for name in g_params)  # no shared scale left
    np.testing.assert_allclose(g_vars["batch_stats"]["class_shares"], np.full(3, 1 / 3))
    images = generator.apply(g_vars, z, train=False, labels=labels)
    assert not np.allclose(images[0], images[1])  # same noise, different class
    d_vars = discriminator.init(jax.random.PRNGKey(1), images, train=False, labels=labels)
    assert d_vars["params"]["class_projection"]["embedding"].shape == (3, 4)
    estimates = traverse_util.flatten_dict(d_vars["batch_stats"], sep="/")
    assert any(name.endswith("class_projection/embedding/sigma") for name in estimates)
    same_image = jnp.repeat(images[:1], 3, axis=0)
    logits = discriminator.apply(d_vars, same_image, train=False, labels=labels)
    assert len(np.unique(np.asarray(logits))) == 3  # one image, scored per claimed class
