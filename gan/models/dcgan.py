"""DCGAN generator and discriminator (Radford et al. 2015) as Flax Linen modules.

Both networks are pure functions of their parameters: `init` returns `params` and `batch_stats`
(BatchNorm running statistics, a separate collection), `apply` takes them back. Images are NHWC
in [-1, 1].

The stride-2 layers of both networks are `strided_conv.DownConv` and `UpConv`: the same
functions and parameters as `nn.Conv` and `nn.ConvTranspose`, computed as matrix products. XLA
on CPU computes the gradient of `nn.ConvTranspose` (an input-dilated convolution) about 60x
slower than PyTorch does, which made a naive train step 14x slower. `dtype` sets the operand
type of those products: float32, or bfloat16 with float32 accumulation (mixed precision).
Parameters, BatchNorm and activations stay float32 either way.
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan.models.code_reader import OutlineCodeReader
from gan.models.self_conditioning import FeatureClusters
from gan.models.spectral_norm import spectral_normalized
from gan.models.strided_conv import DownConv, UpConv


def normal_init(mean: float, stddev: float) -> nn.initializers.Initializer:
    """N(mean, stddev^2) initializer, drawn as a flat vector and reshaped.

    Same distribution as `nn.initializers.normal`, but XLA on CPU compiles random bits of a
    rank-4 shape about 7x slower than a flat vector, which made initialisation cost seconds.
    """

    def init(key, shape, dtype=jnp.float32):
        return mean + stddev * jax.random.normal(key, (math.prod(shape),), dtype).reshape(shape)

    return init


# DCGAN initialisation: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), biases zero.
WEIGHT_INIT = normal_init(0.0, 0.02)


# Weight of the old running statistics in each update: PyTorch's BatchNorm default (its
# `momentum=0.1` weighs the new batch by 0.1).
BATCHNORM_MOMENTUM = 0.9
BatchNorm = functools.partial(
    nn.BatchNorm,
    momentum=BATCHNORM_MOMENTUM,
    epsilon=1e-5,
    scale_init=normal_init(1.0, 0.02),
    bias_init=nn.initializers.zeros,
)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and offset are looked up per class (de Vries et al. 2017).

    The class-conditional generator of Miyato & Koyama 2018: normalisation statistics are
    shared, so every class is drawn by the same convolutions, and the class only re-weights
    and shifts each channel. Scales start at N(1, 0.02) as DCGAN's BatchNorm scales do.
    """

    num_classes: int
    use_running_average: bool

    @nn.compact
    def __call__(self, x: jax.Array, labels: jax.Array) -> jax.Array:
        x = BatchNorm(
            use_running_average=self.use_running_average, use_scale=False, use_bias=False
        )(x)
        channels = x.shape[-1]
        scale = nn.Embed(self.num_classes, channels, embedding_init=normal_init(1.0, 0.02))
        offset = nn.Embed(self.num_classes, channels, embedding_init=nn.initializers.zeros)
        return x * scale(labels)[:, None, None, :] + offset(labels)[:, None, None, :]


def keep_class_shares(module: nn.Module, num_classes: int) -> None:
    """Declares a conditional generator's `batch_stats` "class_shares", each class's share of
    the training images (equal until training sets them), from which sampling draws classes
    as often as the data holds them."""
    module.variable("batch_stats", "class_shares", jnp.full, (num_classes,), 1.0 / num_classes)


class SelfModulatedBatchNorm(nn.Module):
    """BatchNorm whose scale and offset are functions of the noise z (Chen et al. 2019).

    "Self-modulation": each of G's layers gets a per-image gain and shift from a small MLP of
    z, as a class-conditional generator gets them from its class, but with no labels. z then
    acts on every layer multiplicatively rather than only through the first, which lets G
    switch between distinct outputs (one shape or another) more sharply than a network that
    depends on z only through its input. The MLP's output layer starts at N(0, 0.02), so
    training begins from the DCGAN's BatchNorm (scale about 1, offset 0).
    """

    use_running_average: bool
    hidden: int = 32  # the MLP's hidden units (the paper's choice)

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array) -> jax.Array:
        x = BatchNorm(
            use_running_average=self.use_running_average, use_scale=False, use_bias=False
        )(x)
        channels = x.shape[-1]
        hidden = nn.relu(nn.Dense(self.hidden, kernel_init=WEIGHT_INIT)(z))
        scale = 1.0 + nn.Dense(channels, kernel_init=WEIGHT_INIT, name="scale")(hidden)
        offset = nn.Dense(channels, kernel_init=WEIGHT_INIT, name="offset")(hidden)
        return x * scale[:, None, None, :] + offset[:, None, None, :]


