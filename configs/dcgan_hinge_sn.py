"""DCGAN with a spectrally normalised discriminator and the hinge loss (Miyato et al. 2018).

    python -m gan.main --config=configs/dcgan_hinge_sn.py --workdir=runs/dcgan_hinge_sn

The "standard CNN" recipe of the SNGAN paper on the DCGAN networks: every conv of D is divided
by its largest singular value, which bounds D's Lipschitz constant without a penalty, and D has
no BatchNorm. Optimiser as DCGAN's (the paper's setting C). Everything else is
configs/dcgan_paper.py.
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
    return config
