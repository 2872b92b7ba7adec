"""The SNGAN ResNet generator and discriminator (Miyato et al. 2018, appendix B) in Flax Linen.

Residual blocks let both networks be deeper than DCGAN's at a similar cost; with spectral
normalisation on every layer of D and the hinge loss this is the recipe that SNGAN, and many
papers after it, report on CIFAR-10 (32 px) and STL-10/ImageNet (48-64 px).

- Generator: z -> dense 4x4 -> one up-block per doubling (BN, ReLU, nearest 2x upsampling,
  3x3 conv, BN, ReLU, 3x3 conv, plus an upsampled 1x1-conv shortcut) -> BN, ReLU, 3x3 conv, tanh.
- Discriminator: a first block without pre-activation, then pre-activation blocks with 2x2
  average pooling, ReLU, a sum over space, and a dense layer to one logit; every conv and the
  dense layer are spectrally normalised.
- Class-conditional (`num_classes` > 0) as in Miyato & Koyama 2018's ResNets: G's BatchNorm
  layers take a per-class scale and offset, and D adds the projection of its summed features
  onto a learned, spectrally normalised class embedding, the DCGAN's conditioning
  (`gan.models.dcgan`) on these networks.
- Both sow their stage outputs (G's 4x4 input map and every block's output, D's every block's
  output) as `intermediates`, which `gan.trace` draws.

Widths are multiples of `ngf`/`ndf`: with 64 they are the paper's (256 in G and 128 in D at
32 px; 1024 -> 64 in G and 64 -> 1024 in D at 64 px).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan.models.dcgan import BATCHNORM_MOMENTUM, ConditionalBatchNorm, keep_class_shares
from gan.models.spectral_norm import spectral_normalized

# Per output size: the (input, output) widths of G's up-blocks, and for each D block its width
# and whether it halves the resolution, all in units of ngf / ndf.
GENERATOR_WIDTHS = {32: ((4, 4), (4, 4), (4, 4)), 64: ((16, 8), (8, 4), (4, 2), (2, 1))}
DISCRIMINATOR_BLOCKS = {
    32: ((2, True), (2, True), (2, False), (2, False)),
    64: ((1, True), (2, True), (4, True), (8, True), (16, False)),
}
IMAGE_SIZES = tuple(GENERATOR_WIDTHS)

# Glorot-uniform weights, as in the authors' Chainer code.
Conv3x3 = functools.partial(
    nn.Conv, kernel_size=(3, 3), padding=1, kernel_init=nn.initializers.xavier_uniform()
)
Conv1x1 = functools.partial(
    nn.Conv, kernel_size=(1, 1), padding=0, kernel_init=nn.initializers.xavier_uniform()
)
# The DCGAN's momentum, which the EMA's BatchNorm statistics rely on (sampling.inference_variables).
BatchNorm = functools.partial(nn.BatchNorm, momentum=BATCHNORM_MOMENTUM, epsilon=1e-5)


def generator_norm(num_classes: int, train: bool, labels: jax.Array | None):
    """A new normalisation layer of G: BatchNorm, or with classes its class-conditional form
    applied to `labels`'s classes."""
    if num_classes:
        return functools.partial(ConditionalBatchNorm(num_classes, not train), labels=labels)
    return BatchNorm(use_running_average=not train)


def sow_stage(module: nn.Module, index: int, x: jax.Array) -> None:
    """Keeps stage `index`'s output as `stage{index}_{h}x{w}x{c}` in `intermediates`, for
    `gan.trace`; the index keeps apart D's blocks that share a shape. A no-op unless the
    caller applies the module with `mutable=['intermediates']`."""
    module.sow("intermediates", f"stage{index}_{x.shape[1]}x{x.shape[2]}x{x.shape[3]}", x)


def upsample(x: jax.Array) -> jax.Array:
    """Nearest-neighbour 2x upsampling of NHWC maps."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def downsample(x: jax.Array) -> jax.Array:
    """2x2 average pooling of NHWC maps."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


class GeneratorBlock(nn.Module):
    """Pre-activation up-block: two 3x3 convs at twice the resolution plus a 1x1 shortcut."""

    features: int
    num_classes: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
        norm = functools.partial(generator_norm, self.num_classes, train, labels)
        h = Conv3x3(self.features)(upsample(nn.relu(norm()(x))))
        h = Conv3x3(self.features)(nn.relu(norm()(h)))
        return h + Conv1x1(self.features)(upsample(x))


class DiscriminatorBlock(nn.Module):
    """Residual D block, spectrally normalised; `first` is SNGAN's "optimized" input block,
    which has no ReLU before its first conv and pools before its shortcut conv."""

    features: int
    downsample: bool
    first: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        sn = functools.partial(spectral_normalized, train=train)
        h = sn(Conv3x3(self.features), x if self.first else nn.relu(x))
        h = sn(Conv3x3(self.features), nn.relu(h))
        if self.downsample:
            h = downsample(h)
        if self.first:
            return h + sn(Conv1x1(self.features), downsample(x))
        if self.downsample or x.shape[-1] != self.features:
            shortcut = sn(Conv1x1(self.features), x)
            return h + (downsample(shortcut) if self.downsample else shortcut)
        return h + x


class ResNetGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, image_size, image_size, num_channels) in [-1, 1]."""

    image_size: int = 32
    num_channels: int = 3
    ngf: int = 64
    latent_dim: int = 128  # the length of z; callers sample noise of this size
    num_classes: int = 0  # > 0: class-conditional BatchNorm, `labels` select the class
    class_shares: bool = False  # keep each class's share of the data (as the DCGAN's G)

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
        if self.class_shares:
            keep_class_shares(self, self.num_classes)
        widths = GENERATOR_WIDTHS[self.image_size]
        first = widths[0][0] * self.ngf
        x = nn.Dense(4 * 4 * first, kernel_init=nn.initializers.xavier_uniform())(z)
        x = x.reshape(-1, 4, 4, first)
        sow_stage(self, 0, x)
        for index, (_, out) in enumerate(widths, start=1):
            x = GeneratorBlock(out * self.ngf, self.num_classes)(x, train, labels)
            sow_stage(self, index, x)
        x = nn.relu(generator_norm(self.num_classes, train, labels)(x))
        return jnp.tanh(Conv3x3(self.num_channels)(x))


class ResNetDiscriminator(nn.Module):
    """Images (N, S, S, C) -> one logit per image, every layer spectrally normalised; with
    `num_classes` > 0 a projection discriminator scoring each image with its class `labels`."""

    ndf: int = 64
    num_classes: int = 0

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
        for index, (width, halves) in enumerate(DISCRIMINATOR_BLOCKS[x.shape[1]]):
            x = DiscriminatorBlock(width * self.ndf, halves, first=index == 0)(x, train)
            sow_stage(self, index, x)
        features = jnp.sum(nn.relu(x), axis=(1, 2))
        dense = nn.Dense(1, kernel_init=nn.initializers.xavier_uniform())
        logits = spectral_normalized(dense, features, train).reshape(-1)
        if self.num_classes:
            embedding = nn.Embed(
                self.num_classes,
                features.shape[-1],
                embedding_init=nn.initializers.xavier_uniform(),
                name="class_projection",
            )
            class_vectors = spectral_normalized(embedding, labels, train)
            logits += jnp.sum(class_vectors * features, axis=-1)
        return logits