class PixelNoise(nn.Module):
    """Adds per-pixel Gaussian noise, scaled by a learned per-channel strength (StyleGAN).

    Pictures carry detail that no low-dimensional z can hold: the film grain of the embedded
    data is drawn independently for every pixel. Without a source of it a convolutional G
    imitates it with blotches, which a discriminator can tell from grain. The noise is drawn
    from a key hashed from each image's z, so G stays a pure function of z (fixed-noise grids
    and evaluations reproduce without an extra random stream), and each image gets its own
    noise. The strengths start at 0: training begins from the plain DCGAN.
    """

    @nn.compact
    def __call__(self, x: jax.Array, z: jax.Array) -> jax.Array:
        strength = self.param("strength", nn.initializers.zeros, (x.shape[-1],))
        seeds = jax.lax.bitcast_convert_type(z[:, :2], jnp.uint32)
        stage = jax.random.fold_in(jax.random.PRNGKey(0), x.shape[1])  # new noise per stage

        def image_noise(seed):
            key = jax.random.fold_in(jax.random.fold_in(stage, seed[0]), seed[1])
            return jax.random.normal(key, x.shape[1:], jnp.float32)

        noise = jax.lax.stop_gradient(jax.vmap(image_noise)(seeds))
        return x + noise * strength.astype(x.dtype)


def sow_features(module: nn.Module, x: jax.Array) -> None:
    """Keeps a stage's output as `features_{h}x{w}x{c}` in `intermediates`, for inspection.

    A no-op unless the caller applies the module with `mutable=['intermediates']`, so training
    computes and stores nothing extra.
    """
    module.sow("intermediates", f"features_{x.shape[1]}x{x.shape[2]}x{x.shape[3]}", x)


def num_resolution_stages(image_size: int) -> int:
    """Number of stride-2 stages between the 4x4 bottleneck and `image_size` (4 for 64x64)."""
    return int(math.log2(image_size)) - 2


class Generator(nn.Module):
    """z (N, latent_dim) -> 4x4x(ngf * 2^(stages-1)) -> stride-2 upsampling -> tanh image.

    For 64x64: 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3 with ngf=64. Each hidden
    stage's output (after BatchNorm and ReLU) is sown as `intermediates`, like D's feature maps.
    """

    image_size: int = 64
    num_channels: int = 3
    ngf: int = 64
    latent_dim: int = 100  # the length of z; callers sample noise of this size
    dtype: jnp.dtype = jnp.float32  # operands of the upsampling layers' matrix products
    num_classes: int = 0  # > 0: class-conditional BatchNorm, `labels` select the class
    # Keep each class's share of the training images (`batch_stats` "class_shares", set by
    # training), so that sampling draws the classes as often as the data holds them: classes
    # found from the images (`outline_clusters`) are not equally common.
    class_shares: bool = False
    self_modulation: bool = False  # BatchNorm scales and offsets from z (SelfModulatedBatchNorm)
    pixel_noise: bool = False  # per-pixel noise after every upsampling layer (PixelNoise)

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
        def norm():
            if self.num_classes:
                conditional = ConditionalBatchNorm(self.num_classes, not train)
                return functools.partial(conditional, labels=labels)
            if self.self_modulation:
                return functools.partial(SelfModulatedBatchNorm(not train), z=z)
            return BatchNorm(use_running_average=not train)

        def up(features):
            conv = UpConv(features, dtype=self.dtype, kernel_init=WEIGHT_INIT)
            if self.pixel_noise:
                return lambda x: PixelNoise()(conv(x), z)
            return conv

        if self.class_shares:
            keep_class_shares(self, self.num_classes)
        stages = num_resolution_stages(self.image_size)
        width = self.ngf * 2 ** (stages - 1)
        # The first layer, a 4x4 transposed conv of the 1x1 noise "image", is exactly a dense map.
        x = nn.Dense(4 * 4 * width, use_bias=False, kernel_init=WEIGHT_INIT)(z)
        x = nn.relu(norm()(x.reshape(-1, 4, 4, width)))
        sow_features(self, x)
        for stage in range(1, stages):
            x = nn.relu(norm()(up(self.ngf * 2 ** (stages - 1 - stage))(x)))
            sow_features(self, x)
        return jnp.tanh(up(self.num_channels)(x))


