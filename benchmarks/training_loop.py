"""Measures what the training loop costs on top of the bare train step, in one run.

    python -m benchmarks.training_loop --config=configs/dcgan.py --steps=300

First the jitted train step alone, exactly as `benchmarks.train_step` times it (images/s of a
fixed batch, compilation and warm-up excluded). Then `train.train_and_evaluate` itself on
the config's dataset, in a temporary workdir, for `--steps` steps with the trace, TensorBoard,
sample grids and checkpoints every `--every` steps (more often than the defaults, so the figure
is pessimistic). The loop's images/s is read from its own trace.csv: from the first report to
the last, so compilation and the one-time data preparation are left out. Ends with
`step_img_per_s=... loop_img_per_s=... overhead=...%`; the overhead is how much slower the
loop runs than the bare step.
"""

import csv
import pathlib
import tempfile

from absl import app, flags
from ml_collections import config_flags

from benchmarks import timing
from gan.cli import entry_point, parse_flags
from gan.training import train, validation

config_flags.DEFINE_config_file(
    "config", "configs/dcgan.py", "Config file of the run to time.", lock_config=True
)
flags.DEFINE_integer("steps", 300, "Training steps of the loop.", lower_bound=2)
flags.DEFINE_integer("every", 100, "Steps between reports, sample grids and checkpoints.")
FLAGS = flags.FLAGS


def loop_img_per_s(config, workdir: pathlib.Path) -> float:
    """Trains `config` into `workdir` and returns images/s between its first and last report."""
    train.train_and_evaluate(config, str(workdir))
    with open(workdir / "trace.csv") as f:
        rows = list(csv.DictReader(f))
    first, last = rows[0], rows[-1]
    steps = int(last["step"]) - int(first["step"])
    seconds = float(last["elapsed_s"]) - float(first["elapsed_s"])
    return steps * config.batch_size / seconds


@entry_point
def main(argv):
    config = FLAGS.config
    config.num_train_steps = FLAGS.steps
    config.log_every_steps = config.sample_every_steps = FLAGS.every
    config.checkpoint_every_steps = FLAGS.every
    validation.validate_config(config)
    _, step_s = timing.time_jax(config, warmup=2, steps=10, repeats=3)
    step_img_per_s = config.batch_size / step_s
    print(f"bare step: {step_img_per_s:.1f} img/s")
    with tempfile.TemporaryDirectory() as workdir:
        loop = loop_img_per_s(config, pathlib.Path(workdir))
    print(f"training loop ({FLAGS.steps} steps, everything every {FLAGS.every}): {loop:.1f} img/s")
    overhead = 100 * (step_img_per_s / loop - 1)
    print(f"step_img_per_s={step_img_per_s:.1f} loop_img_per_s={loop:.1f} overhead={overhead:.1f}%")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
