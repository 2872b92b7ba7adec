"""Example sweep: the six GAN losses on the DCGAN networks, three seeds each.

    python -m experiments.sweep --sweep=experiments/loss_sweep.py --workdir=runs/loss_sweep
    python -m experiments.sweep --sweep=experiments/loss_sweep.py --workdir=runs/loss_sweep \\
        --print_commands

18 trials of 500 steps at 32x32 on the embedded dataset. wgan_gp needs its penalty and a D
without BatchNorm, so the sweep sets gp_weight and d_norm for every trial (the other losses
then train with the penalty too: compare recipes, not losses, with experiments/recipes.py).
"""

from experiments import sweep


def get_sweep() -> sweep.Sweep:
    return sweep.Sweep(
        config="configs/dcgan.py",
        axes={"loss": ["non_saturating", "minimax", "hinge", "wgan_gp", "lsgan", "relativistic"]},
        seeds=(0, 1, 2),
        overrides={"image_size": 32, "num_train_steps": 500, "gp_weight": 10.0, "d_norm": "layer"},
        primary_metric="g_loss",
    )