# Normalisations of D's hidden layers (`config.d_norm`). Penalties on D's input gradient
# (WGAN-GP, R1) assume images do not interact inside D, which BatchNorm breaks; Gulrajani et al.
# use layer normalisation instead, SNGAN none at all.
D_NORMS = ("batch", "layer", "none")
# Hidden units of InfoGAN's Q head (Chen et al. 2016, appendix C).
CODE_HEAD_UNITS = 128
# `config.latent_code_view`: what InfoGAN's Q reads (see `Discriminator`).
CODE_VIEWS = ("features", "outline")


def pack(images: jax.Array, packing: int) -> jax.Array:
    """PacGAN's packing (Lin et al. 2018): (N, H, W, C) -> (N / m, H, W, m * C), each input
    the m consecutive images of the batch stacked along the channels."""
    n, h, w, c = images.shape
    grouped = images.reshape(n // packing, packing, h, w, c).transpose(0, 2, 3, 1, 4)
    return grouped.reshape(n // packing, h, w, packing * c)


def packed_alone(images: jax.Array, packing: int) -> jax.Array:
    """Each image repeated `packing` times in a row: packed, every input holds copies of one
    image, so a packing D gives one logit and one feature map per image (for inspection)."""
    return jnp.repeat(images, packing, axis=0)


def judged_alone(discriminator: nn.Module, images: jax.Array) -> jax.Array:
    """The inputs with which any D (only this module's packs) judges each image by itself."""
    return packed_alone(images, getattr(discriminator, "packing", 1))


class Discriminator(nn.Module):
    """Image -> stride-2 4x4 convs (64 -> 32 -> 16 -> 8 -> 4 for 64x64) -> one logit per image
    (per pack of images with `packing`).

    With `num_classes` > 0 it is a projection discriminator (Miyato & Koyama 2018): the logit
    gains the inner product of a learned class embedding with the last feature map summed over
    positions, which scores how well an image matches its label. With `self_conditioning` the
    classes are clusters of that feature map (`self_conditioning.FeatureClusters`): an image
    given no label is scored with its nearest cluster's, and in training mode such a batch
    (the real images) moves the clusters. The assignment is sown as `cluster`.

    With `packing` m > 1 it judges m images at once (PacGAN, Lin et al. 2018): consecutive
    images of the batch are stacked along the channels (`pack`) and D gives one logit per
    pack. A generator that draws some kinds of image too often and others too rarely draws
    packs of the same kind far more often than the data holds them, which a packing D sees
    and an image-by-image D cannot: packing penalises dropped modes. It also divides D's work
    beyond its first layer by m.

    With `code_categories` > 0 it also holds InfoGAN's Q (Chen et al. 2016): a head on the last
    feature map that predicts each image's latent code, sown as `code_logits` (one row per
    image, also when packing). It shares D's convolutions, so it costs one small MLP. With
    `code_view` "outline" Q is instead a small network of its own reading only the image's
    edges (`code_reader.OutlineCodeReader`), so that G cannot make its code legible through
    colour or background.

    LeakyReLU(0.2) everywhere, BatchNorm (or `norm`) on all but the first conv. Every stage's
    feature map (32x32x64, 16x16x128, 8x8x256 and 4x4x512 for 64x64 inputs) is sown as
    `intermediates` so the feature extraction can be inspected with `mutable=['intermediates']`.

    Attributes:
      ndf: channels of the first conv, doubling at each stage.
      spectral_norm: spectrally normalise every conv and the class embedding (SNGAN's
        DCGAN-style D).
      norm: one of `D_NORMS`.
      dtype: operands of the stride-2 convolutions' matrix products.
      num_classes: > 0 adds the class projection; `labels` then say each image's class.
      self_conditioning: the classes are clusters of D's features, `labels` optional.
      packing: images per input; the batch must be a multiple of it.
      code_categories: > 0 adds Q, the latent code's head.
      code_view: what Q reads, one of `CODE_VIEWS`: "features", D's last feature map, or
        "outline", the image's edges.
    """

    ndf: int = 64
    spectral_norm: bool = False
    norm: str = "batch"
    dtype: jnp.dtype = jnp.float32
    num_classes: int = 0
    self_conditioning: bool = False
    packing: int = 1
    code_categories: int = 0
    code_view: str = "features"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
        stages = num_resolution_stages(x.shape[1])
        if self.code_categories and self.code_view == "outline":
            reader = OutlineCodeReader(
                self.code_categories, self.ndf // 2, self.dtype, name="code_reader"
            )
            self.sow("intermediates", "code_logits", reader(x))
        if self.packing > 1:
            x = pack(x, self.packing)
        for stage in range(stages):
            conv = DownConv(self.ndf * 2**stage, self.dtype, WEIGHT_INIT, name=f"Conv_{stage}")
            x = self._apply(conv, x, train)
            if stage > 0:
                x = self._normalize(x, train)
            x = nn.leaky_relu(x, negative_slope=0.2)
            sow_features(self, x)
        # The last 4x4 convolution sees the whole 4x4 map: one logit per image.
        logit = nn.Conv(
            1,
            (4, 4),
            padding="VALID",
            use_bias=False,
            kernel_init=WEIGHT_INIT,
            name=f"Conv_{stages}",
        )
        logits = self._apply(logit, x, train).reshape(-1)
        if self.code_categories and self.code_view == "features":
            self.sow("intermediates", "code_logits", self._code_head(x))
        if self.self_conditioning:
            clusters = FeatureClusters(self.num_classes, name="clusters")
            assigned = clusters(x, update=train and labels is None)
            self.sow("intermediates", "cluster", assigned)
            labels = assigned if labels is None else labels
        if self.num_classes:
            embedding = nn.Embed(
                self.num_classes, x.shape[-1], embedding_init=WEIGHT_INIT, name="class_projection"
            )
            # Spectrally normalised with the rest of D, as Miyato & Koyama normalise theirs.
            class_vectors = self._apply(embedding, labels, train)
            logits += jnp.sum(class_vectors * x.sum(axis=(1, 2)), axis=-1)
        return logits

    def _code_head(self, x: jax.Array) -> jax.Array:
        """Q: the last feature map -> FC (InfoGAN's 128 units) -> code logits, one row per image
        (a pack's row holds its images' logits in order, as `pack` stacked them)."""
        hidden = nn.Dense(CODE_HEAD_UNITS, kernel_init=WEIGHT_INIT, name="code_hidden")
        hidden = nn.leaky_relu(hidden(x.reshape(x.shape[0], -1)), negative_slope=0.2)
        out = nn.Dense(self.packing * self.code_categories, kernel_init=WEIGHT_INIT, name="code")
        return out(hidden).reshape(-1, self.code_categories)

    def _apply(self, layer: nn.Module, x: jax.Array, train: bool) -> jax.Array:
        return spectral_normalized(layer, x, train) if self.spectral_norm else layer(x)

    def _normalize(self, x: jax.Array, train: bool) -> jax.Array:
        if self.norm == "batch":
            return BatchNorm(use_running_average=not train)(x)
        if self.norm == "layer":  # over each image's H, W and C, with per-channel scale/offset
            return nn.LayerNorm(reduction_axes=(1, 2, 3))(x)
        return x
