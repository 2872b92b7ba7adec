"""Reproduction: every recipe of configs/ trained with the same budget on the embedded data.

    python -m experiments.sweep --sweep=experiments/recipes.py --workdir=runs/recipes

Each recipe keeps its own loss, regularisers, optimiser and architecture; the budget, data and
resolution are the same for all: 32x32 procedural_shapes, batch 64, 2,000 generator steps, two
seeds. WORKDIR/summary.md is the table and WORKDIR/<trial>/samples/ the sample grids (the last
one is from the EMA weights where the recipe keeps them). Score every trial, then rerun the sweep
command to sort the table by FID:

    for d in runs/recipes/*/; do python -m gan.evaluate --workdir=$d --metrics=fid,kid; done
"""

from experiments import sweep

RECIPES = (
    "configs/dcgan.py",
    "configs/dcgan_hinge_sn.py",
    "configs/wgan_gp.py",
    "configs/lsgan.py",
    "configs/sngan_resnet.py",
)


def get_sweep() -> sweep.Sweep:
    return sweep.Sweep(
        config=RECIPES[0],
        axes={"config": list(RECIPES)},
        seeds=(0, 1),
        overrides={
            "image_size": 32,
            "num_train_steps": 2_000,
            "sample_every_steps": 500,
            "checkpoint_every_steps": 500,
        },
        primary_metric="eval/fid",  # from eval.jsonl once every trial is scored
    )
