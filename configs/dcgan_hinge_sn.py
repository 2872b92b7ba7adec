"""The hinge loss and a spectrally normalised D (Miyato et al. 2018) on the default recipe.

    python -m gan.main --config=configs/dcgan_hinge_sn.py --workdir=runs/dcgan_hinge_sn

SNGAN's regularisation in place of the default's: every conv of D, and its class embedding,
is divided by its largest singular value, which bounds D's Lipschitz constant without a
penalty, so D has neither layer normalisation nor R1. D learns at twice G's rate, as in the
default: on the paper's recipe at one rate a spectrally normalised DCGAN D is too weak for the
hinge game on the embedded data and G collapses onto two colours at a time (docs/recipes.md,
"The two recipes that collapsed"). Everything else is configs/dcgan.py. 82.6% of 1,000
samples recognisable at step 18,000 (the default: 89.2%), every shape at least 7.9% of them,
but on greyer, plainer backgrounds than the data's: FID 7,823 in the evaluator's feature
space against the default's 1,416 (docs/recipes.md, "LSGAN and the hinge loss on the
default recipe").
"""

import ml_collections

from configs import dcgan


def get_config() -> ml_collections.ConfigDict:
    """The default recipe's keys, with these overrides."""
    config = dcgan.get_config()
    config.loss = "hinge"
    config.d_spectral_norm = True
    config.d_norm = "none"
    config.r1_gamma = 0.0
    config.r1_interval = 1
    return config
