"""What the outline clusters of a config's training images hold: each cluster's size, its
normalised mutual information with every factor of the embedded data, and the shapes in each
(those of at least 5% of it). With --starts, also how often one k-means start finds the
partition of least spread, with greedy k-means++ seeding (what a run uses) and plain
k-means++ (one candidate per centre): a run keeps the best of KMEANS_RESTARTS starts, so with
few such starts its clusters depend on its seed.

    python -m experiments.outline_clusters --config=configs/dcgan.py
    python -m experiments.outline_clusters --config=configs/dcgan.py --starts=24
    python -m experiments.outline_clusters --config=configs/dcgan.py --harmonics

With --harmonics, the median magnitude of each angular harmonic, by shape, at the smallest
and largest size: what the harmonics' scale in the descriptor has to weigh.

The clusters are those a run of the config trains on (`label_key=outline_clusters`, found by
`gan.data.pipeline.prepare`, no label read); the factors are read here only to describe them.
"""

import time

import numpy as np
import tensorflow_datasets as tfds
from absl import app, flags
from ml_collections import config_flags

from experiments.d_feature_clusters import normalised_mutual_information
from experiments.failure_analysis import shapes_held
from gan.data import pipeline, procedural_shapes, sources
from gan.models import outline_clusters

config_flags.DEFINE_config_file("config", "configs/dcgan.py", "Training config file.")
flags.DEFINE_integer("starts", 0, "k-means starts per seeding to compare (0: none).")
flags.DEFINE_bool("harmonics", False, "Print the harmonics' medians by shape and size.")
FLAGS = flags.FLAGS
SHAPES = procedural_shapes.SHAPES


def factors_of(config) -> dict[str, np.ndarray]:
    """Every training image's factors, in training order: one tfds load of the split, the
    images left encoded (only the factors are read)."""
    examples = tfds.as_numpy(
        tfds.load(
            config.dataset,
            split=config.split,
            data_dir=config.data_dir,
            batch_size=-1,
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )
    )
    return {key: examples[key] for key in procedural_shapes.FACTORS}


def main(argv):
    del argv
    config = FLAGS.config
    if not outline_clusters.uses_outline_clusters(config):
        raise app.UsageError("The config does not train on outline clusters (label_key).")
    start = time.perf_counter()
    data = pipeline.prepare(config)
    clusters = data.source.labels
    seconds = time.perf_counter() - start
    print("cluster sizes:", np.bincount(clusters, minlength=config.num_classes).tolist())
    print(f"found in {seconds:.1f} s, the images' loading included (what a run pays at its start)")
    if not config.dataset.startswith(sources.EMBEDDED_DATASET):
        return
    factors = factors_of(config)
    for key, values in factors.items():
        nmi = normalised_mutual_information(clusters, values)
        print(f"NMI(outline clusters, {key}) = {nmi:.3f}")
    for cluster in range(config.num_classes):
        counts = np.bincount(factors["shape"][clusters == cluster], minlength=len(SHAPES))
        share = 100 * counts.sum() / len(clusters)
        print(f"cluster {cluster}, {share:.1f}% of the images: {shapes_held(counts)}")
    if FLAGS.starts:
        compare_seedings(data.cached, factors["shape"], config, FLAGS.starts)
    if FLAGS.harmonics:
        harmonic_medians(data.cached, factors, config.seed)


def harmonic_medians(images: np.ndarray, factors: dict[str, np.ndarray], seed: int) -> None:
    """Prints the median magnitude of each of HARMONICS by shape, at the smallest and the
    largest size, over KMEANS_SAMPLE images drawn by `seed`."""
    drawn = outline_clusters.kmeans_sample_indices(len(images), seed)
    logs = outline_clusters.descriptors(images[drawn], 1.0)[
        :, outline_clusters.DESCRIPTOR_SIZE**2 :
    ]
    magnitudes = np.exp(logs) - outline_clusters.HARMONIC_FLOOR
    shapes, sizes = factors["shape"][drawn], factors["size"][drawn]
    print("median |harmonic| for k =", list(outline_clusters.HARMONICS))
    for index, name in enumerate(SHAPES):
        for size in (0, len(procedural_shapes.SIZES) - 1):
            medians = np.median(magnitudes[(shapes == index) & (sizes == size)], axis=0)
            print(
                f"{name:8s} {procedural_shapes.SIZES[size]:6s}",
                [round(float(m), 3) for m in medians],
            )


def compare_seedings(images: np.ndarray, shapes: np.ndarray, config, starts: int) -> None:
    """Prints, for plain and greedy k-means++ seeding, how many of `starts` k-means starts on
    KMEANS_SAMPLE descriptors drawn by the config's seed put one shape in each cluster, and the
    least spread found, beside the spread of the partition by shape."""
    drawn = outline_clusters.kmeans_sample_indices(len(images), config.seed)
    points = outline_clusters.descriptors(images[drawn], config.outline_harmonics)
    shapes = shapes[drawn]

    def spread(ids: np.ndarray, num: int) -> float:
        return float(outline_clusters.centroids_and_spread(points, ids, num)[1])

    shape_spread = spread(shapes, len(SHAPES))
    print(f"{len(points)} descriptors; the partition by shape: spread {shape_spread:.1f}")
    for name, candidates in (("plain k-means++", 1), ("greedy k-means++", 0)):
        found = []
        for start in range(starts):
            ids = outline_clusters.kmeans(
                points, config.num_classes, seed=start, candidates=candidates
            )
            found.append(
                (spread(ids, config.num_classes), normalised_mutual_information(ids, shapes))
            )
        by_shape = sum(nmi > 0.98 for _, nmi in found)
        least, least_nmi = min(found)
        print(
            f"{name}: {by_shape} of {starts} starts put one shape in each cluster (NMI > 0.98); "
            f"least spread {least:.1f} (NMI {least_nmi:.3f}), "
            f"median {np.median([s for s, _ in found]):.1f}"
        )


if __name__ == "__main__":
    app.run(main)
