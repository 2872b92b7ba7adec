"""DCGAN with a spectrally normalised discriminator and the hinge loss (Miyato et al. 2018).

    python -m gan.main --config=configs/dcgan_hinge_sn.py --workdir=runs/dcgan_hinge_sn

The "standard CNN" recipe of the SNGAN paper on the DCGAN networks: every conv of D is divided
by its largest singular value, which bounds D's Lipschitz constant without a penalty, and D has
no BatchNorm. Optimiser as DCGAN's (the paper's setting C), except that D learns at twice G's
rate: at one rate this D, a DCGAN D four convs deep, is too weak for the hinge game on the
embedded data and G collapses onto two colours at a time (docs/recipes.md). Everything else
is configs/dcgan_paper.py.
"""

import ml_collections

from configs import dcgan_paper


def get_config() -> ml_collections.ConfigDict:
    """DCGAN's keys, with these overrides."""
    config = dcgan_paper.get_config()
    config.loss = "hinge"
    config.d_spectral_norm = True
    # Spectral normalisation replaces BatchNorm in SNGAN's discriminators.
    config.d_norm = "none"
    # Two time-scale update (Heusel et al. 2017): at 2e-4, after 3,000 steps, D is right on 69%
    # of the real images and 41% of G's, and G's colours hop from pair to pair; at 4e-4 D is
    # right on 90% of the real ones and G keeps every colour.
    config.d_learning_rate = 4e-4
    return config
