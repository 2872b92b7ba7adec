"""SNGAN (Miyato et al. 2018): ResNet generator and spectrally normalised ResNet discriminator.

    python -m gan.main --config=configs/sngan_resnet.py --workdir=runs/sngan_resnet

The paper's CIFAR-10 recipe at 32x32: hinge loss, five D updates per G update (a step reads
5 x batch_size images), Adam with lr 2e-4, beta1 0 and beta2 0.9, widths 256 in G and 128 in
D (ngf = ndf = 64), z of length 128. G's weights are also averaged (EMA, decay 0.999) for
sampling, as most later ResNet GANs do. `--config.image_size=64` selects the 64 px networks.
Everything else is configs/dcgan_paper.py.
"""

import ml_collections

from configs import dcgan_paper


def get_config() -> ml_collections.ConfigDict:
    """DCGAN's keys, with these overrides."""
    config = dcgan_paper.get_config()
    config.model = "resnet"
    config.image_size = 32
    config.latent_dim = 128
    config.loss = "hinge"
    config.n_critic = 5
    config.learning_rate = 2e-4
    config.beta1 = 0.0
    config.beta2 = 0.9
    config.ema_decay = 0.999
    return config
