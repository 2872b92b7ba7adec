"""Trains a GAN: `python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan`.

Running the same command again resumes from the newest checkpoint in the workdir. Any config
key can be overridden, e.g. `--config.num_epochs=10 --config.batch_size=128`.
"""

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from gan import train
from gan.cli import entry_point, parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for checkpoints, samples and logs.")
config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


@entry_point
def main(argv):
    logging.info(
        "Process %d of %d; devices: %s", jax.process_index(), jax.process_count(), jax.devices()
    )
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
