"""Classes without labels: k-means clusters of the training images' outlines.

With `config.label_key = "outline_clusters"` a class-conditional GAN trains on classes found
here when the run starts, from the images alone; no label is read. Each image's edges
(`gan.models.code_reader.outline_view`: blurred gradient magnitude, colour and background
gone) are thresholded at OUTLINE_THRESHOLD of its strongest edge, centred on their centre of
mass and scaled by their RMS radius into a DESCRIPTOR_SIZE-square descriptor, so that position
and size drop out too; what is left is the outline's form. With `config.outline_harmonics` > 0
the logarithms of the outline's angular harmonics' magnitudes join the map, weighted by it:
they tell shapes apart that the map barely does, a hexagon from a circle (`_angular_harmonics`).
k-means (the best of KMEANS_RESTARTS, seeded greedily) on KMEANS_SAMPLE descriptors gives the
centroids, and every image goes to its nearest. On the embedded data the map alone gives 8
clusters that share most of their information with the shape (NMI 0.885; circles and hexagons
share one) and none with colour, position or background; with the harmonics at 0.3, every
shape has a cluster of its own (NMI 0.990) at every seed tried
(docs/experiments/default_recipe.md).

Every process finds the same clusters, and the same as one process would: the k-means sample
is drawn from the whole dataset and gathered from the processes holding it, and process 0's
centroids are broadcast. A resumed run finds them again (same images, same seed),
and training checks them against the class shares its checkpoint holds.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage
from absl import logging
from jax.experimental import multihost_utils

from gan.models import code_reader

# `config.label_key` that asks for these clusters instead of a dataset feature.
LABEL_KEY = "outline_clusters"
OUTLINE_THRESHOLD = 0.3  # weaker edges (grain, background texture) are dropped
DESCRIPTOR_SIZE = 24  # pixels a side, over DESCRIPTOR_EXTENT RMS radii either side of the centre
DESCRIPTOR_EXTENT = 2.2
HARMONICS = range(2, 9)  # angular harmonics (the 1st vanishes about the centre of mass)
HARMONIC_FLOOR = 0.01  # about a circle's harmonics (pixelation): the log scale's zero
KMEANS_SAMPLE = 10_000
KMEANS_RESTARTS = 8
VIEW_BATCH = 500


def uses_outline_clusters(config) -> bool:
    """Whether `config` trains a class-conditional GAN on outline clusters."""
    return config.get("num_classes", 0) > 0 and config.get("label_key") == LABEL_KEY


def descriptors(images: np.ndarray, harmonics_weight: float = 0.0) -> np.ndarray:
    """Outline descriptors (N, DESCRIPTOR_SIZE**2 [+ len(HARMONICS)]) of uint8 images: the
    zero-mean, unit-norm outline map, then, with `harmonics_weight` > 0, that weight times the
    log-magnitudes of the outline's angular harmonics (`_angular_harmonics`)."""
    view = jax.jit(code_reader.outline_view)
    maps, harmonics = [], []
    for start in range(0, len(images), VIEW_BATCH):
        batch = jnp.asarray(images[start : start + VIEW_BATCH], jnp.float32) / 127.5 - 1.0
        edges = np.asarray(view(batch))[..., 0]
        frame = _Frame.of(np.where(edges > OUTLINE_THRESHOLD, edges, 0.0))
        maps.append(_centred(frame))
        if harmonics_weight:
            harmonics.append(harmonics_weight * _angular_harmonics(frame))
    found = np.concatenate(maps).reshape(len(images), -1)
    found -= found.mean(axis=1, keepdims=True)
    found /= np.linalg.norm(found, axis=1, keepdims=True)
    if harmonics_weight:
        found = np.concatenate([found, np.concatenate(harmonics)], axis=1)
    return found


class _Frame(NamedTuple):
    """A batch of outlines (N, H, W) with each one's centre of mass and RMS radius (N,), its
    pixel weights (N, H, W), edge strengths summing to 1, and every pixel's row and column
    offsets from that centre (N, H, W), which the map and the harmonics both read."""

    edges: np.ndarray
    weights: np.ndarray
    centre_row: np.ndarray
    centre_col: np.ndarray
    row_offsets: np.ndarray
    col_offsets: np.ndarray
    radius: np.ndarray

    @classmethod
    def of(cls, edges: np.ndarray) -> "_Frame":
        """The frame of `edges` (N, H, W), each with some edge above zero."""
        rows, cols = np.mgrid[: edges.shape[1], : edges.shape[2]].astype(np.float32)
        weights = edges / edges.sum(axis=(1, 2), keepdims=True)
        centre_row = (weights * rows).sum(axis=(1, 2))
        centre_col = (weights * cols).sum(axis=(1, 2))
        row_offsets = rows - centre_row[:, None, None]
        col_offsets = cols - centre_col[:, None, None]
        radius = np.sqrt((weights * (row_offsets**2 + col_offsets**2)).sum(axis=(1, 2)))
        return cls(edges, weights, centre_row, centre_col, row_offsets, col_offsets, radius)


