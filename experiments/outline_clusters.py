"""What the outline clusters of a config's training images hold: each cluster's size, its
normalised mutual information with every factor of the embedded data, and the shapes in each
(those of at least 5% of it).

    python -m experiments.outline_clusters --config=configs/dcgan.py

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
    clusters = pipeline.prepare(config).source.labels
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


if __name__ == "__main__":
    app.run(main)
