"""Which classes of a class-conditional run on procedural_shapes fail the recognisability
measure: per class, its share of the training images, the fraction of its samples that pass,
the shapes they are recognised as and the median best fit.

    python -m experiments.class_recognisability --run=runs/dcgan --step=18000 --per_class=300 \
        --figure=class_failures.png

The whole-run figure (`gan.evaluate`) draws classes as often as they hold images and mixes
them; this one draws `per_class` samples of every class (noise seed 100 + class), so a class
that draws clean shapes and one that draws near misses show apart. `--figure` draws the first
failed and passed samples, the classes taken in turn, beside the foreground the measure finds
and the outline it fits best (`failure_analysis.draw_fits`).
"""

import pathlib

import jax.numpy as jnp
import numpy as np
from absl import app, flags

from experiments.failure_analysis import draw_fits, shapes_held
from gan.evaluation import recognisability
from gan.models import sampling
from gan.training import restore

flags.DEFINE_string("run", None, "Workdir of a class-conditional training run.")
flags.DEFINE_integer("step", None, "Checkpoint step; the latest by default.")
flags.DEFINE_integer("per_class", 300, "Samples drawn for each class.")
flags.DEFINE_string("figure", None, "Where to draw failed and passed samples (PNG).")
flags.mark_flags_as_required(["run"])
FLAGS = flags.FLAGS
NOISE_SEED = 100
BATCH = 100


def main(argv):
    del argv
    state = restore.restore_for_sampling(pathlib.Path(FLAGS.run), FLAGS.step)
    classes = sampling.generator_classes(state)
    if not classes:
        raise app.UsageError(f"{FLAGS.run} holds a generator of z alone, not of classes.")
    shares = sampling.class_shares(state)
    shares = np.full(classes, 1 / classes) if shares is None else np.asarray(shares)
    n = FLAGS.per_class
    print(f"{FLAGS.run} at step {int(state.step):,}; {n} samples per class")
    print("| class | share of images | recognisable | recognised as (>= 5%) | median best fit |")
    print("|---|---|---|---|---|")
    samples, overall = [], 0.0
    for label in range(classes):
        z = sampling.latent_noise(NOISE_SEED + label, n, state.generator.latent_dim)
        labels = jnp.full((n,), label, jnp.int32)
        drawn = np.concatenate(list(sampling.generate_batches(state, z, labels, BATCH)))
        fits = recognisability.shape_fits(drawn)
        passed = fits.max(1) >= recognisability.THRESHOLD
        counts = np.bincount(fits.argmax(1)[passed], minlength=len(recognisability.SHAPES))
        print(
            f"| {label} | {shares[label]:.1%} | {passed.mean():.1%} | {shapes_held(counts)} | "
            f"{np.median(fits.max(1)):.3f} |"
        )
        overall += shares[label] * passed.mean()
        samples.append(drawn)
    print(f"Weighted by the classes' shares: {overall:.1%} recognisable.")
    if FLAGS.figure:
        in_turn = np.stack(samples, axis=1).reshape(-1, *samples[0].shape[1:])  # class i % k
        draw_fits(in_turn, pathlib.Path(FLAGS.figure))


if __name__ == "__main__":
    app.run(main)