def _centred(frame: _Frame) -> np.ndarray:
    """Each outline resampled about its centre of mass, in units of its RMS radius:
    (N, DESCRIPTOR_SIZE, DESCRIPTOR_SIZE). One interpolation over the whole batch, the image
    index an exact integer coordinate, so each image is sampled from itself alone."""
    count = len(frame.edges)
    steps = np.linspace(-DESCRIPTOR_EXTENT, DESCRIPTOR_EXTENT, DESCRIPTOR_SIZE)
    steps = steps * frame.radius[:, None]
    shape = (count, DESCRIPTOR_SIZE, DESCRIPTOR_SIZE)
    grid = (
        np.broadcast_to(np.arange(count)[:, None, None], shape),
        np.broadcast_to((frame.centre_row[:, None] + steps)[:, :, None], shape),
        np.broadcast_to((frame.centre_col[:, None] + steps)[:, None, :], shape),
    )
    return scipy.ndimage.map_coordinates(frame.edges, grid, order=1, mode="constant")


def _angular_harmonics(frame: _Frame) -> np.ndarray:
    """The log of the outline's angular Fourier magnitudes, log(HARMONIC_FLOOR + |sum of
    weight x (distance / RMS radius) x exp(i k angle)|) over its pixels about its centre, for
    each k of HARMONICS: (N, len).

    A shape with k-fold symmetry has a strong k-th harmonic (a square the 4th, a hexagon the
    6th) and a circle none, at any size, position or rotation. The outline map alone, blurred
    and sampled on a coarse grid, barely tells a hexagon from a circle (their radii differ by
    13% at most), and k-means puts both in one class. On a linear scale the harmonics do not
    settle it either: a star's 5th harmonic doubles from its smallest size to its largest
    (0.15 to 0.28), more than a hexagon's 6th stands above a circle's (0.04-0.06 against 0.01),
    so k-means splits stars by size first. On a log scale each harmonic counts by its ratio to
    the floor, and those of the shapes' symmetries stand out at every size
    (docs/experiments/default_recipe.md, "Log harmonics and greedy seeding").
    """
    offsets = frame.col_offsets + 1j * frame.row_offsets
    distance = np.abs(offsets)
    direction = (offsets / np.maximum(distance, 1e-6)).astype(np.complex64)  # exp(i angle)
    weighted = frame.weights * distance / frame.radius[:, None, None]
    magnitudes, turned = [], direction ** (HARMONICS[0] - 1)
    for _ in HARMONICS:
        turned = turned * direction  # exp(i k angle), k one more each time
        magnitudes.append(np.abs((weighted * turned).sum(axis=(1, 2))))
    return np.log(HARMONIC_FLOOR + np.stack(magnitudes, axis=1)).astype(np.float32)


def kmeans(
    points: np.ndarray, k: int, iterations: int = 50, seed: int = 0, candidates: int = 0
) -> np.ndarray:
    """Cluster ids of `points` (N, D): k-means with greedy k-means++ seeding, Lloyd's iterations.

    Greedy seeding (Arthur & Vassilvitskii 2007; scikit-learn's default) draws `candidates`
    (0: 2 + log(k)) for each new centre, in proportion to their squared distance from the
    centres so far, and keeps the one that leaves the least spread. With one candidate (plain
    k-means++), Lloyd's iterations more often end with two nearby groups under one centre and
    another group split in two: on the embedded data's outline descriptors, far fewer starts
    reach the partition of least spread, one shape per cluster
    (`python -m experiments.outline_clusters --starts=24`).

    Squared distances are expanded as |x|^2 - 2 x.c + |c|^2, a matrix product rather than an
    (N, k, D) array of differences, in float64 so that the expansion loses nothing that matters.
    """
    rng = np.random.default_rng(seed)
    wide = points.astype(np.float64)
    norms = (wide**2).sum(1)[:, None]
    candidates = candidates or 2 + int(np.log(k))

    def squared_distances(centres):
        centres = centres.astype(np.float64)
        return np.maximum(norms - 2 * wide @ centres.T + (centres**2).sum(1)[None], 0.0)

    centres = points[rng.choice(len(points), 1)]
    closest = squared_distances(centres)[:, 0]
    for _ in range(k - 1):
        drawn = rng.choice(len(points), candidates, p=closest / closest.sum())
        with_each = np.minimum(closest[:, None], squared_distances(points[drawn]))
        best = with_each.sum(axis=0).argmin()
        centres = np.concatenate([centres, points[drawn[best]][None]])
        closest = with_each[:, best]
    for _ in range(iterations):
        ids = squared_distances(centres).argmin(1)
        centres = np.stack(
            [points[ids == j].mean(0) if (ids == j).any() else centres[j] for j in range(k)]
        )
    return ids


