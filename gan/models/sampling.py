"""Drawing images from a generator: the noise, the class labels and the variables it samples with.

`state` is a `gan.training.train.TrainState` (what sampling reads of it: `generator`,
`g_params`, `g_ema_params`, `g_batch_stats` and the mesh its arrays are placed on). Used by
training's sample grids, evaluation, `gan.sample` and `gan.trace`.
"""

import functools
from collections.abc import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from gan import images, parallel
from gan.models.dcgan import BATCHNORM_MOMENTUM


def latent_noise(seed: int, num: int, latent_dim: int) -> jax.Array:
    """Standard normal z vectors, a pure function of `seed`."""
    return jax.random.normal(jax.random.PRNGKey(seed), (num, latent_dim))


def cycled_labels(num: int, num_classes: int) -> jax.Array | None:
    """Classes 0, 1, ..., num_classes - 1, 0, 1, ... for `num` generated images: every class
    equally often (in an 8-wide grid of 8 classes, one class per column); None when the model
    is unconditional (`num_classes` 0)."""
    return jnp.arange(num) % num_classes if num_classes else None


def class_labels(labels: jax.Array | None) -> dict:
    """The keyword argument that passes `labels` to a conditional network (none when None: the
    ResNet networks are unconditional only)."""
    return {} if labels is None else {"labels": labels}


def class_shares(state) -> jax.Array | None:
    """Each class's share of the real images, where the classes are clusters of them (of D's
    features in a self-conditioned GAN, of their outlines with `outline_clusters`); None
    where every class is drawn equally often."""
    if getattr(state.discriminator, "self_conditioning", False):
        return state.d_batch_stats["clusters"]["shares"]
    return state.g_batch_stats.get("class_shares")


def drawn_labels(state, num: int) -> jax.Array | None:
    """The classes `num` generated images are drawn for: every class equally often
    (`cycled_labels`), except for classes that are clusters of real images (`class_shares`),
    drawn as often as they hold real images, in ascending order; None when G draws from z
    alone."""
    classes = generator_classes(state)
    shares = class_shares(state)
    if shares is None:
        return cycled_labels(num, classes)
    quantiles = (jnp.arange(num) + 0.5) / num
    labels = jnp.searchsorted(jnp.cumsum(shares) / jnp.sum(shares), quantiles)
    return jnp.minimum(labels, classes - 1).astype(jnp.int32)


def generator_classes(state) -> int:
    """The classes a generator draws for: a class-conditional one's classes, or the categories
    of its latent code; 0 for a generator of z alone."""
    return getattr(state.generator, "num_classes", 0)  # the ResNet has no conditional variant


# Noise images from which the BatchNorm statistics of G's EMA weights are measured, and its seed.
STANDING_STATISTICS_BATCH = 512
STANDING_STATISTICS_SEED = 1


@jax.jit
def inference_variables(state) -> dict:
    """G's variables for sampling.

    Without an EMA: the trained weights with their running BatchNorm statistics. With one: the
    EMA weights with BatchNorm statistics measured on them, over one fixed batch of noise
    ("standing statistics", Brock et al. 2019). The running statistics follow the trained
    weights of the last ~10 steps (momentum 0.9), not an average over ~1 / (1 - ema_decay)
    steps; with them the EMA's early samples were no better than the trained weights' (7.8%
    against 9.0% recognisable at step 2,000 of the default recipe,
    docs/experiments/default_recipe.md).
    """
    if state.g_ema_params is None:
        return {"params": state.g_params, "batch_stats": state.g_batch_stats}
    z = latent_noise(
        STANDING_STATISTICS_SEED, STANDING_STATISTICS_BATCH, state.generator.latent_dim
    )
    labels = drawn_labels(state, STANDING_STATISTICS_BATCH)
    # From zero running statistics, one update leaves (1 - momentum) times the batch's own.
    zeros = jax.tree.map(jnp.zeros_like, state.g_batch_stats)
    _, updated = state.generator.apply(
        {"params": state.g_ema_params, "batch_stats": zeros},
        z,
        train=True,
        mutable=["batch_stats"],
        **class_labels(labels),
    )
    measured = jax.tree.map(lambda x: x / (1 - BATCHNORM_MOMENTUM), updated["batch_stats"])
    return {"params": state.g_ema_params, "batch_stats": measured}


@functools.partial(jax.jit, static_argnums=0)
def _generate_from(generator: nn.Module, variables: dict, z: jax.Array, labels=None) -> jax.Array:
    return generator.apply(variables, z, train=False, **class_labels(labels))


def generate(state, z: jax.Array, labels: jax.Array | None = None) -> jax.Array:
    """Images in [-1, 1] from the generator in inference mode (`inference_variables`). A
    class-conditional generator draws image i of class `labels[i]`."""
    return _generate_from(state.generator, inference_variables(state), z, labels)


def generate_batches(
    state, z: jax.Array, labels: jax.Array | None, batch_size: int
) -> Iterator[np.ndarray]:
    """`generate` over `z` (image i of class `labels[i]` if conditional), `batch_size` images at
    a time to bound device memory for large N, each batch as uint8 NHWC on the host.

    Each batch is split over the devices of the state's mesh, in every process; `z` and
    `labels` must be the same in every process (e.g. drawn from one seed), and every process
    receives every image.
    """
    mesh = parallel.mesh_of(state)
    variables = inference_variables(state)  # once: with an EMA, measuring them runs G
    z, labels = np.asarray(z), None if labels is None else np.asarray(labels)
    for i in range(0, len(z), batch_size):
        chunk = slice(i, i + batch_size)
        inputs, size = parallel.split_over_mesh(
            (z[chunk], None if labels is None else labels[chunk]), mesh
        )
        generated = parallel.to_host(_generate_from(state.generator, variables, *inputs))[:size]
        yield images.to_uint8(generated)
