"""WGAN-GP's objective (Gulrajani et al. 2017) on the default recipe.

    python -m gan.main --config=configs/wgan_gp.py --workdir=runs/wgan_gp

D is a critic estimating the Wasserstein distance; the gradient penalty (lambda = 10) keeps it
close to 1-Lipschitz, in place of the default's R1.
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
    return config
