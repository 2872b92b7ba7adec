"""Trains the `procedural_shapes` evaluator (`gan.evaluation.shapes_evaluator`), saved by the data.

    python -m gan.train_shapes_evaluator --data_dir=~/tensorflow_datasets

Prints its per-factor accuracy on the test split, which is also stored with it: an FID in its
feature space and factor coverage are only as meaningful as these accuracies are high.
"""

import pathlib
import time

import tensorflow_datasets as tfds
from absl import app, flags

from gan.cli import entry_point
from gan.evaluation import shapes_evaluator

flags.DEFINE_string("data_dir", None, "tfds data dir holding (or to receive) the dataset.")
flags.DEFINE_string("dataset", "procedural_shapes", "procedural_shapes or procedural_shapes/tiny.")
flags.DEFINE_integer("num_train", 20_000, "Training images (the first ones of the train split).")
flags.DEFINE_integer("num_steps", 3_000, "Adam steps of 64 images.")
flags.DEFINE_string("out", None, "Output file; default DATA_DIR/" + shapes_evaluator.FILE_NAME)
FLAGS = flags.FLAGS


@entry_point
def main(argv):
    data_dir = FLAGS.data_dir or tfds.core.constants.DATA_DIR
    out = pathlib.Path(FLAGS.out) if FLAGS.out else shapes_evaluator.default_path(data_dir)
    tfds.builder(FLAGS.dataset, data_dir=data_dir).download_and_prepare()
    started = time.perf_counter()
    images, factors = shapes_evaluator.load_labelled(
        FLAGS.dataset, data_dir, f"train[:{FLAGS.num_train}]"
    )
    variables = shapes_evaluator.train(images, factors, FLAGS.num_steps)
    minutes = (time.perf_counter() - started) / 60
    accuracy = shapes_evaluator.factor_accuracy(
        variables, *shapes_evaluator.load_labelled(FLAGS.dataset, data_dir, "test")
    )
    metadata = {
        "dataset": FLAGS.dataset,
        "num_train": len(images),
        "num_steps": FLAGS.num_steps,
        "test_accuracy": accuracy,
    }
    shapes_evaluator.save(variables, metadata, out)
    shown = ", ".join(f"{name} {value:.3f}" for name, value in accuracy.items())
    print(f"Trained in {minutes:.1f} min; test accuracy: {shown}. Saved to {out}")


if __name__ == "__main__":
    app.run(main)
