"""WGAN-GP's objective (Gulrajani et al. 2017) on the default recipe.

    python -m gan.main --config=configs/wgan_gp.py --workdir=runs/wgan_gp

D is a critic estimating the Wasserstein distance; the gradient penalty (lambda = 10, on
random points between real and generated images of the same class) keeps it close to
1-Lipschitz, in place of the default's R1. One critic update per G update, the critic at twice
G's learning rate as in the default (the two time-scale rule speeds D by its learning rate, not
by the paper's five updates), so a step costs 1.6x the default's. Everything else is
configs/dcgan.py but the budget and the outline clusters of the map alone, with which it was
measured: this loss learns the outlines later, 67.0% of 1,000 samples recognisable at the
default's 18,000 steps and 84.1% at its own 30,000 (the hexagon, which those clusters do not
tell from the circle, only 4.5% of those), FID 2,752 in the evaluator's feature space (the
default on the same clusters 1,526) on greyer backgrounds.
The paper's recipe is configs/dcgan_paper.py with the overrides of docs/recipes.md, "WGAN-GP
and the SNGAN ResNets on the default recipe".
"""

import ml_collections

from configs import dcgan


def get_config() -> ml_collections.ConfigDict:
    """The default recipe's keys, with these overrides."""
    config = dcgan.get_config()
    config.loss = "wgan_gp"
    config.gp_weight = 10.0
    config.r1_gamma = 0.0
    config.r1_interval = 1
    config.num_train_steps = 30_000
    # Measured on the map's outline clusters alone, before the default took the harmonics;
    # kept there until this recipe is run again (docs/recipes.md).
    config.outline_harmonics = 0.0
    return config
