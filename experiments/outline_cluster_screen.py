"""Screen: a conditional GAN whose classes are clusters of the training images' outlines,
found without reading any label (the unlabelled reference case, given a shape signal).

    python -m experiments.outline_cluster_screen --config=configs/cdcgan.py \
        --workdir=runs/outline_clusters

Each training image's edges (`gan.models.code_reader.outline_view`, colour and background
gone) are thresholded at OUTLINE_THRESHOLD of the strongest edge, centred on their centre of
mass and scaled by their RMS radius into a DESCRIPTOR_SIZE-square descriptor, so that
position and size drop out; k-means with `num_classes` clusters on KMEANS_SAMPLE of them (the
best of KMEANS_RESTARTS), every image assigned to its nearest centroid. These clusters replace
the dataset's labels before training, which then runs as `gan.main` runs the config
(class-conditional BatchNorm in G, a projection term in D). The config's `label_key` feature
is read only to log its normalised mutual information with the clusters, as is every other
factor of the embedded data. (Evaluation's `recognisable_as_label` then compares samples with
their cluster's number, not a shape: ignore it; `recognisable` and its per-shape shares hold.)

A screen, not a training option: the clusters are computed by this process from its share of
the images (one process only) and the run's checkpoints do not record them, so resume it with
this same command, which recomputes the same clusters.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage
import tensorflow_datasets as tfds
from absl import app, flags, logging

from experiments.d_feature_clusters import kmeans, normalised_mutual_information
from gan import main as gan_main
from gan.data import pipeline, procedural_shapes
from gan.models import code_reader

FLAGS = flags.FLAGS
OUTLINE_THRESHOLD = 0.3  # weaker edges (grain, background texture) are dropped
DESCRIPTOR_SIZE = 24  # pixels a side, over DESCRIPTOR_EXTENT RMS radii either side of the centre
DESCRIPTOR_EXTENT = 2.2
KMEANS_SAMPLE = 10_000
KMEANS_RESTARTS = 8
VIEW_BATCH = 500


def outline_descriptors(images: np.ndarray) -> np.ndarray:
    """Unit-norm, zero-mean (N, DESCRIPTOR_SIZE**2) outline descriptors of uint8 images."""
    view = jax.jit(code_reader.outline_view)
    descriptors = []
    for start in range(0, len(images), VIEW_BATCH):
        batch = jnp.asarray(images[start : start + VIEW_BATCH], jnp.float32) / 127.5 - 1.0
        for edges in np.asarray(view(batch))[..., 0]:
            descriptors.append(_centred(np.where(edges > OUTLINE_THRESHOLD, edges, 0.0)))
    descriptors = np.stack(descriptors).reshape(len(images), -1)
    descriptors -= descriptors.mean(axis=1, keepdims=True)
    return descriptors / np.linalg.norm(descriptors, axis=1, keepdims=True)


def _centred(edges: np.ndarray) -> np.ndarray:
    """`edges` resampled about their centre of mass, in units of their RMS radius."""
    rows, cols = np.mgrid[: edges.shape[0], : edges.shape[1]].astype(np.float32)
    weights = edges / edges.sum()
    centre_row, centre_col = (weights * rows).sum(), (weights * cols).sum()
    radius = np.sqrt((weights * ((rows - centre_row) ** 2 + (cols - centre_col) ** 2)).sum())
    steps = np.linspace(-DESCRIPTOR_EXTENT, DESCRIPTOR_EXTENT, DESCRIPTOR_SIZE) * radius
    grid = np.meshgrid(centre_row + steps, centre_col + steps, indexing="ij")
    return scipy.ndimage.map_coordinates(edges, grid, order=1, mode="constant")


def outline_clusters(images: np.ndarray, num: int, seed: int) -> np.ndarray:
    """The k-means cluster (of `num`) of every image's outline descriptor, int32: the best
    (least squared distance to its centroids) of KMEANS_RESTARTS clusterings of a sample."""
    descriptors = outline_descriptors(images)
    sample = descriptors[np.random.default_rng(seed).permutation(len(images))[:KMEANS_SAMPLE]]
    best = None
    for restart in range(KMEANS_RESTARTS):
        assigned = kmeans(sample, num, seed=seed * KMEANS_RESTARTS + restart)
        centroids = np.stack([sample[assigned == k].mean(axis=0) for k in range(num)])
        spread = ((sample - centroids[assigned]) ** 2).sum()
        if best is None or spread < best[0]:
            best = (spread, centroids)
    # The nearest centroid; every descriptor has unit norm, so its own term drops out.
    distances = (best[1] ** 2).sum(1) - 2 * descriptors @ best[1].T
    return np.argmin(distances, axis=1).astype(np.int32)


def _report(clusters: np.ndarray, config) -> None:
    """Logs the clusters' sizes and their NMI with each factor of the embedded data."""
    logging.info("Outline clusters: sizes %s", np.bincount(clusters).tolist())
    if not config.dataset.startswith("procedural_shapes"):
        return
    examples = tfds.as_numpy(  # as shapes_evaluator.load_labelled, the images left encoded
        tfds.load(
            config.dataset,
            split=config.split,
            data_dir=config.data_dir,
            batch_size=-1,
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )
    )
    for key in procedural_shapes.FACTORS:
        nmi = normalised_mutual_information(clusters, examples[key][: len(clusters)])
        logging.info("NMI(outline clusters, %s) = %.3f", key, nmi)


def main(argv):
    del argv
    config = FLAGS.config
    if jax.process_count() > 1:
        raise app.UsageError("This screen computes its clusters in one process only.")
    prepare = pipeline.prepare

    def with_outline_clusters(run_config):
        data = prepare(run_config)
        if data.cached is None:
            raise app.UsageError("The clusters need the images in memory (cache_max_gb).")
        clusters = outline_clusters(data.cached, run_config.num_classes, run_config.seed)
        _report(clusters, run_config)
        return dataclasses.replace(data, source=dataclasses.replace(data.source, labels=clusters))

    pipeline.prepare = with_outline_clusters
    gan_main.train.train_and_evaluate(config, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main)
