"""The networks: the DCGAN (`dcgan`) and SNGAN ResNet (`resnet`) generators and discriminators,
their layers, and sampling from a trained generator (`sampling`).

`create_models(config)` builds the pair a config describes.
"""

import flax.linen as nn
import jax.numpy as jnp

from gan.models import dcgan, outline_clusters, resnet
from gan.models.dcgan import Discriminator, Generator

# `config.compute_dtype`: operands of the DCGAN's stride-2 convolutions.
COMPUTE_DTYPES = ("float32", "bfloat16")
# `config.model`: the architecture of both networks.
MODELS = ("dcgan", "resnet")
RESNET_IMAGE_SIZES = resnet.IMAGE_SIZES
# `config.latent_code_view`: what InfoGAN's Q reads.
CODE_VIEWS = dcgan.CODE_VIEWS


def discriminator_classes(config) -> int:
    """The classes D scores each image with: a class-conditional GAN's (`num_classes`) or the
    clusters of a self-conditioned one (`self_conditioning_clusters`); 0 for an
    unconditional D."""
    return config.get("num_classes", 0) or config.get("self_conditioning_clusters", 0)


def generator_classes(config) -> int:
    """The classes G draws each image for: D's (`discriminator_classes`), or the categories of
    G's latent code (`latent_codes`); 0 when G draws from z alone."""
    return discriminator_classes(config) or config.get("latent_codes", 0)


def create_models(config) -> tuple[nn.Module, nn.Module]:
    """Builds the generator and discriminator described by `config` (`model`, widths, D options).

    Configs saved before the architecture keys existed describe the DCGAN with BatchNorm in D,
    computed in float32.
    """
    if config.get("model", "dcgan") == "resnet":
        generator = resnet.ResNetGenerator(
            image_size=config.image_size,
            num_channels=config.num_channels,
            ngf=config.ngf,
            latent_dim=config.latent_dim,
            num_classes=generator_classes(config),
            class_shares=outline_clusters.uses_outline_clusters(config),
        )
        classes = discriminator_classes(config)
        return generator, resnet.ResNetDiscriminator(ndf=config.ndf, num_classes=classes)
    dtype = jnp.dtype(config.get("compute_dtype", "float32"))
    generator = Generator(
        image_size=config.image_size,
        num_channels=config.num_channels,
        ngf=config.ngf,
        latent_dim=config.latent_dim,
        dtype=dtype,
        num_classes=generator_classes(config),
        class_shares=outline_clusters.uses_outline_clusters(config),
        self_modulation=config.get("g_self_modulation", False),
        pixel_noise=config.get("g_pixel_noise", False),
    )
    discriminator = Discriminator(
        ndf=config.ndf,
        spectral_norm=config.get("d_spectral_norm", False),
        norm=config.get("d_norm", "batch"),
        dtype=dtype,
        num_classes=discriminator_classes(config),
        self_conditioning=config.get("self_conditioning_clusters", 0) > 0,
        packing=config.get("d_packing", 1),
        code_categories=config.get("latent_codes", 0) if config.get("latent_code_weight", 0) else 0,
        code_view=config.get("latent_code_view", "features"),
    )
    return generator, discriminator
