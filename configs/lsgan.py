"""LSGAN's objective (Mao et al. 2017) on the default recipe.

    python -m gan.main --config=configs/lsgan.py --workdir=runs/lsgan

D regresses real images to 1 and generated ones to 0 with a squared error, and G pulls D's
output on its images towards 1: the squared error keeps penalising generated images that are
already on the real side of the decision boundary, so G's gradient does not vanish there.
Everything else is configs/dcgan.py, so that the two compare the loss alone. On the paper's
recipe (configs/dcgan_paper.py with `--config.loss=lsgan`) the same loss had 9.0% of its
samples recognisable at step 7,500 of 7,813: D wins from the start and the squared error
pulls G slowly (docs/recipes.md, "LSGAN at 64x64").
"""

import ml_collections

from configs import dcgan


def get_config() -> ml_collections.ConfigDict:
    """The default recipe's keys, with these overrides."""
    config = dcgan.get_config()
    config.loss = "lsgan"
    return config
