"""Shows what the model will see, before any training time is spent.

    python -m gan.data --config=configs/dcgan.py
    python -m gan.data --config=configs/dcgan.py --dataset=folder:/path/to/images --out=real.png

Prints the number of images (and the files skipped as unreadable), the source and training
resolutions, channels, per-channel pixel mean/std after normalisation, and writes a grid of
the first training images in training order.
"""

import pathlib

from absl import app, flags
from ml_collections import config_flags

from gan import images
from gan.cli import entry_point, parse_flags
from gan.data.inspect import describe

config_flags.DEFINE_config_file("config", "configs/dcgan.py", "Training config file.")
flags.DEFINE_string("dataset", None, "Overrides config.dataset (tfds name, folder:, npz:).")
flags.DEFINE_string("out", "data_preview.png", "Where to write the grid of training images.")
flags.DEFINE_integer("num_stats_images", 2048, "Images the pixel statistics are taken over.")
FLAGS = flags.FLAGS


@entry_point
def main(argv):
    config = FLAGS.config
    if FLAGS.dataset:
        config.dataset = FLAGS.dataset
    lines, grid_images = describe(config, FLAGS.num_stats_images)
    images.save_png(images.make_grid(grid_images), pathlib.Path(FLAGS.out))
    print("\n".join(lines + [f"wrote the first {len(grid_images)} training images to {FLAGS.out}"]))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
