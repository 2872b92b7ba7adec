"""The README's scaling table: train-step images/s against batch and image size, beside PyTorch.

    python -m benchmarks.scaling --config=configs/dcgan.py --config.compute_dtype=bfloat16

Every point is one `python -m benchmarks.train_step ... --compare-torch` run in its own process
(JAX and PyTorch timed one after the other in that process, so each ratio compares the two in
the same sitting), for `--batch_sizes` at `--image_size` and for `--image_sizes` at
`--batch_size`. Prints one Markdown table row per point. Other flags, such as `--config.KEY`
overrides and `--steps`, are passed on to every run.
"""

import re
import subprocess
import sys

from absl import app, flags

flags.DEFINE_list("batch_sizes", ["16", "64", "256"], "Batch sizes timed at --image_size.")
flags.DEFINE_list("image_sizes", ["32", "64", "128"], "Image sizes timed at --batch_size.")
flags.DEFINE_integer("batch_size", 64, "Batch of the image-size points.")
flags.DEFINE_integer("image_size", 64, "Image size of the batch-size points.")
FLAGS = flags.FLAGS

RATIO_LINE = re.compile(r"img_per_s=([\d.]+) torch_img_per_s=([\d.]+) ratio=([\d.]+)")


def time_point(batch_size: int, image_size: int, passed_on: list[str]) -> tuple[str, ...]:
    """Runs the train-step benchmark at one point; returns the table cells of its figures."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.train_step",
        f"--batch_size={batch_size}",
        f"--image_size={image_size}",
        "--compare-torch",
        *passed_on,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    ours, theirs, ratio = RATIO_LINE.search(output).groups()
    return str(batch_size), f"{image_size}x{image_size}", ours, theirs, ratio


def main(argv):
    passed_on = argv[1:]
    points = [(int(b), FLAGS.image_size) for b in FLAGS.batch_sizes]
    points += [(FLAGS.batch_size, int(s)) for s in FLAGS.image_sizes]
    print("| batch | image | this project, img/s | PyTorch fp32, img/s | ratio |")
    print("|---|---|---|---|---|")
    for batch_size, image_size in dict.fromkeys(points):  # each point once, in order
        print("| " + " | ".join(time_point(batch_size, image_size, passed_on)) + " |", flush=True)


if __name__ == "__main__":
    # Unknown flags (--config, --config.KEY=VALUE, --steps, ...) belong to benchmarks.train_step.
    app.run(main, flags_parser=lambda argv: FLAGS(argv, known_only=True))
