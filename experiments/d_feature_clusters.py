"""Do a run's discriminator features group real images by shape? A test of self-conditioning.

    python -m experiments.d_feature_clusters --run=runs/dcgan --step=3000

A self-conditioned GAN (Liu et al. 2020) clusters D's features of real images with k-means and
conditions G and D on the cluster ids, as a conditional GAN does on labels. On procedural_shapes
that could only stand in for the shape labels with which `configs/cdcgan.py` reaches 80%
recognisable if D's clusters follow the shape. This clusters D's features of real training
images (evaluation mode, each stage's map averaged over positions, and the last map whole) and
prints the normalised mutual information (NMI, 0: independent, 1: the same partition) of the
clusters with each ground-truth factor, beside two baselines: 16x16 pixel averages (what no
learning gives), and the shape evaluator's 256-d features and shape probabilities (a positive
control: features known to hold the shape, which shows the clustering finds shape groups where
they exist).
"""

import pathlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from gan import parallel
from gan.evaluation import protocol, shapes_evaluator
from gan.models import dcgan
from gan.models.outline_clusters import kmeans
from gan.training import restore

FLAGS = flags.FLAGS
BATCH = 500


def normalised_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """NMI of two labellings, 2 I(a; b) / (H(a) + H(b))."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0 / len(a))

    def entropy(p):
        p = p[p > 0]
        return -(p * np.log(p)).sum()

    h_a, h_b = entropy(joint.sum(1)), entropy(joint.sum(0))
    return float(2 * (h_a + h_b - entropy(joint.ravel())) / (h_a + h_b))


def discriminator_intermediates(state, images: np.ndarray) -> Iterator[dict[str, jax.Array]]:
    """What D sows (its stage maps; a self-conditioned D's clusters) for uint8 `images`, batch
    by batch: evaluation mode, each image judged by itself."""
    variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}

    @jax.jit
    def sown(batch):
        _, out = state.discriminator.apply(
            variables,
            dcgan.judged_alone(state.discriminator, batch),
            train=False,
            mutable=["intermediates"],
        )
        return {name: value[0] for name, value in out["intermediates"].items()}

    for start in range(0, len(images), BATCH):
        yield sown(jnp.asarray(images[start : start + BATCH], jnp.float32) / 127.5 - 1.0)


def discriminator_features(state, images: np.ndarray) -> dict[str, np.ndarray]:
    """Each stage's feature map of D averaged over positions, and the last map flattened."""
    features = {}
    for maps in discriminator_intermediates(state, images):
        # Stage maps only, not a self-conditioned D's cluster ids.
        stages = [name for name in maps if maps[name].ndim == 4]
        by_stage = sorted(stages, key=lambda name: -maps[name].shape[1])  # 32x32 first
        for name in by_stage:
            value = maps[name]
            features.setdefault(f"D {name}, averaged", []).append(np.asarray(value.mean((1, 2))))
        last = np.asarray(maps[by_stage[-1]])
        features.setdefault(f"D {by_stage[-1]}, whole", []).append(last.reshape(len(last), -1))
    return {name: np.concatenate(parts) for name, parts in features.items()}


def shapes_evaluator_outputs(config, state, images: np.ndarray) -> dict[str, np.ndarray]:
    """The shape evaluator's outputs (features, each factor's logits) for uint8 `images`, on
    the devices of `state`'s mesh."""
    extractor = protocol.create_extractor("shapes", config)
    batches = (images[i : i + BATCH] for i in range(0, len(images), BATCH))
    return protocol.extract(extractor, batches, parallel.mesh_of(state))


def evaluator_outputs(config, state, images: np.ndarray) -> dict[str, np.ndarray]:
    """The shape evaluator's 256-d features and its shape head's probabilities."""
    outputs = shapes_evaluator_outputs(config, state, images)
    return {
        "shape evaluator's features": outputs["features"],
        "shape evaluator's shape probabilities (positive control)": np.asarray(
            jax.nn.softmax(outputs["logits_shape"])
        ),
    }


def prepared(features: np.ndarray) -> np.ndarray:
    """Unit-length rows (k-means on directions: D's feature scale drifts during training),
    projected on their 128 principal directions when wider, to keep k-means fast."""
    features = features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-8)
    if features.shape[1] > 128:
        centred = features - features.mean(0)
        _, _, directions = np.linalg.svd(centred, full_matrices=False)
        features = centred @ directions[:128].T
    return features


def main(argv):
    del argv
    run = pathlib.Path(FLAGS.run)
    state = restore.restore_for_sampling(run, FLAGS.step)
    config = restore.load_run_config(run)
    images, factors = shapes_evaluator.load_labelled(
        config.dataset, str(protocol.data_dir_of(config)), f"train[:{FLAGS.num_images}]"
    )
    features = discriminator_features(state, images)
    features["16x16 pixel averages (baseline)"] = (
        images.reshape(-1, 16, 4, 16, 4, 3).mean((2, 4)).reshape(len(images), -1)
    )
    features.update(evaluator_outputs(config, state, images))
    names = list(shapes_evaluator.FACTOR_SIZES)
    print(
        f"{FLAGS.run} at step {FLAGS.step:,}: NMI of k-means clusters of {len(images):,} "
        "training images with each factor"
    )
    print("| features | k | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for name, values in features.items():
        points = prepared(values.astype(np.float64))
        for k in FLAGS.clusters:
            ids = kmeans(points, int(k))
            scores = [normalised_mutual_information(ids, factors[:, i]) for i in range(len(names))]
            print(f"| {name} | {k} | " + " | ".join(f"{s:.3f}" for s in scores) + " |", flush=True)


if __name__ == "__main__":
    flags.DEFINE_string("run", None, "Workdir of an unconditional run.", required=True)
    flags.DEFINE_integer("step", None, "Checkpointed step whose D is clustered.", required=True)
    flags.DEFINE_integer("num_images", 4000, "Training images clustered.")
    flags.DEFINE_list("clusters", ["8", "32"], "Numbers of clusters k.")
    app.run(main)
