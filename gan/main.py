"""Trains a GAN: `python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan`.

Running the same command again resumes from the newest checkpoint in the workdir. Any config
key can be overridden, e.g. `--config.num_epochs=10 --config.batch_size=128`.

Several processes (hosts, or one process per GPU) train one model when each runs the same
command with `--distributed`; see the README's "Scaling out" for GPU nodes, SLURM clusters and
Cloud TPU pod slices.
"""

from absl import app, flags
from ml_collections import config_flags

from gan.cli import define_distributed_flags, entry_point, parse_flags, start_distributed
from gan.training import train

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for checkpoints, samples and logs.")
config_flags.DEFINE_config_file("config", None, "Training config file.", lock_config=True)
define_distributed_flags()
flags.mark_flags_as_required(["config", "workdir"])


@entry_point
def main(argv):
    start_distributed()
    train.train_and_evaluate(FLAGS.config, FLAGS.workdir)


def run() -> None:
    """The `gan-train` console script."""
    app.run(main, flags_parser=parse_flags)


if __name__ == "__main__":
    run()
