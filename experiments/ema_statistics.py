"""Which weights and BatchNorm statistics G should sample from: one run's checkpoints, three ways.

    python -m gan.main --config=configs/dcgan.py --workdir=runs/dcgan   # any run with ema_decay
    python -m experiments.ema_statistics --run=runs/dcgan --steps=16000,18000 --num_samples=1000

Per checkpoint, the recognisable share and mean shape fit of `num_samples` fixed-noise samples
from (a) the trained weights with their running BatchNorm statistics, (b) the EMA weights with
those same running statistics, (c) the EMA weights with statistics measured on the EMA weights
(`gan.models.sampling.inference_variables`, what sampling uses). Training is the same in all
three, so the rows differ only in what G samples with.
"""

import pathlib

import numpy as np
from absl import app, flags

from gan.evaluation import protocol, recognisability
from gan.training import restore, train

FLAGS = flags.FLAGS


def scores(state: train.TrainState, num_samples: int) -> dict:
    pictures = np.concatenate(list(protocol.generated_batches(state, num_samples, seed=0)))
    return recognisability.summarise(recognisability.shape_fits(pictures))


def main(argv):
    del argv
    print(f"{FLAGS.run}, {FLAGS.num_samples:,} samples per row (noise seed 0)")
    print("| step | sampled from | recognisable | mean shape fit |")
    print("|---|---|---|---|")
    for step in FLAGS.steps:
        state = restore.restore_for_sampling(pathlib.Path(FLAGS.run), int(step))
        if state.g_ema_params is None:
            raise app.UsageError(f"{FLAGS.run} keeps no EMA of G (its ema_decay is 0).")
        # (b): a state whose "trained" weights are the EMA, so sampling keeps the running stats.
        variants = {
            "trained weights, running statistics": state.replace(g_ema_params=None),
            "EMA weights, running statistics": state.replace(
                g_params=state.g_ema_params, g_ema_params=None
            ),
            "EMA weights, statistics measured on them": state,
        }
        for name, variant in variants.items():
            result = scores(variant, FLAGS.num_samples)
            print(
                f"| {int(step):,} | {name} | {result['recognisable']:.1%} | "
                f"{result['shape_fit']:.3f} |",
                flush=True,
            )


if __name__ == "__main__":
    flags.DEFINE_string("run", None, "Workdir of a training run with ema_decay > 0.", required=True)
    flags.DEFINE_list("steps", None, "Checkpointed steps to score.", required=True)
    flags.DEFINE_integer("num_samples", 1000, "Fixed-noise samples per row.")
    app.run(main)
