"""WGAN-GP (Gulrajani et al. 2017) on the DCGAN networks.

    python -m gan.main --config=configs/wgan_gp.py --workdir=runs/wgan_gp

D is a critic estimating the Wasserstein distance; the gradient penalty keeps it close to
1-Lipschitz. The paper's settings: lambda = 10, five critic updates per generator update (each
on its own batch, so a step reads 5 x batch_size images), Adam with lr 1e-4, beta1 0 and
beta2 0.9, and layer normalisation instead of BatchNorm in the critic (the penalty is defined
per image). Everything else is configs/dcgan_paper.py.
"""

import ml_collections

from configs import dcgan_paper


def get_config() -> ml_collections.ConfigDict:
    """DCGAN's keys, with these overrides."""
    config = dcgan_paper.get_config()
    config.loss = "wgan_gp"
    config.gp_weight = 10.0
    config.n_critic = 5
    config.d_norm = "layer"
    config.learning_rate = 1e-4
    config.beta1 = 0.0
    config.beta2 = 0.9
    return config
