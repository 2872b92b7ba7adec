"""Controls of label accuracy: real test images read against their own, shuffled and shifted
shape labels, by the procedural_shapes evaluator.

    python -m gan.train_shapes_evaluator --data_dir=~/tensorflow_datasets   # once
    python -m experiments.label_accuracy_controls --num_images=1000

A conditional generator that draws what it is asked for behaves like the first row, one that
ignores its labels like the second (about 1/8), one that mixes the classes up like the third.
"""

import numpy as np
from absl import app, flags

from configs import cdcgan
from gan import parallel
from gan.evaluation import protocol

FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = cdcgan.get_config()
    images, labels = protocol.real_examples(config, "test", FLAGS.num_images)
    extractor = protocol.create_extractor("shapes", config)
    batches = (images[i : i + protocol.BATCH] for i in range(0, len(images), protocol.BATCH))
    outputs = protocol.extract(extractor, batches, parallel.create_mesh())
    controls = {
        "own shape": labels,
        "labels shuffled": np.random.default_rng(0).permutation(labels),
        "labels shifted by one shape": (labels + 1) % config.num_classes,
    }
    print(f"label accuracy of {len(images):,} real test images")
    print("| labels | label_accuracy | lowest per shape | highest per shape |")
    print("|---|---|---|---|")
    for name, given in controls.items():
        scores = protocol.compute_metrics(("label_accuracy",), {}, outputs, given, "shape")
        per_shape = [v for k, v in scores.items() if k.startswith("label_accuracy_")]
        print(
            f"| {name} | {scores['label_accuracy']:.3f} | {min(per_shape):.3f} | "
            f"{max(per_shape):.3f} |"
        )


if __name__ == "__main__":
    flags.DEFINE_integer("num_images", 1000, "Real test images.")
    app.run(main)