def centroids_and_spread(points: np.ndarray, ids: np.ndarray, num: int):
    """The mean (num, D) of each of `num` clusters of `points` (N, D) with cluster `ids`, and
    the spread: the sum of squared distances of the points to their cluster's mean."""
    centroids = np.stack([points[ids == k].mean(axis=0) for k in range(num)])
    return centroids, ((points - centroids[ids]) ** 2).sum()


def _centroids(sample: np.ndarray, num: int, seed: int) -> np.ndarray:
    """The centroids of the best (least spread) of KMEANS_RESTARTS k-means runs."""
    best = None
    for restart in range(KMEANS_RESTARTS):
        assigned = kmeans(sample, num, seed=seed * KMEANS_RESTARTS + restart)
        centroids, spread = centroids_and_spread(sample, assigned, num)
        if best is None or spread < best[0]:
            best = (spread, centroids)
    return best[1]


def kmeans_sample_indices(total: int, seed: int) -> np.ndarray:
    """Indices, among the `total` images of all processes, of the KMEANS_SAMPLE images whose
    descriptors k-means runs on with `seed` (the experiments draw the same images)."""
    return np.random.default_rng(seed).permutation(total)[:KMEANS_SAMPLE]


def _kmeans_sample(found: np.ndarray, seed: int) -> np.ndarray:
    """KMEANS_SAMPLE descriptors of the whole dataset, drawn by `seed` from all processes'
    shares, in one order: the same for any number of processes (each holds an equal,
    contiguous share, `sources.load_source`). Each process fills the rows it holds, and the
    sum over processes of these (KMEANS_SAMPLE, D) arrays is the sample."""
    count, index = jax.process_count(), jax.process_index()
    drawn = kmeans_sample_indices(len(found) * count, seed)
    if count == 1:
        return found[drawn]
    mine = (drawn >= index * len(found)) & (drawn < (index + 1) * len(found))
    sample = np.zeros((len(drawn), found.shape[1]), found.dtype)
    sample[mine] = found[drawn[mine] - index * len(found)]
    return np.asarray(multihost_utils.process_allgather(sample)).sum(axis=0)


def find(images: np.ndarray, num: int, seed: int, harmonics_weight: float = 0.0) -> np.ndarray:
    """The outline cluster (of `num`) of each of this process's `images`, int32: the same
    clusters in every process, and those one process would find (`_kmeans_sample`).

    Args:
      images: uint8 (N, S, S, C), this process's share of the training images.
      num: clusters (the model's classes).
      seed: picks the k-means sample and seeds the restarts.
      harmonics_weight: weight of the angular harmonics in the descriptor (`descriptors`).
    """
    found = descriptors(images, harmonics_weight)
    centroids = _centroids(_kmeans_sample(found, seed), num, seed)
    if jax.process_count() > 1:  # identical already, unless arithmetic differs between hosts
        centroids = np.asarray(multihost_utils.broadcast_one_to_all(centroids))
    # The nearest centroid; a descriptor's own squared norm is the same for every centroid.
    distances = (centroids**2).sum(1) - 2 * found @ centroids.T
    clusters = np.argmin(distances, axis=1).astype(np.int32)
    sizes = np.bincount(clusters, minlength=num).tolist()
    logging.info("Outline clusters of this process's images: sizes %s", sizes)
    return clusters


def shares(labels: np.ndarray, num: int) -> np.ndarray:
    """Each class's share of the training images of all processes, float32 (num,)."""
    counts = np.bincount(labels, minlength=num).astype(np.int64)
    if jax.process_count() > 1:
        counts = np.asarray(multihost_utils.process_allgather(counts)).sum(axis=0)
    return (counts / counts.sum()).astype(np.float32)
