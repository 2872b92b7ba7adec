"""The recipe reproduction (experiments/recipes.py) at toy scale, to check it end to end.

    python -m experiments.sweep --sweep=experiments/recipes_smoke.py --workdir=/tmp/recipes_smoke

Every recipe, two seeds, 20 steps of batch 8 with narrow networks on the 512-image `tiny`
variant of the embedded dataset: minutes on a CPU. The numbers say nothing about the recipes.
"""

from experiments import recipes, sweep


def get_sweep() -> sweep.Sweep:
    return sweep.Sweep(
        config=recipes.RECIPES[0],
        axes={"config": list(recipes.RECIPES)},
        seeds=(0, 1),
        overrides={
            "dataset": "procedural_shapes/tiny",
            "image_size": 32,
            "latent_dim": 16,
            "ngf": 8,
            "ndf": 8,
            "batch_size": 8,
            "num_train_steps": 20,
            "log_every_steps": 10,
            "sample_every_steps": 20,
            "checkpoint_every_steps": 20,
        },
        primary_metric="d_loss",
    )
