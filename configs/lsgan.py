"""LSGAN (Mao et al. 2017) on the DCGAN networks.

    python -m gan.main --config=configs/lsgan.py --workdir=runs/lsgan

D regresses real images to 1 and generated ones to 0 with a squared error, and G pulls D's
output on its images towards 1: the squared error keeps penalising generated images that are
already on the real side of the decision boundary, so G's gradient does not vanish there.
Optimiser and networks as configs/dcgan_paper.py.
"""

import ml_collections

from configs import dcgan_paper


def get_config() -> ml_collections.ConfigDict:
    """DCGAN's keys, with these overrides."""
    config = dcgan_paper.get_config()
    config.loss = "lsgan"
    return config
