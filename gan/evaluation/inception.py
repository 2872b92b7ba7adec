"""The FID Inception network in Flax: pytorch-fid's InceptionV3, layer for layer.

FID, KID, IS and precision/recall are only comparable with published numbers when they use the
same network as everyone else: the TensorFlow Inception graph of 2015-12-05, which pytorch-fid
ports to PyTorch (`pt_inception-2015-12-05-6726825d.pth`). That port differs from torchvision's
InceptionV3 in four blocks (`FIDInceptionA`, `FIDInceptionC`, `FIDInceptionE_1/2`: average pools
that ignore padding, one max pool), has 1008 classes, and resizes its input to 299x299 with
bilinear interpolation (align_corners=False) before mapping [0, 1] to [-1, 1]. This module
reproduces all of it; submodules carry the PyTorch names so that weights convert by name
(`gan.evaluation.inception_weights`).

Outputs: `pool3`, the 2048-d average-pooled features of FID/KID/precision-recall, and `logits`
over the 1008 classes, for IS.
"""

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

INPUT_SIZE = 299
NUM_CLASSES = 1008
BATCH_NORM_EPSILON = 1e-3  # torchvision's BasicConv2d, as in the TensorFlow graph


class BasicConv(nn.Module):
    """Convolution without bias, inference-mode BatchNorm, ReLU (torchvision's BasicConv2d)."""

    features: int
    kernel: tuple[int, int]
    strides: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        pad = [(p, p) for p in self.padding]
        x = nn.Conv(self.features, self.kernel, self.strides, pad, use_bias=False, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=BATCH_NORM_EPSILON, name="bn")(x)
        return nn.relu(x)


def _avg_pool_same(x: jax.Array) -> jax.Array:
    """3x3 stride-1 average over the valid pixels only, as TensorFlow's pool (the FID patch)."""
    return nn.avg_pool(x, (3, 3), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool(x: jax.Array, strides: int = 2, padding: int = 0) -> jax.Array:
    pad = ((padding, padding), (padding, padding))
    return nn.max_pool(x, (3, 3), (strides, strides), padding=pad)


class InceptionA(nn.Module):
    """FIDInceptionA: 1x1, 5x5, double 3x3 and pooled branches."""

    pool_features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        branch1x1 = BasicConv(64, (1, 1), name="branch1x1")(x)
        branch5x5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
        branch5x5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(branch5x5)
        dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(dbl)
        dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(dbl)
        pool = BasicConv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_same(x))
        return jnp.concatenate([branch1x1, branch5x5, dbl, pool], axis=-1)


class InceptionB(nn.Module):
    """torchvision's InceptionB (Mixed_6a): the 35 -> 17 reduction."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        branch3x3 = BasicConv(384, (3, 3), strides=2, name="branch3x3")(x)
        dbl = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        dbl = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(dbl)
        dbl = BasicConv(96, (3, 3), strides=2, name="branch3x3dbl_3")(dbl)
        return jnp.concatenate([branch3x3, dbl, _max_pool(x)], axis=-1)


class InceptionC(nn.Module):
    """FIDInceptionC: factorised 7x7 branches and a pooled branch."""

    channels_7x7: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c7 = self.channels_7x7
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        branch1x1 = BasicConv(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv(c7, **row, name="branch7x7_2")(b7)
        b7 = BasicConv(192, **col, name="branch7x7_3")(b7)
        dbl = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
        dbl = BasicConv(c7, **col, name="branch7x7dbl_2")(dbl)
        dbl = BasicConv(c7, **row, name="branch7x7dbl_3")(dbl)
        dbl = BasicConv(c7, **col, name="branch7x7dbl_4")(dbl)
        dbl = BasicConv(192, **row, name="branch7x7dbl_5")(dbl)
        pool = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_same(x))
        return jnp.concatenate([branch1x1, b7, dbl, pool], axis=-1)


class InceptionD(nn.Module):
    """torchvision's InceptionD (Mixed_7a): the 17 -> 8 reduction."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv(320, (3, 3), strides=2, name="branch3x3_2")(b3)
        b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool(x)], axis=-1)


class InceptionE(nn.Module):
    """FIDInceptionE_1 (average pool) or FIDInceptionE_2 (`max_pool=True`, as in the graph)."""

    max_pool: bool

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        split = lambda name, y: [  # noqa: E731  (the 1x3 and 3x1 halves of a 3x3)
            BasicConv(384, (1, 3), padding=(0, 1), name=f"{name}a")(y),
            BasicConv(384, (3, 1), padding=(1, 0), name=f"{name}b")(y),
        ]
        branch1x1 = BasicConv(320, (1, 1), name="branch1x1")(x)
        b3 = split("branch3x3_2", BasicConv(384, (1, 1), name="branch3x3_1")(x))
        dbl = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
        dbl = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(dbl)
        dbl = split("branch3x3dbl_3", dbl)
        pooled = _max_pool(x, strides=1, padding=1) if self.max_pool else _avg_pool_same(x)
        pool = BasicConv(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([branch1x1, *b3, *dbl, pool], axis=-1)


def resize_bilinear(images: jax.Array, size: int) -> jax.Array:
    """Bilinear resize with half-pixel centres and no antialiasing: torch's
    `F.interpolate(mode='bilinear', align_corners=False)`, which pytorch-fid uses."""
    shape = (images.shape[0], size, size, images.shape[-1])
    return jax.image.resize(images, shape, method="bilinear", antialias=False)


class FIDInceptionV3(nn.Module):
    """pytorch-fid's InceptionV3 (use_fid_inception=True) with its fc layer, NHWC.

    Attributes:
      resize_input: resize to 299x299 first (pytorch-fid's default); without it any side of
        at least 75 works, which keeps tests fast.
    """

    resize_input: bool = True

    @nn.compact
    def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
        """Features of float images in [0, 1], (N, H, W, 3).

        Returns:
          {'pool3': (N, 2048), 'logits': (N, 1008)}.
        """
        x = resize_bilinear(images, INPUT_SIZE) if self.resize_input else images
        x = 2 * x - 1
        x = BasicConv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = _max_pool(BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x))
        x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = _max_pool(BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x))
        x = _stack(x, [InceptionA(p, name=n) for n, p in _MIXED_5.items()])
        x = InceptionB(name="Mixed_6a")(x)
        x = _stack(x, [InceptionC(c, name=n) for n, c in _MIXED_6.items()])
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(max_pool=False, name="Mixed_7b")(x)
        x = InceptionE(max_pool=True, name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        return {"pool3": pool3, "logits": nn.Dense(NUM_CLASSES, name="fc")(pool3)}


# Block names and their width settings (pool_features of A blocks, channels_7x7 of C blocks).
_MIXED_5 = {"Mixed_5b": 32, "Mixed_5c": 64, "Mixed_5d": 64}
_MIXED_6 = {"Mixed_6b": 128, "Mixed_6c": 160, "Mixed_6d": 160, "Mixed_6e": 192}


def _stack(x: jax.Array, blocks: Sequence[nn.Module]) -> jax.Array:
    return functools.reduce(lambda y, block: block(y), blocks, x)
