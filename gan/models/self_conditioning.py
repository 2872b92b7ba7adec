"""Self-conditioning (Liu et al. 2020): a discriminator whose classes are clusters of its own
features of real images, so that unlabelled data trains like labelled data.

Why: a class-conditional DCGAN on the embedded data draws 80% recognisable shapes where the
same recipe unconditioned draws 48% (docs/experiments/default_recipe.md). Unconditioned, D
scores a shape half morphed into another nearly as real as a real shape, so G draws such blends
freely; a projection discriminator instead judges each image against the members of its class.
Clusters of D's last feature map stand in for the classes: each real image's class is its
nearest cluster centre, G draws each fake for the class of a real image of the same batch (so
the classes follow the data's frequencies), and D's projection term scores each image with its
class, the assigned one for real images and the one G was asked for on fakes.

The clustering is online k-means, as VQ-VAE keeps its codebook: in training mode every batch
of real images is assigned to the nearest centres (cosine similarity, since the scale of D's
features drifts), and each centre and its share of the data move by an exponential moving
average towards what they were assigned. The centres start at images of the first batch far
apart from each other. A centre whose share falls below a quarter of the uniform share
restarts at the image of the batch that its own centre fits worst. Centres and shares live in
the `batch_stats` collection, beside BatchNorm's statistics: updated in training mode, read in
evaluation mode, and saved and resumed with the rest of the train state. They move with D, so
each class keeps its identity while D's features change.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

# Weight of the old centres and shares in each update: a memory of about 100 batches.
DECAY = 0.99
# A cluster whose share falls below this fraction of the uniform share is restarted.
DEAD_FRACTION = 0.25


def unit_rows(feature_map: jax.Array) -> jax.Array:
    """Feature maps (N, H, W, C) as unit-length rows (N, H * W * C), their gradient stopped."""
    flat = jax.lax.stop_gradient(feature_map).reshape(feature_map.shape[0], -1)
    return flat / (jnp.linalg.norm(flat, axis=1, keepdims=True) + 1e-8)


def farthest_points(features: jax.Array, num: int) -> jax.Array:
    """`num` rows of `features` spread out greedily: the first row, then each time the row
    least similar to all rows chosen so far (k-means++ without the randomness)."""

    def choose(index, chosen):  # rows not chosen yet still hold the first row
        nearest = jnp.max(features @ chosen.T, axis=1)
        return chosen.at[index].set(features[jnp.argmin(nearest)])

    return jax.lax.fori_loop(1, num, choose, jnp.tile(features[:1], (num, 1)))


def online_kmeans_step(
    centres: jax.Array, shares: jax.Array, features: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """One update of unit-length `centres` (K, F) and their `shares` (K,) by a batch of
    unit-length `features` (N, F), N >= K; all-zero centres are first set to K rows of the
    batch spread out by `farthest_points`."""
    num_clusters = centres.shape[0]
    centres = jax.lax.cond(
        jnp.all(centres == 0), lambda: farthest_points(features, num_clusters), lambda: centres
    )
    labels = jnp.argmax(features @ centres.T, axis=1)
    one_hot = jax.nn.one_hot(labels, num_clusters)  # (N, K)
    counts = one_hot.sum(0)
    means = (one_hot.T @ features) / jnp.maximum(counts, 1.0)[:, None]
    centres = jnp.where(counts[:, None] > 0, DECAY * centres + (1 - DECAY) * means, centres)
    shares = DECAY * shares + (1 - DECAY) * counts / features.shape[0]
    worst_fitted = jnp.argsort(jnp.sum(features * centres[labels], axis=1))[:num_clusters]
    dead = shares < DEAD_FRACTION / num_clusters
    centres = jnp.where(dead[:, None], features[worst_fitted], centres)
    shares = jnp.where(dead, 1.0 / num_clusters, shares)
    return centres / (jnp.linalg.norm(centres, axis=1, keepdims=True) + 1e-8), shares


class FeatureClusters(nn.Module):
    """Assigns each image's feature map to the nearest of `num_clusters` centres, and with
    `update` moves the centres towards the batch (one `online_kmeans_step`)."""

    num_clusters: int

    @nn.compact
    def __call__(self, feature_map: jax.Array, update: bool) -> jax.Array:
        features = unit_rows(feature_map)
        size = (self.num_clusters, features.shape[1])
        centres = self.variable("batch_stats", "centres", jnp.zeros, size)
        shares = self.variable(
            "batch_stats", "shares", jnp.full, (self.num_clusters,), 1.0 / self.num_clusters
        )
        assigned = jnp.argmax(features @ centres.value.T, axis=1).astype(jnp.int32)
        if update and not self.is_initializing():
            centres.value, shares.value = online_kmeans_step(centres.value, shares.value, features)
        return assigned
