"""Reproduction: every recipe of configs/ trained with the same budget on the embedded data.

    python -m gan.train_shapes_evaluator --data_dir=~/tensorflow_datasets   # once, for scoring
    python -m experiments.sweep --sweep=experiments/recipes.py --workdir=runs/recipes

Each recipe keeps its own loss, regularisers, optimiser, architecture and conditioning; the
budget, data and resolution are the same for all: 32x32 procedural_shapes, batch 64, 500
generator steps, two seeds. Each trial is scored at its last step
(evaluation during training: FID in the procedural_shapes evaluator's feature space and factor
coverage, 2,000 generated and 2,000 real images), so WORKDIR/summary.md comes out sorted by FID.
WORKDIR/<trial>/samples/ holds the sample grids (the last one from the EMA weights where the
recipe keeps them).
"""

from experiments import sweep

RECIPES = (
    "configs/dcgan.py",
    "configs/dcgan_unconditional.py",
    "configs/dcgan_hinge_sn.py",
    "configs/wgan_gp.py",
    "configs/lsgan.py",
    "configs/sngan_resnet.py",
    "configs/cdcgan.py",
)
NUM_TRAIN_STEPS = 500


def get_sweep() -> sweep.Sweep:
    return sweep.Sweep(
        config=RECIPES[0],
        axes={"config": list(RECIPES)},
        seeds=(0, 1),
        overrides={
            "image_size": 32,
            "num_train_steps": NUM_TRAIN_STEPS,
            "sample_every_steps": NUM_TRAIN_STEPS // 2,
            # Often enough that a stopped trial resumes with little lost.
            "checkpoint_every_steps": NUM_TRAIN_STEPS // 10,
            "eval_every_steps": NUM_TRAIN_STEPS,
            "num_eval_samples": 2_000,
            "eval_metrics": "fid,coverage",
        },
        primary_metric="eval/fid",
    )
