"""LSGAN's objective (Mao et al. 2017) on the default recipe.

    python -m gan.main --config=configs/lsgan.py --workdir=runs/lsgan

D regresses real images to 1 and generated ones to 0 with a squared error, and G pulls D's
output on its images towards 1: the squared error keeps penalising generated images that are
already on the real side of the decision boundary, so G's gradient does not vanish there.
Everything else is configs/dcgan.py, so that the two compare the loss alone: 91.2% of 1,000
samples recognisable at step 18,000, every shape at least 10.1% of them (the default: 89.2 and
89.1% over two seeds), FID 1,628 in the evaluator's feature space (the default 1,416), after a
later start. On the paper's
recipe (configs/dcgan_paper.py with `--config.loss=lsgan`) the same loss had 9.0% at step
7,500 of 7,810 (docs/recipes.md, "LSGAN and the hinge loss on the default recipe").
"""

import ml_collections

from configs import dcgan


def get_config() -> ml_collections.ConfigDict:
    """The default recipe's keys, with these overrides."""
    config = dcgan.get_config()
    config.loss = "lsgan"
    return config
